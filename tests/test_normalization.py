"""Batchnorm and layernorm: numerical gradients, hand-computed values, statistics, PyTorch."""

import numpy as np
import pytest

from conftest import assert_numerical_gradients
from tallynet.gradcheck import rel_error
from tallynet.layers import (
    BatchNorm,
    LayerNorm,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_layernorm_backward,
    spatial_layernorm_forward,
)


def bn_train(x, gamma, beta):
    return batchnorm_forward(x, gamma, beta, {"mode": "train"})


def sbn_train(x, gamma, beta):
    return spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})


# (forward(x, gamma, beta) -> (out, cache), backward) for every train-mode pair
PAIRS = {
    "batchnorm": (bn_train, batchnorm_backward),
    "batchnorm_alt": (bn_train, batchnorm_backward_alt),
    "spatial_batchnorm": (sbn_train, spatial_batchnorm_backward),
    "spatial_batchnorm_staged": (sbn_train, batchnorm_backward),
    "layernorm": (lambda x, g, b: layernorm_forward(x, g, b, {}), layernorm_backward),
    "spatial_layernorm": (lambda x, g, b: spatial_layernorm_forward(x, g, b, {}), spatial_layernorm_backward),
}
# N = 1 (batchnorm) and D = 1 (layernorm) make the output constant: gradient exactly 0.
# A statistics axis of size 2 is avoided: x_hat is then +-sqrt(var / (var + eps)), whose
# gradient is of order eps and drowns in finite-difference noise.
SHAPES_2D = [(4, 5), (7, 3), (1, 6), (3, 1)]
SHAPES_4D = [(2, 3, 4, 5), (3, 2, 1, 3), (1, 2, 3, 2)]


def shapes_for(kind):
    return SHAPES_4D if kind.startswith("spatial") else SHAPES_2D


def inputs(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = (4 * rng.standard_normal(shape) + 10).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, C).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    return x, gamma, beta, dout


@pytest.mark.parametrize("kernel, shape", [(batchnorm_forward, (5, 4)), (spatial_batchnorm_forward, (2, 3, 2, 4))])
def test_test_mode_gradients_match_numerical(kernel, shape):
    x, gamma, beta, dout = inputs(shape)
    C = shape[1]
    rng = np.random.default_rng(1)
    stats = {"running_mean": rng.standard_normal(C), "running_var": rng.uniform(0.5, 2, C)}
    forward = lambda x, g, b: kernel(x, g, b, {"mode": "test", **stats})  # noqa: E731
    cache = forward(x, gamma, beta)[1]
    arrays = {"x": x, "gamma": gamma, "beta": beta}
    for backward in (batchnorm_backward, batchnorm_backward_alt):
        grads = dict(zip(arrays, backward(dout, cache)))
        assert_numerical_gradients(lambda: forward(x, gamma, beta)[0], arrays, grads, dout, 1e-6, backward.__name__)


@pytest.mark.parametrize("kernel, shape", [(bn_train, (6, 5)), (bn_train, (1, 4)), (sbn_train, (3, 4, 5, 2))])
def test_staged_and_closed_form_backward_agree(kernel, shape):
    x, gamma, beta, dout = inputs(shape)
    cache = kernel(x, gamma, beta)[1]
    for a, b in zip(batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)):
        assert rel_error(a, b) < 1e-10


def test_batchnorm_hand_computed():
    x = np.array([[1.0, 10.0], [3.0, 10.0]])
    gamma, beta = np.array([2.0, 1.0]), np.array([0.5, -1.0])
    bn_param = {"mode": "train", "eps": 1e-5}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    # column 0: mean 2, var 1; column 1: constant, var 0 -> x_hat 0 -> beta
    s = 1 / np.sqrt(1 + 1e-5)
    np.testing.assert_allclose(out, [[0.5 - 2 * s, -1.0], [0.5 + 2 * s, -1.0]])
    np.testing.assert_allclose(bn_param["running_mean"], [0.2, 1.0])
    np.testing.assert_allclose(bn_param["running_var"], [0.1, 0.0])  # from 0, as in the course


def test_layernorm_hand_computed():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]])
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.zeros(3)
    out, _ = layernorm_forward(x, gamma, beta, {"eps": 1e-12})
    r = np.sqrt(1.5)  # row 0: mean 2, var 2/3; row 1: mean 2, var 8
    np.testing.assert_allclose(out, [[-r, 0.0, 3 * r], [-1 / np.sqrt(2), -2 / np.sqrt(2), 3 * np.sqrt(2)]], rtol=1e-9)


