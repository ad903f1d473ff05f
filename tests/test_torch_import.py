"""from_torch: PyTorch models imported by tracing, checked against PyTorch itself.

torchvision's classification models (weights=None): the parameter count equals torchvision's
``sum(p.numel())``, the ``macs`` convention at 1x3x224x224 its published GFLOPS (``_ops``),
the ``torch`` convention FlopCounterMode forward and backward, all from shapes alone (the
models on the meta device); the outputs of the import, in NumPy and through ``to_torch``,
equal the model's own at 64x64. A module of every mapped operation compares outputs and
gradients in float64; operations tallynet does not know are refused by name and line.
"""

import copy
import functools
import inspect
import json
import sys

import numpy as np
import pytest

from tallynet.cost import summary
from tallynet.models.zoo import zoo
from torchvision_models import (flop_counter_mode, grouped_weight_gradient_excess, randomised_batchnorm, reference,
                                torchvision_models)

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional

from tallynet.importer import UnsupportedOperation, from_torch, torch_spec  # noqa: E402
from tallynet.torch_bridge import to_torch  # noqa: E402

IMPORTED = ["alexnet", "densenet121", "efficientnet_b0", "googlenet", "mobilenet_v2", "mobilenet_v3_large",
            "mobilenet_v3_small", "regnet_y_400mf", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
            "resnext50_32x4d", "shufflenet_v2_x1_0", "squeezenet1_0", "squeezenet1_1", "vgg11", "vgg16",
            "vit_b_16", "wide_resnet50_2"]
# FlopCounterMode runs on the models without a tallynet preset; a preset's counts equal
# FlopCounterMode's (tests/test_zoo.py), and the import's equal the preset's
PRESET = sorted(set(IMPORTED) & set(zoo()))
# Outputs are compared for every imported model, at 64x64 (224x224 for vit_b_16, whose patch
# grid is fixed); DenseNet-121 also as its own definition with fewer layers (below)
COMPARED = ["densenet"] + IMPORTED


def _compared(name):
    """torchvision's model ``name``, or (``densenet``) DenseNet's definition with 2 and 3 dense
    layers of growth 8, whose few channels make a wrong order of concatenated features show."""
    if name == "densenet":
        return torchvision_models().DenseNet(growth_rate=8, block_config=(2, 3), num_init_features=16, bn_size=2)
    return reference(name)


@functools.lru_cache(maxsize=None)
def _meta_model(name):
    return reference(name, meta=True)


@functools.lru_cache(maxsize=None)
def _spec(name):
    return torch_spec(_meta_model(name), (3, 224, 224), name)


def imported(name):
    """The graph spec of torchvision's ``name`` at 224x224, from its meta-device model."""
    return copy.deepcopy(_spec(name))


@pytest.mark.parametrize("name", IMPORTED)
def test_parameters_and_published_gflops_equal_torchvision(name):
    meta = torchvision_models().get_model_weights(name).DEFAULT.meta
    t = summary(imported(name), batch=1, convention="macs").totals()
    assert t["params"] == sum(p.numel() for p in _meta_model(name).parameters()) == meta["num_params"]
    # torchvision's "GFLOPS" are multiply-accumulates of convolutions and linear layers, in billions
    assert round(t["forward_flops"] / 1e9, 3) == meta["_ops"]


def _torch_counts(s):
    t = s.totals()
    return t["forward_flops"], t["backward_flops"], t["step_backward_flops"]


@pytest.mark.parametrize("name", [n for n in IMPORTED if n not in PRESET])
def test_torch_convention_equals_flop_counter_mode(name):
    s = summary(imported(name), batch=1, convention="torch")
    forward, backward, step_backward = _torch_counts(s)
    # FlopCounterMode counts a grouped convolution's weight gradient g times (see the helper)
    excess = grouped_weight_gradient_excess(s)
    model = copy.deepcopy(_meta_model(name))  # FlopCounterMode's backward leaves gradients on it
    assert flop_counter_mode(name, True, model) == (forward, backward + excess)
    assert flop_counter_mode(name, False, model)[1] == step_backward + excess


@pytest.mark.parametrize("name", PRESET)
def test_torch_convention_equals_the_preset_s_which_equals_flop_counter_mode(name):
    assert _torch_counts(summary(imported(name), batch=1, convention="torch")) == _torch_counts(
        summary(name, batch=1, convention="torch"))


def test_node_names_are_module_paths():
    names = [next(iter(node)) for node in imported("resnet50")["nodes"]]
    assert names[:4] == ["conv1", "bn1", "relu", "maxpool"]
    assert {"layer1.0.conv1", "layer1.0.downsample.0", "layer1.0.add", "layer1.0.relu_1", "fc"} <= set(names)
    shuffle = [next(iter(node)) for node in imported("shufflenet_v2_x1_0")["nodes"]]
    assert {"stage2.0.channel_shuffle", "stage2.1.chunk.0", "stage2.1.chunk.1"} <= set(shuffle)


