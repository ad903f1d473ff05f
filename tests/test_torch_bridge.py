"""Whole models against PyTorch: the same scores, loss and gradients (float64)."""

import numpy as np
import pytest

from tallynet.models import FullyConnectedNet, preset
from tallynet.torch_bridge import to_torch

torch = pytest.importorskip("torch")


def torch_grads(model, X, y):
    net = to_torch(model).train()
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    loss.backward()
    grads = [p.grad.numpy() for p in net.parameters()]
    return loss.item(), grads


def flat_params_in_torch_order(model, grads):
    out = []
    for layer, keys in zip(model.layers, model.param_keys):
        for local in layer.param_names:
            g = grads[keys[local]]
            out.append(g.T if layer.kind == "affine" and local == "W" else g)
    return out


@pytest.mark.parametrize("build, shape", [
    (lambda: preset("seed-cnn", dtype=np.float64, seed=0), (4, 3, 32, 32)),
    (lambda: FullyConnectedNet([30, 20], input_dim=48, normalization="batchnorm", dtype=np.float64,
                               weight_scale="he", seed=0), (5, 3, 4, 4)),
])
def test_loss_and_gradients_match_pytorch(build, shape):
    model = build()
    rng = np.random.default_rng(0)
    X = rng.standard_normal(shape)
    y = rng.integers(10, size=shape[0])
    loss, grads = model.loss(X, y)
    ref_loss, ref_grads = torch_grads(model, X, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for ours, ref in zip(flat_params_in_torch_order(model, grads), ref_grads):
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_test_mode_scores_match_pytorch_eval():
    model = preset("seed-cnn", dtype=np.float64, seed=1)
    X = np.random.default_rng(1).standard_normal((3, 3, 32, 32))
    model.loss(X, np.zeros(3, dtype=np.int64))  # move the running statistics off their start
    net = to_torch(model)  # carries the running statistics over
    with torch.no_grad():
        ref = net.eval()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(model.loss(X), ref, rtol=1e-10)


@pytest.mark.parametrize("shape, layers", [
    ((2, 6, 5), [{"conv": {"filters": 4, "kernel": 3}}, "layernorm", "relu", "flatten", {"affine": {"units": 10}}]),
    ((12,), [{"affine": {"units": 8}}, "layernorm", "sigmoid", {"affine": {"units": 10}}]),
])
def test_layernorm_nets_match_pytorch(shape, layers):
    from tallynet.models import from_spec

    model = from_spec({"input": list(shape), "layers": layers}, dtype=np.float64, seed=2)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3,) + shape)
    y = rng.integers(10, size=3)
    loss, grads = model.loss(X, y)
    ref_loss, ref_grads = torch_grads(model, X, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for ours, ref in zip(flat_params_in_torch_order(model, grads), ref_grads):
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)