def test_batch_of_one_in_train_mode_gives_beta_and_zero_dx():
    x, gamma, beta, dout = inputs((1, 6))
    out, cache = bn_train(x, gamma, beta)
    np.testing.assert_array_equal(out, beta[None, :])
    for backward in (batchnorm_backward, batchnorm_backward_alt):
        dx, dgamma, dbeta = backward(dout, cache)
        np.testing.assert_array_equal(dx, 0)
        np.testing.assert_array_equal(dgamma, 0)
        np.testing.assert_array_equal(dbeta, dout[0])


@pytest.mark.parametrize("kernel, shape, axes", [
    (bn_train, (200, 3), (0,)),
    (sbn_train, (20, 3, 4, 5), (0, 2, 3)),
    (lambda x, g, b: layernorm_forward(x, g, b, {}), (3, 200), (1,)),
    (lambda x, g, b: spatial_layernorm_forward(x, g, b, {}), (3, 4, 5, 6), (1, 2, 3)),
])
def test_train_output_is_standardized(kernel, shape, axes):
    x = inputs(shape)[0]
    C = shape[1]
    out, _ = kernel(x, np.ones(C), np.zeros(C))
    np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=axes), 1, atol=1e-5)  # eps shrinks it a hair


def test_gamma_and_beta_set_the_output_statistics():
    x, gamma, beta, _ = inputs((300, 4))
    out, _ = bn_train(x, gamma, beta)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-5)


@pytest.mark.parametrize("kernel, shape", [(batchnorm_forward, (256, 3)), (spatial_batchnorm_forward, (32, 3, 4, 2))])
def test_running_stats_converge_and_test_mode_uses_them(kernel, shape):
    rng = np.random.default_rng(0)
    C = shape[1]
    mu, sigma = np.array([-3.0, 0.5, 7.0]), np.array([0.5, 2.0, 4.0])
    channel = (1, C) + (1,) * (len(shape) - 2)
    gamma, beta = np.ones(C), np.zeros(C)
    bn_param = {"mode": "train"}
    for _ in range(200):
        x = rng.standard_normal(shape) * sigma.reshape(channel) + mu.reshape(channel)
        kernel(x, gamma, beta, bn_param)
    assert np.all(np.abs(bn_param["running_mean"] - mu) < 0.1 * sigma)
    np.testing.assert_allclose(bn_param["running_var"], sigma ** 2, rtol=0.1)

    bn_param["mode"] = "test"
    rm, rv = bn_param["running_mean"].copy(), bn_param["running_var"].copy()
    x = rng.standard_normal(shape) * sigma.reshape(channel) + mu.reshape(channel)
    out, _ = kernel(x, gamma, beta, bn_param)
    want = (x - rm.reshape(channel)) / np.sqrt(rv.reshape(channel) + 1e-5)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    np.testing.assert_array_equal(bn_param["running_mean"], rm)  # test mode leaves them
    # test mode normalizes each sample alone: the first sample on its own gives the same row
    np.testing.assert_allclose(kernel(x[:1], gamma, beta, bn_param)[0], out[:1], rtol=1e-12)


def test_missing_running_stats_start_at_zero_as_in_the_course():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    bn_param = {"mode": "test"}
    out, _ = batchnorm_forward(x, np.ones(2, np.float32), np.zeros(2, np.float32), bn_param)
    np.testing.assert_array_equal(bn_param["running_mean"], [0, 0])
    np.testing.assert_array_equal(bn_param["running_var"], [0, 0])
    assert bn_param["running_var"].dtype == np.float32
    np.testing.assert_allclose(out, x / np.sqrt(np.float32(1e-5)), rtol=1e-6)


def test_batchnorm_layer_starts_its_running_variance_at_one():
    """The layer object follows PyTorch: before any training its test mode is near the identity."""
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    layer = BatchNorm()
    out, _ = layer.forward(x, {"gamma": np.ones(2, np.float32), "beta": np.zeros(2, np.float32)}, mode="test")
    np.testing.assert_array_equal(layer.running_var, [1, 1])
    np.testing.assert_allclose(out, x / np.sqrt(1 + 1e-5), rtol=1e-6)


def test_running_stats_are_not_modified_in_place():
    mean, var = np.zeros(3), np.ones(3)
    bn_param = {"mode": "train", "running_mean": mean, "running_var": var}
    batchnorm_forward(inputs((4, 3))[0], np.ones(3), np.zeros(3), bn_param)
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(var, 1)
    assert not np.allclose(bn_param["running_mean"], 0)