@pytest.mark.parametrize("name", COMPARED)
def test_outputs_equal_torchvision_s_in_numpy_and_through_to_torch(name):
    torch.manual_seed(0)
    theirs = randomised_batchnorm(_compared(name)).eval()
    side = 224 if name.startswith("vit") else 64
    ours = from_torch(theirs, (3, side, side))
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        expected = theirs(x).numpy()
        twin = to_torch(ours).eval()(x).numpy()
    scale = np.abs(expected).max()
    assert np.abs(ours.loss(x.numpy()) - expected).max() <= 1e-4 * scale
    assert np.abs(twin - expected).max() <= 1e-4 * scale


# --- every mapped operation ------------------------------------------------------------------------
class EveryOperation(nn.Module):
    """The modules, functions and methods the importer maps, each once, with their settings."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8, eps=1e-3, momentum=0.01)
        self.dilated = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
        self.same = nn.Conv2d(8, 8, 3, padding="same")
        self.act = nn.Sequential(nn.ReLU6(), nn.LeakyReLU(0.2), nn.Hardswish(), nn.GELU(), nn.Identity(),
                                 nn.Dropout(0.0))
        self.shuffle = nn.ChannelShuffle(2)
        self.norm = nn.GroupNorm(2, 8)
        self.up = nn.Upsample(scale_factor=2)
        self.down = nn.ConvTranspose2d(8, 4, 2, stride=2)  # 16x16 -> 32x32
        self.pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.avg = nn.AvgPool2d(2, ceil_mode=True)
        self.squeeze = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(12, 12, 1), nn.Hardsigmoid())
        self.se = nn.Conv2d(12, 12, 1)
        self.adaptive = nn.AdaptiveAvgPool2d((2, None))
        self.fc1 = nn.Linear(12 * 2 * 5, 16)
        self.ln = nn.LayerNorm(16)
        self.bn1d = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16 + 12, 5)
        self.flat = nn.Flatten()

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))                                 # (N, 8, 8, 8)
        x = x + torch.sigmoid(self.dilated(x))
        x = torch.add(self.act(self.same(x)), F.silu(x))
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w).permute(0, 2, 1, 3, 4).contiguous().view(n, -1, h, w)  # a shuffle
        x = self.norm(self.shuffle(x))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([F.hardtanh(a, 0.0, 6.0), torch.tanh(b), x[:, 2:6]], dim=1)  # 12 channels
        x = F.interpolate(self.up(x), scale_factor=2)[:, :8]             # (N, 8, 32, 32)
        x = torch.cat((self.down(F.avg_pool2d(x, 2)), x[:, 4:]), 1)      # (N, 8, 32, 32)
        x = self.pool(F.max_pool2d(x, 2))                                # (N, 8, 9, 9)
        low, high = x.split([4, 4], dim=1)
        x = F.leaky_relu(torch.cat([high, low, x[:, :4]], 1), 0.1)       # (N, 12, 9, 9)
        x = self.avg(x)                                                  # (N, 12, 5, 5)
        x = self.squeeze(x) * x                                          # squeeze-excitation: scale * x
        x = x.mul(torch.sigmoid(self.se(x.mean((2, 3), keepdim=True)))).relu()
        pooled = x.mean((2, 3), keepdim=True).squeeze((2, 3))
        y = F.gelu(self.fc1(self.flat(self.adaptive(x))))                # (N, 12, 2, 5) flattened
        y = F.hardswish(self.bn1d(self.ln(y)))
        z = torch.cat([F.hardsigmoid(y), pooled.reshape(pooled.size(0), -1)], 1)
        return self.fc2(F.dropout(torch.flatten(z, 1), 0.0, self.training))


TORCH_NAMES = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}


def _assert_gradients_equal(grads, module):
    """tallynet's gradients, keyed ``node.local``, equal the module's parameters' ``.grad`` (by
    torchvision's names: W is weight, gamma weight, ...; a top-level class token is node
    ``class_token``'s parameter ``class_token``)."""
    torch_grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    assert len(grads) == len(torch_grads)
    for key, grad in grads.items():
        node, local = key.rsplit(".", 1)
        name = {"class_token.class_token": "class_token"}.get(key, f"{node}.{TORCH_NAMES.get(local, local)}")
        transposed = local == "W" and grad.ndim == 2  # tallynet's affine W is (in, out)
        expected = torch_grads[name].T if transposed else torch_grads[name]
        np.testing.assert_allclose(grad, expected, rtol=1e-8, atol=1e-12, err_msg=key)


