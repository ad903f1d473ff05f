"""tallynet bench: what it times, the PyTorch twin's loss check, and bad input."""

import json

import pytest

import tallynet
from tallynet.cli import main

SPEC = "homework3-q1"  # a small softmax CNN without dropout


def _run(capsys, *args):
    code = main(["bench", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bench_alone_reports_every_batch_and_kind(capsys):
    before = tallynet.get_num_threads()
    code, out, _ = _run(capsys, SPEC, "--batch", "3", "5", "--repeats", "3", "--threads", "1", "--no-torch")
    assert code == 0
    data = json.loads(out.splitlines()[-1])
    assert [r["batch"] for r in data["results"]] == [3, 5]
    assert data["threads"] == 1 and data["pytorch"] is None
    for r in data["results"]:
        assert "pytorch" not in r
        for kind in ("step", "forward"):
            t = r["tallynet"][kind]
            assert 0 < t["q1_ms"] <= t["median_ms"] <= t["q3_ms"]
        # images per second is the batch over the median step, as printed
        assert r["tallynet"]["images_per_second"] == pytest.approx(r["batch"] / (r["tallynet"]["step"]["median_ms"] / 1e3),
                                                                    rel=1e-3)
    assert tallynet.get_num_threads() == before  # the thread setting is the caller's again


def test_bench_checks_the_pytorch_twin_gives_the_same_first_loss(capsys):
    pytest.importorskip("torch")
    code, out, _ = _run(capsys, SPEC, "--batch", "4", "--repeats", "2")
    assert code == 0
    r = json.loads(out.splitlines()[-1])["results"][0]
    assert r["loss_match"] is True
    assert r["first_step_loss"]["tallynet"] == pytest.approx(r["first_step_loss"]["pytorch"], rel=1e-4)
    for kind in ("step", "forward"):
        assert r[f"ratio_{kind}"] == pytest.approx(r["tallynet"][kind]["median_ms"] / r["pytorch"][kind]["median_ms"],
                                                   rel=1e-2)


def test_bench_refuses_to_compare_different_networks(capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    import tallynet.torch_bridge as bridge
    real = bridge.to_torch

    def perturbed(model):  # a twin whose first weights are not the model's
        net = real(model)
        with torch.no_grad():
            next(net.parameters()).mul_(3.0)
        return net
    monkeypatch.setattr(bridge, "to_torch", perturbed)
    code, out, err = _run(capsys, SPEC, "--batch", "4", "--repeats", "1")
    assert code == 1
    assert "MISMATCH" in out and "compare different networks" in err


def test_bench_does_not_compare_losses_through_dropout(capsys):
    pytest.importorskip("torch")
    code, out, _ = _run(capsys, "examples/digits-cnn.yaml", "--batch", "4", "--repeats", "1")
    assert code == 0
    assert json.loads(out.splitlines()[-1])["results"][0]["loss_match"] is None
    assert "not compared: dropout masks differ" in out


def test_bench_bad_input_is_a_clear_error(capsys, tmp_path):
    spec = tmp_path / "regression.yaml"
    spec.write_text("input: [4]\nlayers:\n  - affine: {units: 2}\nloss: mse\n")
    code, _, err = _run(capsys, str(spec), "--batch", "2", "--repeats", "1", "--no-torch")
    assert code == 2 and "loss is 'mse'" in err
    code, _, err = _run(capsys, "no-such-spec", "--no-torch")
    assert code == 2 and "no-such-spec" in err
    with pytest.raises(SystemExit):
        main(["bench", SPEC, "--batch", "0"])
    assert "--batch: must be an integer >= 1, got 0" in capsys.readouterr().err


def test_bench_function_checks_its_arguments():
    from tallynet.bench import bench
    for kwargs, name in (({"threads": 0}, "threads"), ({"repeats": 1.5}, "repeats"), ({"batches": ()}, "batches"),
                         ({"batches": (4, -1)}, "batches")):
        with pytest.raises(ValueError, match=name):
            bench(SPEC, use_torch=False, **kwargs)