# --- dtypes -----------------------------------------------------------------------
ALL_KERNELS = [
    (bn_train, batchnorm_backward, (4, 3)),
    (bn_train, batchnorm_backward_alt, (4, 3)),
    (lambda x, g, b: batchnorm_forward(x, g, b, {"mode": "test"}), batchnorm_backward_alt, (4, 3)),
    (sbn_train, spatial_batchnorm_backward, (2, 3, 4, 5)),
    (lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "test"}), spatial_batchnorm_backward, (2, 3, 4, 5)),
    (lambda x, g, b: layernorm_forward(x, g, b, {}), layernorm_backward, (4, 3)),
    (lambda x, g, b: spatial_layernorm_forward(x, g, b), spatial_layernorm_backward, (2, 3, 4, 5)),
]


@pytest.mark.parametrize("forward, backward, shape", ALL_KERNELS)
def test_float32_in_float32_out(forward, backward, shape):
    x, gamma, beta, dout = inputs(shape, dtype=np.float32)
    out, cache = forward(x, gamma, beta)
    assert out.dtype == np.float32
    for g in backward(dout, cache):
        assert g.dtype == np.float32
    x64, gamma64, beta64, dout64 = inputs(shape)
    out64, cache64 = forward(x64, gamma64, beta64)
    np.testing.assert_allclose(out, out64, rtol=1e-4, atol=1e-4)
    for g32, g64 in zip(backward(dout, cache), backward(dout64, cache64)):
        np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("forward, backward, shape", ALL_KERNELS)
def test_float64_gamma_does_not_leak_into_float32_activations(forward, backward, shape):
    x, _, _, dout = inputs(shape, dtype=np.float32)
    gamma, beta = inputs(shape)[1:3]
    out, cache = forward(x, gamma, beta)
    dx, dgamma, dbeta = backward(dout, cache)
    assert out.dtype == dx.dtype == np.float32
    assert dgamma.dtype == dbeta.dtype == np.float64


@pytest.mark.parametrize("kernel, shape", [(batchnorm_forward, (4, 3)), (spatial_batchnorm_forward, (2, 3, 2, 2))])
def test_running_stats_stay_float32(kernel, shape):
    x, gamma, beta, _ = inputs(shape, dtype=np.float32)
    bn_param = {"mode": "train"}
    for _ in range(3):
        kernel(x, gamma, beta, bn_param)
    assert bn_param["running_mean"].dtype == np.float32
    assert bn_param["running_var"].dtype == np.float32
    # stats handed in as float64 come back in x's dtype
    bn_param = {"mode": "train", "running_mean": np.zeros(3), "running_var": np.ones(3)}
    kernel(x, gamma, beta, bn_param)
    assert bn_param["running_mean"].dtype == np.float32


# --- bad input --------------------------------------------------------------------
def _raises(exc, name, fn, *args):
    with pytest.raises(exc) as info:
        fn(*args)
    assert name in str(info.value)


@pytest.mark.parametrize("kernel, bad_x", [
    (batchnorm_forward, np.zeros((2, 3, 4))),
    (batchnorm_forward, np.zeros(3)),
    (spatial_batchnorm_forward, np.zeros((2, 3))),
    (layernorm_forward, np.zeros((2, 3, 1))),
    (spatial_layernorm_forward, np.zeros((2, 3, 4))),
])
def test_wrong_rank_names_x(kernel, bad_x):
    C = bad_x.shape[1] if bad_x.ndim > 1 else 3
    _raises(ValueError, "x must", kernel, bad_x, np.ones(C), np.zeros(C), {"mode": "train"})


KERNELS_2D_4D = [(batchnorm_forward, (4, 3)), (spatial_batchnorm_forward, (2, 3, 2, 2)),
                 (layernorm_forward, (4, 3)), (spatial_layernorm_forward, (2, 3, 2, 2))]


@pytest.mark.parametrize("kernel, shape", KERNELS_2D_4D)
def test_wrong_gamma_or_beta_shape_names_it(kernel, shape):
    x, gamma, beta, _ = inputs(shape)
    param = {"mode": "train"}
    _raises(ValueError, "gamma", kernel, x, np.ones(4), beta, param)
    _raises(ValueError, "gamma", kernel, x, np.ones((1, 3)), beta, param)
    _raises(ValueError, "beta", kernel, x, gamma, np.zeros(2), param)
    _raises(TypeError, "gamma", kernel, x, [1.0, 1.0, 1.0], beta, param)


@pytest.mark.parametrize("kernel, shape", KERNELS_2D_4D)
def test_non_float_x_names_x(kernel, shape):
    _raises(TypeError, "x must", kernel, np.ones(shape, dtype=np.int64), np.ones(3), np.zeros(3), {"mode": "train"})
    _raises(TypeError, "x must", kernel, np.ones(shape).tolist(), np.ones(3), np.zeros(3), {"mode": "train"})


