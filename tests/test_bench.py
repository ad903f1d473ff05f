"""tallynet bench: what it times, the PyTorch twin's loss check, and bad input."""

import json
import os
import platform

import numpy as np
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
    code, out, _ = _run(capsys, SPEC, "--batch", "3", "5", "--repeats", "3", "--rounds", "2", "--threads", "1",
                        "--no-torch")
    assert code == 0
    data = json.loads(out.splitlines()[-1])
    assert [r["batch"] for r in data["results"]] == [3, 5]
    assert data["threads"] == 1 and data["pytorch"] is None and data["rounds"] == 2
    for r in data["results"]:
        assert "pytorch" not in r
        for kind in ("step", "forward"):
            t = r["tallynet"][kind]
            assert 0 < t["q1_ms"] <= t["median_ms"] <= t["q3_ms"]
        # images per second is the batch over the median step, as printed
        assert r["tallynet"]["images_per_second"] == pytest.approx(r["batch"] / (r["tallynet"]["step"]["median_ms"] / 1e3),
                                                                    rel=1e-3)
    assert tallynet.get_num_threads() == before  # the thread setting is the caller's again
    # the machine as the ratios depend on it: its CPU, and NumPy's BLAS where threadpoolctl can tell
    assert data["machine"].startswith(f"{platform.machine()}, {os.cpu_count()} cores, ")
    blas = next((lib for lib in _threadpool_info() if lib.get("user_api") == "blas"), None)
    if blas is not None:
        assert blas["version"] in data["blas"] and f"NumPy {np.__version__}, its BLAS {data['blas']}" in out


def _threadpool_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # comes with scikit-learn; bench then names no BLAS
        return []
    return threadpool_info()


def test_bench_checks_the_pytorch_twin_gives_the_same_first_loss(capsys):
    pytest.importorskip("torch")
    code, out, _ = _run(capsys, SPEC, "--batch", "4", "--repeats", "2", "--rounds", "2")
    assert code == 0
    r = json.loads(out.splitlines()[-1])["results"][0]
    rounds = r["ratio_step_rounds"]
    assert rounds["min"] <= rounds["median"] <= rounds["max"]
    assert r["loss_match"] is True
    assert r["first_step_loss"]["tallynet"] == pytest.approx(r["first_step_loss"]["pytorch"], rel=1e-4)
    for reference, suffix in (("pytorch", ""), ("pytorch-channels-last", "_channels_last")):
        # PyTorch runs twice, in NCHW and in channels_last memory: the same network, the same loss
        assert r["first_step_loss"]["tallynet"] == pytest.approx(r["first_step_loss"][reference], rel=1e-4)
        for kind in ("step", "forward"):
            assert r[f"ratio_{kind}{suffix}"] == pytest.approx(
                r["tallynet"][kind]["median_ms"] / r[reference][kind]["median_ms"], rel=1e-2)
    assert "NCHW and channels_last" in out


def test_bench_times_pytorch_in_nchw_only_when_asked_or_for_vectors(capsys):
    pytest.importorskip("torch")
    for args in ((SPEC, "--no-channels-last"), ("benchmarks/fcnet-3072.yaml",)):
        code, out, _ = _run(capsys, *args, "--batch", "2", "--repeats", "1", "--rounds", "1")
        assert code == 0
        r = json.loads(out.splitlines()[-1])["results"][0]
        assert "pytorch" in r and "pytorch-channels-last" not in r and "ratio_step_channels_last" not in r


def test_bench_refuses_to_compare_different_networks(capsys, monkeypatch):
    from tallynet import bench as bench_module

    def run(library, spec, batch, repeats, threads):  # a "PyTorch" whose first loss is not the model's
        times = {"step": [0.01] * repeats, "forward": [0.005] * repeats}
        return {"first_step_loss": 2.3 if library == "tallynet" else 2.9, "dropout": False, **times}
    monkeypatch.setattr(bench_module, "_torch_version", lambda: "2.13.0")
    real = bench_module.bench_batch
    monkeypatch.setattr(bench_module, "bench_batch", lambda *a, **k: real(*a, **k, run=run))
    code, out, err = _run(capsys, SPEC, "--batch", "4", "--repeats", "1", "--rounds", "1")
    assert code == 1
    assert "MISMATCH" in out and "compare different networks" in err
    assert bench_module.losses_match({"tallynet": 2.3, "pytorch": 2.3 + 1e-5}, dropout=False) is True
    # every PyTorch run is compared, the channels_last one too
    assert bench_module.losses_match({"tallynet": 2.3, "pytorch": 2.3, "pytorch-channels-last": 2.9},
                                     dropout=False) is False


def test_bench_does_not_compare_losses_through_dropout(capsys):
    pytest.importorskip("torch")
    code, out, _ = _run(capsys, "examples/digits-cnn.yaml", "--batch", "4", "--repeats", "1", "--rounds", "1")
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
    for kwargs, name in (({"threads": 0}, "threads"), ({"repeats": 1.5}, "repeats"), ({"rounds": 0}, "rounds"),
                         ({"batches": ()}, "batches"),
                         ({"batches": (4, -1)}, "batches")):
        with pytest.raises(ValueError, match=name):
            bench(SPEC, use_torch=False, **kwargs)