def test_every_mapped_operation_computes_what_pytorch_computes_forward_and_backward():
    torch.manual_seed(0)
    theirs = randomised_batchnorm(EveryOperation()).double()
    ours = from_torch(theirs.eval(), (3, 8, 8), dtype=np.float64)
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        expected = theirs.eval()(x).numpy()
    np.testing.assert_allclose(ours.loss(x.numpy()), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_torch(ours).eval()(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    # a training step: batch statistics in both, every parameter's gradient of the same loss
    y = np.array([0, 3, 1, 4])
    loss, grads = ours.loss(x.numpy(), y)
    theirs.train()
    reference_loss = F.cross_entropy(theirs(x), torch.from_numpy(y))
    reference_loss.backward()
    assert loss == pytest.approx(reference_loss.item(), rel=1e-10)
    _assert_gradients_equal(grads, theirs)


class ShuffleBlock(nn.Module):
    """A few nodes of the new layer types (profiling a node costs a garbage collection, slow
    in a process holding torch)."""

    def __init__(self):
        super().__init__()
        self.conv, self.shuffle, self.fc = nn.Conv2d(3, 4, 3, padding=1), nn.ChannelShuffle(2), nn.Linear(4, 3)

    def forward(self, x):
        a, b = self.conv(x).chunk(2, dim=1)
        return self.fc(self.shuffle(torch.cat([b, a], 1)).mean((2, 3)))


def test_the_import_is_a_graph_like_any_other():
    from tallynet.cost.walkthrough import walkthrough
    from tallynet.profile import profile

    model = from_torch(EveryOperation(), (3, 8, 8))
    assert summary(model).totals()["params"] == sum(p.numel() for p in EveryOperation().parameters())
    assert model.spec["nodes"][0] == {"stem": {"conv": {"filters": 8, "kernel": 3, "pad": 1, "bias": False},
                                               "inputs": ["input"]}}
    assert model.layers[1].momentum == pytest.approx(0.99) and model.layers[1].eps == 1e-3
    small = from_torch(ShuffleBlock(), (3, 6, 6))
    assert "chunk.1" in walkthrough(small, batch=2)
    p = profile(small, batch=4, steps=1, gemm_peak=1.0)
    assert p.totals()["flops_match"] and not p.unknown


def test_a_vision_transformer_computes_what_pytorch_computes_forward_and_backward():
    torch.manual_seed(0)
    theirs = torchvision_models().VisionTransformer(image_size=16, patch_size=4, num_layers=2, num_heads=2, hidden_dim=8, mlp_dim=12,
                               num_classes=3).double()
    with torch.no_grad():
        for p in theirs.parameters():  # away from torchvision's zero initialisations (the head, the token)
            p.add_(0.1 * torch.randn_like(p))
    ours = from_torch(theirs, (3, 16, 16), dtype=np.float64)
    names = [next(iter(node)) for node in ours.spec["nodes"]]
    assert names[:5] == ["conv_proj", "reshape", "permute", "class_token", "encoder"]
    assert {"class_token.class_token", "encoder.pos_embedding",
            "encoder.layers.encoder_layer_1.self_attention.in_proj_weight"} <= set(ours.params)
    x, y = torch.randn(3, 3, 16, 16, dtype=torch.float64), np.array([0, 2, 1])
    with torch.no_grad():
        np.testing.assert_allclose(ours.loss(x.numpy()), theirs.eval()(x).numpy(), rtol=1e-10, atol=1e-12)
    loss, grads = ours.loss(x.numpy(), y)
    reference_loss = F.cross_entropy(theirs.train()(x), torch.from_numpy(y))
    reference_loss.backward()
    assert loss == pytest.approx(reference_loss.item(), rel=1e-10)
    _assert_gradients_equal(grads, theirs)


# --- what is refused -------------------------------------------------------------------------------
class CumulativeSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.cumsum(self.conv(x), dim=1)


def _line(method, text):
    """``file:line`` of the line of ``method``'s source holding ``text``."""
    lines, first = inspect.getsourcelines(method)
    return f"{inspect.getsourcefile(method)}:{first + next(i for i, l in enumerate(lines) if text in l)}"


def test_an_unknown_operation_is_refused_naming_it_the_node_and_the_source_line():
    with pytest.raises(UnsupportedOperation) as err:
        from_torch(CumulativeSum(), (3, 8, 8))
    message = str(err.value)
    assert "torch.cumsum" in message and "fx node 'cumsum'" in message
    assert _line(CumulativeSum.forward, "torch.cumsum") in message
    assert isinstance(err.value, ValueError)


class Refusals(nn.Module):
    def __init__(self, case):
        super().__init__()
        self.case = case
        self.conv = nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect" if case == "reflect" else "zeros")
        self.shuffle = nn.PixelShuffle(2)
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        x = self.conv(x)
        if self.case == "twice":
            return self.conv(x[:, :3])
        if self.case == "pixel_shuffle":
            return self.shuffle(x)
        if self.case == "attribute":
            return x * self.scale
        if self.case == "constant":
            return x * 2.0
        if self.case == "reshape":
            return x.reshape(-1, 8)
        if self.case == "control_flow":
            return x if x.sum() > 0 else -x
        return x


@pytest.mark.parametrize("case, expected", [
    ("reflect", r"module 'conv' \(torch\.nn\.modules\.conv\.Conv2d\).*padding_mode='reflect'"),
    ("twice", "module 'conv' is called more than once, sharing its parameters"),
    ("pixel_shuffle", "no tallynet layer maps the module PixelShuffle"),
    ("attribute", "the parameter 'scale', read by the forward itself"),
    ("constant", "is 2.0, not a tensor the model computes"),
    ("reshape", r"a reshape of \(N, 4, 8, 8\) to \(-1, 8\)"),
    ("control_flow", "torch.fx cannot trace Refusals"),
])
def test_what_tallynet_cannot_compute_is_refused_by_name(case, expected):
    with pytest.raises(UnsupportedOperation, match=expected) as err:
        torch_spec(Refusals(case), (3, 8, 8))
    assert __file__ in str(err.value)  # the line of this file's forward that made the node
    if case in ("reflect", "pixel_shuffle"):
        assert "class" in str(err.value) and "defined at" in str(err.value)


def test_parameters_no_operation_uses_are_named_in_a_warning():
    with pytest.warns(UserWarning, match=r"parameters are used by no operation.*aux1"):
        with torch.device("meta"):
            model = torchvision_models().googlenet(aux_logits=True, init_weights=False)
        torch_spec(model, (3, 224, 224))


def test_a_network_whose_output_is_an_image_is_a_regression_graph():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(4, 1, 1))
    model = from_torch(net.eval(), (3, 4, 4), dtype=np.float64)
    assert model.loss_name == "mse" and model.output_shape == (1, 8, 8)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        np.testing.assert_allclose(model.loss(x.numpy()), net.double()(x).numpy(), rtol=1e-12, atol=1e-12)


def test_a_meta_module_imports_its_architecture_but_has_no_weights():
    with torch.device("meta"):
        model = CumulativeSum().conv
    assert torch_spec(nn.Sequential(model, nn.Flatten()), (3, 8, 8))["nodes"][0]["0"]["conv"] == {
        "filters": 4, "kernel": 3}
    with pytest.raises(ValueError, match="meta device"):
        from_torch(nn.Sequential(model, nn.Flatten()), (3, 8, 8))


# --- the command line ------------------------------------------------------------------------------
def _run(capsys, *argv):
    from tallynet.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_command_line_imports_torchvision_models_with_their_arguments(capsys):
    code, out, _ = _run(capsys, "summary", "torchvision.models:resnet18", "--input", "3", "64", "64",
                        "--arg", "num_classes=10", "--format", "json")
    assert code == 0
    report = json.loads(out)
    expected = sum(p.numel() for p in torchvision_models().resnet18(num_classes=10).parameters())
    assert report["totals"]["params"] == expected and report["input_shape"] == [1, 3, 64, 64]
    assert report["name"] == "resnet18"


MY_MODELS = '''
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self, width=4, classes=3):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, width, 3, padding=1), nn.Linear(width, classes)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))

not_callable = 3
'''


@pytest.mark.parametrize("argv, expected", [
    (["summary", "my_models:Net"], "my_models:Net is a PyTorch model: give the shape of one sample with --input"),
    (["summary", "my_models:Nope", "--input", "3", "4", "4"], "the module 'my_models' has no attribute 'Nope'"),
    (["summary", "my_models:not_callable", "--input", "3", "4", "4"], "'not_callable' is a int, not a callable"),
    (["summary", "no_such_module:Net", "--input", "3", "4", "4"], "cannot import the module 'no_such_module'"),
    (["summary", "my_models:Net", "--input", "3", "4", "4", "--arg", "depth=2"], "unexpected keyword argument 'depth'"),
    (["summary", "my_models:Net", "--input", "3", "4", "4", "--arg", "width"], "expected KEY=VALUE"),
    (["summary", "seed-cnn", "--arg", "width=2"], "--arg is for a PyTorch model"),
])
def test_the_command_line_refuses_a_bad_pytorch_model_in_one_line(capsys, tmp_path, monkeypatch, argv, expected):
    (tmp_path / "my_models.py").write_text(MY_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_models", raising=False)
    code, _, err = _run(capsys, *argv)
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1


def test_the_command_line_takes_a_model_of_the_working_directory(capsys, tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(MY_MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_models", raising=False)
    code, out, _ = _run(capsys, "gradcheck", "my_models:Net", "--input", "3", "5", "5", "--arg", "width=2",
                        "--arg", "classes=4")
    assert code == 0 and "conv.W" in out and "fc.W" in out and out.strip().endswith("OK")