@pytest.mark.parametrize("kernel, shape", KERNELS_2D_4D[:2])
def test_batchnorm_param_errors_name_the_field(kernel, shape):
    x, gamma, beta, _ = inputs(shape)
    _raises(ValueError, "mode", kernel, x, gamma, beta, {"mode": "eval"})
    _raises(ValueError, "mode", kernel, x, gamma, beta, {})
    _raises(ValueError, "eps", kernel, x, gamma, beta, {"mode": "train", "eps": 0.0})
    _raises(ValueError, "momentum", kernel, x, gamma, beta, {"mode": "train", "momentum": 1.5})
    _raises(ValueError, "running_mean", kernel, x, gamma, beta, {"mode": "test", "running_mean": np.zeros(5)})
    _raises(ValueError, "running_var", kernel, x, gamma, beta, {"mode": "test", "running_var": np.ones((3, 1))})


def test_layernorm_eps_error_names_eps():
    x, gamma, beta, _ = inputs((4, 3))
    _raises(ValueError, "eps", layernorm_forward, x, gamma, beta, {"eps": -1.0})


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt, layernorm_backward])
def test_backward_rejects_wrong_dout_shape(backward):
    x, gamma, beta, _ = inputs((4, 3))
    forward = layernorm_forward if backward is layernorm_backward else batchnorm_forward
    cache = forward(x, gamma, beta, {"mode": "train"})[1]
    _raises(ValueError, "dout", backward, np.zeros((3, 4)), cache)


# --- layers -----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2, 3)])
def test_batchnorm_layer_tracks_state_and_matches_kernels(shape):
    layer = BatchNorm(momentum=0.8)
    assert layer.kind == "batchnorm" and layer.param_names == ("gamma", "beta")
    assert layer.output_shape(shape) == shape
    assert layer.param_shapes(shape) == {"gamma": (4,), "beta": (4,)}
    assert layer.state_shapes(shape) == {"running_mean": (4,), "running_var": (4,)}
    params = layer.init_params(shape, np.random.default_rng(0), "he", np.float32)
    np.testing.assert_array_equal(params["gamma"], 1)
    np.testing.assert_array_equal(params["beta"], 0)
    assert params["gamma"].dtype == np.float32
    layer.reset_state(shape, np.float32)
    state = layer.get_state()
    np.testing.assert_array_equal(state["running_mean"], 0)
    np.testing.assert_array_equal(state["running_var"], 1)

    x, gamma, beta, dout = inputs(shape, dtype=np.float32)
    params = {"gamma": gamma, "beta": beta}
    out, cache = layer.forward(x, params, "train")
    kernel = spatial_batchnorm_forward if len(shape) == 4 else batchnorm_forward
    bn_param = {"mode": "train", "momentum": 0.8, "running_var": np.ones(4, np.float32)}  # the layer's start
    want, want_cache = kernel(x, gamma, beta, bn_param)
    np.testing.assert_array_equal(out, want)
    new = layer.get_state()
    np.testing.assert_array_equal(new["running_mean"], bn_param["running_mean"])
    np.testing.assert_array_equal(new["running_var"], bn_param["running_var"])
    assert new["running_mean"].dtype == np.float32
    dx, grads = layer.backward(dout, cache)
    for got, want_g in zip((dx, grads["gamma"], grads["beta"]), batchnorm_backward_alt(dout, want_cache)):
        np.testing.assert_array_equal(got, want_g)

    # get_state hands out copies; set_state restores; test mode uses the state and keeps it
    new["running_mean"][:] = 123
    assert not np.any(layer.get_state()["running_mean"] == 123)
    layer.set_state(state)
    state["running_mean"][:] = 7  # set_state keeps copies too
    np.testing.assert_array_equal(layer.get_state()["running_mean"], 0)
    out, _ = layer.forward(x, params, "test")
    np.testing.assert_allclose(out, _per_channel(gamma, x) * x / np.sqrt(1 + 1e-5) + _per_channel(beta, x),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.get_state()["running_var"], 1)


def _per_channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


