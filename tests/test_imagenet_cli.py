"""``tallynet evaluate`` end to end, and the weights it loads: a PyTorch state_dict into a spec or
preset by name (shapes checked), or a tallynet .npz checkpoint."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from imagenet_helpers import fixture_script
from tallynet.cli import main
from tallynet.imagenet.weights import load_model, load_torch_state_dict
from torchvision_models import torchvision_models

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
# a small network whose node names are the torch twin's module names below
TINY_SPEC = """name: tiny
input: [3, 16, 16]
nodes:
- conv1: {conv: {filters: 4, kernel: 3, pad: 1, bias: false}}
- {bn1: batchnorm}
- {relu: relu}
- {avgpool: global_avgpool}
- fc: {affine: {units: 5}}
"""


def _torch_twin():
    torch = pytest.importorskip("torch")

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(4)
            self.relu = torch.nn.ReLU()
            self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
            self.fc = torch.nn.Linear(4, 5)

        def forward(self, x):
            return self.fc(torch.flatten(self.avgpool(self.relu(self.bn1(self.conv1(x)))), 1))

    torch.manual_seed(0)
    twin = Tiny()
    twin.bn1.running_mean.uniform_(-0.5, 0.5)
    twin.bn1.running_var.uniform_(0.5, 1.5)
    twin.bn1.num_batches_tracked += 7
    return twin.eval()


def test_a_state_dict_loads_by_name_and_gives_the_torch_model_s_logits(tmp_path):
    twin = _torch_twin()
    import torch

    (tmp_path / "tiny.yaml").write_text(TINY_SPEC)
    torch.save(twin.state_dict(), tmp_path / "tiny.pth")
    model, spec = load_model(str(tmp_path / "tiny.yaml"), str(tmp_path / "tiny.pth"))
    np.testing.assert_array_equal(model.params["fc.W"], twin.fc.weight.detach().numpy().T)  # (in, out)
    np.testing.assert_array_equal(model.get_state()["bn1.running_var"], twin.bn1.running_var.numpy())
    X = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(model.loss(X), expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_a_state_dict_that_does_not_fit_is_refused_naming_the_key_and_both_shapes(tmp_path):
    twin = _torch_twin()
    (tmp_path / "tiny.yaml").write_text(TINY_SPEC)
    model, _ = load_model(str(tmp_path / "tiny.yaml"))
    before = model.params["conv1.W"].copy()
    state = {k: v.numpy() for k, v in twin.state_dict().items()}
    with pytest.raises(ValueError, match=r"fc.weight has shape \(5, 3\) but the model's fc.W needs \(5, 4\)"):
        load_torch_state_dict(model, {**state, "fc.weight": np.zeros((5, 3))})
    np.testing.assert_array_equal(model.params["conv1.W"], before)  # nothing was loaded
    with pytest.raises(ValueError, match="it lacks bn1.running_mean; it has keys the model lacks: layer9.weight"):
        load_torch_state_dict(model, {**{k: v for k, v in state.items() if k != "bn1.running_mean"},
                                      "layer9.weight": np.zeros(1)})


def test_torchvision_s_resnet18_state_dict_maps_onto_the_preset(tmp_path):
    reference = torchvision_models().resnet18()
    import torch

    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    model, _ = load_model("resnet18", str(tmp_path / "resnet18.pth"))  # every key used, none missing
    state = reference.state_dict()
    np.testing.assert_array_equal(model.params["layer3.1.conv2.W"], state["layer3.1.conv2.weight"].numpy())
    np.testing.assert_array_equal(model.params["layer4.0.downsample.1.gamma"],
                                  state["layer4.0.downsample.1.weight"].numpy())
    np.testing.assert_array_equal(model.params["fc.W"], state["fc.weight"].numpy().T)


def test_a_tallynet_checkpoint_loads_and_a_wrong_one_is_refused(colours, tmp_path):
    from tallynet.checkpoint import save_checkpoint

    model, _ = load_model(colours["colour-net.yaml"], colours["colour-net.npz"])
    np.testing.assert_array_equal(model.params["conv.W"], fixture_script().colour_net_params()["conv.W"])
    save_checkpoint(tmp_path / "bad.npz", {"params": {"conv.W": np.zeros((6, 3, 1, 1), np.float32),
                                                      "conv.b": np.zeros(5, np.float32)}})
    with pytest.raises(ValueError, match=r"conv.b has shape \(5,\) but the model's needs \(6,\)"):
        load_model(colours["colour-net.yaml"], str(tmp_path / "bad.npz"))


def _argv(paths, *extra):
    return ["evaluate", paths["colour-net.yaml"], "--weights", paths["colour-net.npz"], "--images", paths["images"],
            "--labels", paths["labels"], "--synsets", paths["synset_words.txt"], *extra]


def test_cli_json_and_table(colours, capsys):
    assert main(_argv(colours, "--transform", "center224", "five330", "--format", "json", "--batch", "3")) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["model"], report["images"], report["classes"]) == ("colour-net", 6, 6)
    assert [(r["scheme"], r["top1"], r["top1_correct"], r["flops_per_image"], r["convention"])
            for r in report["results"]] == [("center224", 1.0, 6, 3 * 6 * 224 * 224, "macs"),
                                            ("five330", 1.0, 6, 5 * 3 * 6 * 330 * 330, "macs")]
    assert main(_argv(colours, "--transform", "five224", "--transform", "center224-raw", "--limit", "4")) == 0
    out = capsys.readouterr().out
    assert "FLOPs/image (macs)" in out and "colour-net on 4 ImageNet validation images" in out
    five = next(line for line in out.splitlines() if "five224" in line)
    assert "100.00 % (4)" in five and "4.5 M" in five  # 5 x 903,168 MACs


def test_cli_as_a_command_prints_markdown(colours):
    env = {**os.environ, "PYTHONPATH": os.path.abspath(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tallynet.cli", *_argv(colours, "--format", "markdown")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| center224 | 6 | 100.00 % (6) | 100.00 % (6) | 0.9 M |" in done.stdout


@pytest.mark.parametrize("change, message", [
    (lambda p: p.update(images=p["images"] + "-missing"), "images folder '.*-missing' does not exist"),
    (lambda p: [os.remove(os.path.join(p["images"], f)) for f in os.listdir(p["images"])], "holds no .JPEG"),
    (lambda p: open(os.path.join(p["images"], "ILSVRC2012_val_00000004.JPEG"), "wb").write(b"not a jpeg"),
     "cannot read image '.*ILSVRC2012_val_00000004.JPEG'"),
    (lambda p: os.remove(os.path.join(p["labels"], "ILSVRC2012_val_00000001.xml")),
     "ILSVRC2012_val_00000001.JPEG' has no label file"),
])
def test_cli_errors_are_one_line_and_exit_2(colours, capsys, change, message):
    change(colours)
    assert main(_argv(colours)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tallynet evaluate: error: "), err
    assert re.search(message, err), err


def test_cli_unknown_scheme_names_the_choices(colours, capsys):
    assert main(_argv(colours, "--transform", "center256")) == 2
    assert capsys.readouterr().err == ("tallynet evaluate: error: unknown transform 'center256'; expected one of "
                                       "center224, center224-raw, five224, five330\n")


def test_cli_takes_a_callable_returning_a_pytorch_module_and_its_state_dict(colours, capsys, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    (tmp_path / "colour_torch.py").write_text(
        "import torch\n\n\ndef make():\n    return torch.nn.Sequential(torch.nn.Conv2d(3, 6, 1), "
        "torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())\n\n\ndef not_a_model():\n    return 3\n")
    params = fixture_script().colour_net_params()
    torch.save({"0.weight": torch.from_numpy(params["conv.W"]), "0.bias": torch.from_numpy(params["conv.b"])},
               tmp_path / "colour.pth")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    argv = _argv(colours, "--format", "json")
    argv[1], argv[3] = "colour_torch:make", str(tmp_path / "colour.pth")
    assert main(argv) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert (result["top1_correct"], result["flops_per_image"]) == (6, None)
    argv[1] = "colour_torch:nothing"
    assert main(argv) == 2
    assert "colour_torch:nothing: the module 'colour_torch' has no attribute 'nothing'" in capsys.readouterr().err
    argv[1] = "colour_torch:not_a_model"
    assert main(argv) == 2
    assert capsys.readouterr().err == ("tallynet evaluate: error: colour_torch:not_a_model() returned a int, "
                                       "expected a tallynet model or a torch.nn.Module\n")


def test_the_readme_shows_what_tallynet_evaluate_prints_on_the_fixture(colours, capsys):
    from tallynet.imagenet.evaluate import flops_per_crop

    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme[readme.index("## Evaluating on ImageNet validation images"):]
    assert main(_argv(colours, "--transform", "center224", "center224-raw", "five224", "five330")) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert len(printed) == 4
    for line in printed:  # every cell but images/s, which varies from run to run
        assert line.rsplit("│", 2)[0] in section, line
    resnet18 = flops_per_crop("resnet18", (3, 224, 224), "macs")
    assert f"{resnet18 / 1e9:.2f} G MACs at 224" in section and f"{5 * resnet18 / 1e9:.2f} G for `five224`" in section


def test_a_preset_at_330_gives_torchvision_s_logits_and_flop_counter_mode_s_flops(tmp_path):
    # five330 runs the network at 330 x 330: squeezenet1_1 (adaptive pooling) with torchvision's
    # random weights, loaded through the state_dict file, against torchvision's model itself
    reference = torchvision_models().squeezenet1_1().eval()
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from tallynet.imagenet.evaluate import at_input, flops_per_crop

    torch.save(reference.state_dict(), tmp_path / "squeezenet1_1.pth")
    model, _ = load_model("squeezenet1_1", str(tmp_path / "squeezenet1_1.pth"))
    big = at_input(model, (3, 330, 330))
    X = np.random.default_rng(0).standard_normal((1, 3, 330, 330)).astype(np.float32)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        expected = reference(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(big.loss(X), expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert flops_per_crop(model, (3, 330, 330), "torch") == counter.get_total_flops()