@pytest.mark.parametrize("shape, kernel", [((5, 4), layernorm_forward), ((3, 4, 2, 3), spatial_layernorm_forward)])
def test_layernorm_layer_matches_kernels_in_both_modes(shape, kernel):
    layer = LayerNorm(eps=1e-3)
    assert layer.kind == "layernorm" and layer.config() == {"eps": 1e-3}
    assert layer.param_shapes(shape) == {"gamma": (4,), "beta": (4,)}
    assert layer.state_shapes(shape) == {} and layer.get_state() == {}
    x, gamma, beta, dout = inputs(shape)
    want, want_cache = kernel(x, gamma, beta, {"eps": 1e-3})
    for mode in ("train", "test"):
        out, cache = layer.forward(x, {"gamma": gamma, "beta": beta}, mode)
        np.testing.assert_array_equal(out, want)
    dx, grads = layer.backward(dout, cache)
    for got, want_g in zip((dx, grads["gamma"], grads["beta"]), layernorm_backward(dout, want_cache)):
        np.testing.assert_array_equal(got, want_g)


@pytest.mark.parametrize("layer", [BatchNorm(), LayerNorm()])
def test_layers_reject_wrong_rank(layer):
    tokens = layer.kind == "layernorm"  # layernorm takes (N, L, D) tokens too, over their last axis
    for shape in [(4,), (1, 2, 3, 4, 5)] + ([] if tokens else [(2, 3, 4)]):
        _raises(ValueError, str(shape), layer.output_shape, shape)
    params = {"gamma": np.ones(3), "beta": np.zeros(3)}
    x = np.zeros((2, 3, 4) if not tokens else (1, 2, 3, 4, 5))
    _raises(ValueError, "x must", layer.forward, x, params, "train")


def test_layernorm_of_tokens_normalizes_each_over_its_last_axis():
    # nn.LayerNorm(D) on (N, L, D): every token by its own mean and variance, gamma along D
    rng = np.random.default_rng(0)
    x, gamma, beta = rng.standard_normal((2, 3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    out, _ = LayerNorm(eps=1e-6).forward(x, {"gamma": gamma, "beta": beta})
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-6) * gamma + beta, rtol=1e-12)
    _raises(ValueError, "gamma", LayerNorm().forward, x, {"gamma": np.ones(3), "beta": np.zeros(3)}, "train")


def test_layer_hyperparameter_errors_name_them():
    _raises(ValueError, "eps", BatchNorm, -1e-5)
    _raises(ValueError, "momentum", BatchNorm, 1e-5, -0.1)
    _raises(TypeError, "eps", LayerNorm, "small")
    _raises(ValueError, "mode", BatchNorm().forward, np.zeros((2, 3)), {"gamma": np.ones(3), "beta": np.zeros(3)}, "eval")
    _raises(ValueError, "mode", LayerNorm().forward, np.zeros((2, 3)), {"gamma": np.ones(3), "beta": np.zeros(3)}, "eval")
    assert BatchNorm(momentum=0.5).config() == {"eps": 1e-5, "momentum": 0.5}


# --- PyTorch --------------------------------------------------------------------------
def _torch_grads(fn, x, gamma, beta, dout):
    torch = pytest.importorskip("torch")
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out = fn(tx, tg, tb)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), tx.grad.numpy(), tg.grad.numpy(), tb.grad.numpy()


def test_spatial_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = inputs((4, 3, 5, 2))
    N, C, H, W = x.shape
    rm, rv = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
    fn = lambda a, g, b: torch.nn.functional.batch_norm(a, rm, rv, g, b, training=True, momentum=0.1, eps=1e-5)  # noqa: E731
    want = _torch_grads(fn, x, gamma, beta, dout)
    bn_param = {"mode": "train", "momentum": 0.9, "running_var": np.ones(C)}  # torch's start
    out, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    got = (out,) + spatial_batchnorm_backward(dout, cache)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    # torch's momentum is our 1 - momentum, and its running variance is unbiased (M / (M - 1))
    M = N * H * W
    np.testing.assert_allclose(bn_param["running_mean"], rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"] - 0.9, (rv.numpy() - 0.9) * (M - 1) / M, rtol=1e-12)


def test_layernorm_matches_torch():
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = inputs((4, 6))
    fn = lambda a, g, b: torch.nn.functional.layer_norm(a, (6,), g, b, eps=1e-5)  # noqa: E731
    out, cache = layernorm_forward(x, gamma, beta, {})
    for g, w in zip((out,) + layernorm_backward(dout, cache), _torch_grads(fn, x, gamma, beta, dout)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_spatial_layernorm_matches_torch_group_norm_with_one_group():
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = inputs((3, 4, 2, 5))
    fn = lambda a, g, b: torch.nn.functional.group_norm(a, 1, g, b, eps=1e-5)  # noqa: E731
    out, cache = spatial_layernorm_forward(x, gamma, beta, {})
    for g, w in zip((out,) + spatial_layernorm_backward(dout, cache), _torch_grads(fn, x, gamma, beta, dout)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
