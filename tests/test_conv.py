"""Convolution kernels and the Conv2d layer: naive vs fast, hand-computed values, PyTorch
(when installed), dtypes and argument errors. Numerical gradients and the checks every
layer type shares are in test_layer_contract.py."""

import numpy as np
import pytest

from tallynet.layers.conv import (Conv2d, conv_backward_fast, conv_backward_naive, conv_forward_fast,
                                  conv_forward_naive, conv_param_grads_fast)

IMPLS = {"naive": (conv_forward_naive, conv_backward_naive), "fast": (conv_forward_fast, conv_backward_fast)}

# (x shape, w shape, stride, pad): square and non-square inputs and kernels, batch 1,
# stride 1 and 2, pad 0, 1 and 2, and windows that do not tile the padded input.
CONFIGS = [
    ((2, 2, 5, 5), (3, 2, 3, 3), 1, 1),
    ((1, 2, 6, 5), (3, 2, 2, 3), 2, 0),
    ((2, 2, 5, 4), (3, 2, 3, 2), 2, 2),
    ((2, 3, 6, 7), (2, 3, 3, 3), 2, 1),  # H: (6 + 2 - 3) % 2 = 1 row left over
    ((1, 2, 6, 6), (2, 2, 3, 3), 2, 0),  # last row and column of x under no window
    ((1, 1, 4, 3), (1, 1, 4, 3), 1, 0),  # one window covering all of x
]
CONFIG_IDS = [f"x{x}-w{w}-s{s}-p{p}" for x, w, s, p in CONFIGS]


def make_inputs(x_shape, w_shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


def output_shape(x_shape, w_shape, stride, pad):
    return (x_shape[0], w_shape[0], (x_shape[2] + 2 * pad - w_shape[2]) // stride + 1,
            (x_shape[3] + 2 * pad - w_shape[3]) // stride + 1)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONFIGS + [((4, 5, 11, 9), (6, 5, 3, 4), 2, 1)],
                         ids=CONFIG_IDS + ["larger"])
def test_naive_and_fast_agree(x_shape, w_shape, stride, pad):
    x, w, b = make_inputs(x_shape, w_shape, seed=2)
    param = {"stride": stride, "pad": pad}
    out_naive, cache_naive = conv_forward_naive(x, w, b, param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, param)
    np.testing.assert_allclose(out_fast, out_naive, rtol=1e-10, atol=1e-10)
    dout = np.random.default_rng(3).standard_normal(out_naive.shape)
    for g_fast, g_naive in zip(conv_backward_fast(dout, cache_fast), conv_backward_naive(dout, cache_naive)):
        np.testing.assert_allclose(g_fast, g_naive, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("impl", IMPLS)
def test_hand_computed_values(impl):
    forward, _ = IMPLS[impl]
    # 2x2 box filter, stride 2: each output is the sum of one 2x2 tile plus the bias.
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out, _ = forward(x, np.ones((1, 1, 2, 2)), np.array([1.0]), {"stride": 2, "pad": 0})
    np.testing.assert_array_equal(out, [[[[11.0, 19.0], [43.0, 51.0]]]])
    # 3x3 box filter over a 3x3 block of ones, pad 1: counts the in-bounds neighbours.
    out, _ = forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), np.zeros(1), {"stride": 1, "pad": 1})
    np.testing.assert_array_equal(out, [[[[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]]])
    # Two filters, two channels: filter f picks channel f's top-left pixel, times f + 1.
    w = np.zeros((2, 2, 1, 1))
    w[0, 0], w[1, 1] = 1.0, 2.0
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    out, _ = forward(x, w, np.array([0.0, 10.0]), {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(out, [[x[0, 0], 2 * x[0, 1] + 10]])


@pytest.mark.parametrize("impl", IMPLS)
def test_uncovered_rows_and_columns_get_zero_gradient(impl):
    forward, backward = IMPLS[impl]
    x, w, b = make_inputs((1, 2, 6, 6), (2, 2, 3, 3))
    out, cache = forward(x, w, b, {"stride": 2, "pad": 0})
    assert out.shape == (1, 2, 2, 2)  # floor((6 - 3) / 2) + 1, as PyTorch
    dx = backward(np.ones_like(out), cache)[0]
    assert np.all(dx[:, :, 5, :] == 0) and np.all(dx[:, :, :, 5] == 0)
    assert np.all(dx[:, :, :5, :5] != 0)


@pytest.mark.parametrize("impl", IMPLS)
def test_float32_in_float32_out(impl):
    forward, backward = IMPLS[impl]
    x, w, b = make_inputs((2, 3, 5, 4), (2, 3, 3, 2), dtype=np.float32)
    out, cache = forward(x, w, b, {"stride": 1, "pad": 1})
    assert out.dtype == np.float32
    dx, dw, db = backward(np.ones_like(out), cache)
    assert (dx.dtype, dw.dtype, db.dtype) == (np.float32,) * 3


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONFIGS, ids=CONFIG_IDS)
def test_matches_torch(impl, x_shape, w_shape, stride, pad):
    torch = pytest.importorskip("torch")
    forward, backward = IMPLS[impl]
    x, w, b = make_inputs(x_shape, w_shape, seed=4)
    out, cache = forward(x, w, b, {"stride": stride, "pad": pad})
    dout = np.random.default_rng(5).standard_normal(out.shape)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(backward(dout, cache), (tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)


def bad_args():
    """(label, change to the good arguments, expected error, message pattern)."""
    x, w, b = make_inputs((2, 3, 5, 5), (4, 3, 3, 3))
    good = {"x": x, "w": w, "b": b, "conv_param": {"stride": 1, "pad": 0}}
    cases = [
        ("x rank", {"x": x[0]}, ValueError, r"^x must have 4 dimensions"),
        ("w rank", {"w": w[0]}, ValueError, r"^w must have 4 dimensions"),
        ("b rank", {"b": b[:, None]}, ValueError, r"^b must have 1 dimensions"),
        ("channels", {"w": w[:, :2]}, ValueError, r"^w has 2 input channels .* x has 3"),
        ("b shape", {"b": b[:3]}, ValueError, r"^b has shape \(3,\), expected \(4,\)"),
        ("window height", {"w": np.zeros((4, 3, 6, 3))}, ValueError, r"^x height: window of size 6"),
        ("window width", {"w": np.zeros((4, 3, 3, 8)), "conv_param": {"stride": 1, "pad": 1}},
         ValueError, r"^x width: window of size 8 is larger than the padded input \(5 \+ 2\*1 = 7\)"),
        ("stride zero", {"conv_param": {"stride": 0, "pad": 0}}, ValueError, r"^stride must be >= 1"),
        ("stride float", {"conv_param": {"stride": 1.5, "pad": 0}}, TypeError, r"^stride must be an integer"),
        ("pad negative", {"conv_param": {"stride": 1, "pad": -1}}, ValueError, r"^pad must be >= 0"),
        ("pad missing", {"conv_param": {"stride": 1}}, ValueError, r"^conv_param is missing the key 'pad'"),
        ("x int dtype", {"x": np.ones((2, 3, 5, 5), dtype=np.int64)}, TypeError, r"^x must have a floating dtype"),
        ("w complex dtype", {"w": np.ones((4, 3, 3, 3), dtype=np.complex64)}, TypeError, r"^w must have a floating dtype"),
        ("x list", {"x": x.tolist()}, TypeError, r"^x must be a numpy.ndarray"),
    ]
    return [pytest.param({**good, **change}, error, pattern, id=label) for label, change, error, pattern in cases]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("args, error, pattern", bad_args())
def test_bad_arguments_name_the_argument(impl, args, error, pattern):
    forward, _ = IMPLS[impl]
    with pytest.raises(error, match=pattern):
        forward(**args)


@pytest.mark.parametrize("impl", IMPLS)
def test_backward_checks_dout_shape(impl):
    forward, backward = IMPLS[impl]
    out, cache = forward(*make_inputs((2, 3, 5, 5), (4, 3, 3, 3)), {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match=r"^dout has shape \(2, 4, 3, 2\), expected \(2, 4, 3, 3\)"):
        backward(out[..., :2], cache)


# --- the layer ------------------------------------------------------------------------

def test_conv2d_layer_shapes_params_and_math():
    layer = Conv2d(4, (3, 2), stride=2, pad=1)
    assert layer.kind == "conv" and layer.param_names == ("W", "b")
    assert layer.output_shape((5, 3, 8, 7)) == (5, 4, 4, 4)
    assert layer.param_shapes((5, 3, 8, 7)) == {"W": (4, 3, 3, 2), "b": (4,)}
    params = layer.init_params((5, 3, 8, 7), np.random.default_rng(0), "he", np.float32)
    assert params["W"].shape == (4, 3, 3, 2) and params["W"].dtype == np.float32
    assert params["b"].dtype == np.float32 and not params["b"].any()
    x = np.random.default_rng(1).standard_normal((5, 3, 8, 7)).astype(np.float32)
    out, cache = layer.forward(x, params)
    expected, _ = conv_forward_naive(x, params["W"], params["b"], {"stride": 2, "pad": 1})
    assert out.shape == layer.output_shape(x.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    dx, grads = layer.backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and set(grads) == {"W", "b"}
    np.testing.assert_allclose(grads["b"], np.full(4, 5 * 4 * 4), rtol=1e-6)


def test_conv2d_he_initialisation_scale():
    params = Conv2d(64, 3).init_params((1, 32, 8, 8), np.random.default_rng(0), "he", np.float64)
    assert params["W"].std() == pytest.approx(np.sqrt(2 / (32 * 3 * 3)), rel=0.05)


def test_conv2d_without_bias():
    layer = Conv2d(2, 3, pad=1, bias=False)
    assert layer.param_names == ("W",) and set(layer.param_shapes((1, 3, 4, 4))) == {"W"}
    params = layer.init_params((1, 3, 4, 4), np.random.default_rng(0), 0.1, np.float64)
    assert set(params) == {"W"}
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 4))
    out, cache = layer.forward(x, params)
    np.testing.assert_allclose(out, conv_forward_naive(x, params["W"], np.zeros(2), {"stride": 1, "pad": 1})[0])
    assert set(layer.backward(out, cache)[1]) == {"W"}


@pytest.mark.parametrize("kwargs, config", [
    ({"filters": 8, "kernel": 3}, {"filters": 8, "kernel": 3, "stride": 1, "pad": 0}),
    ({"filters": 8, "kernel": (3, 5), "stride": 2, "pad": 1}, {"filters": 8, "kernel": [3, 5], "stride": 2, "pad": 1}),
    ({"filters": 8, "kernel": [2, 2], "bias": False}, {"filters": 8, "kernel": 2, "stride": 1, "pad": 0, "bias": False}),
])
def test_conv2d_config_round_trips(kwargs, config):
    layer = Conv2d(**kwargs)
    assert layer.config() == config
    assert Conv2d(**layer.config()).config() == config


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"filters": 0, "kernel": 3}, ValueError, r"^filters must be >= 1"),
    ({"filters": 4, "kernel": 0}, ValueError, r"^kernel must be >= 1"),
    ({"filters": 4, "kernel": (3, 0)}, ValueError, r"^kernel width must be >= 1"),
    ({"filters": 4, "kernel": (3, 3, 3)}, ValueError, r"^kernel must be an integer or a \(height, width\) pair"),
    ({"filters": 4, "kernel": 3, "stride": 0}, ValueError, r"^stride must be >= 1"),
    ({"filters": 4, "kernel": 3, "pad": -1}, ValueError, r"^pad must be >= 0"),
    ({"filters": 4, "kernel": 3, "bias": 1}, TypeError, r"^bias must be True or False"),
])
def test_conv2d_rejects_bad_hyperparameters(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        Conv2d(**kwargs)


@pytest.mark.parametrize("input_shape, pattern", [
    ((2, 3, 8), r"^conv: input must have shape \(N, C, H, W\), got \(2, 3, 8\)"),
    ((2, 3, 2, 8), r"^input height: window of size 3 is larger than the padded input \(2 \+ 2\*0 = 2\)"),
    ((2, 3, 8, 1), r"^input width: window of size 3"),
])
def test_conv2d_output_shape_validates_input(input_shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        Conv2d(4, 3).output_shape(input_shape)


def test_conv2d_forward_rejects_channel_mismatch():
    layer = Conv2d(2, 3)
    params = layer.init_params((1, 3, 5, 5), np.random.default_rng(0), "he", np.float64)
    with pytest.raises(ValueError, match=r"^w has 3 input channels .* x has 4"):
        layer.forward(np.zeros((1, 4, 5, 5)), params)


# (x shape, w shape, stride, pad, dilation, groups): dx by the flipped filters (stride 1, 16
# channels or more per group), by col2im (fewer channels; stride 2; a pad wider than a 1x3
# kernel's height reach), dilation, groups, 5x5 and 2x2 kernels
BANDED = [((3, 16, 9, 8), (6, 16, 3, 3), 1, 1, 1, 1), ((3, 4, 9, 8), (6, 4, 3, 3), 1, 1, 1, 1),
          ((3, 4, 9, 8), (6, 2, 3, 3), 2, 1, 1, 2), ((2, 16, 7, 9), (4, 16, 1, 3), 1, 1, 1, 1),
          ((2, 32, 9, 9), (6, 16, 3, 3), 1, 2, 2, 2), ((2, 16, 8, 7), (5, 16, 5, 5), 1, 2, 1, 1),
          ((2, 16, 8, 8), (4, 16, 2, 2), 1, 0, 1, 1)]


@pytest.mark.parametrize("split", ["one thread", "two threads"])
@pytest.mark.parametrize("band_elements", [1, 1 << 30], ids=["one row per band", "one band"])
@pytest.mark.parametrize("x_shape, w_shape, stride, pad, dilation, groups", BANDED)
def test_convolutions_by_bands_equal_the_reference_loops(monkeypatch, x_shape, w_shape, stride, pad, dilation, groups,
                                                         band_elements, split):
    # tallynet.layers.conv_bands: the columns made a band of output rows at a time, the cache only
    # the padded input; the bands and threads only change how the sums are grouped
    from tallynet.layers import _threads, conv_bands
    monkeypatch.setattr(conv_bands, "BAND_ELEMENTS", band_elements)
    monkeypatch.setattr(conv_bands, "MIN_BAND_COLUMNS", 0)  # by bands at these small sizes
    monkeypatch.setattr(_threads, "MIN_ELEMENTS", 0)  # split even these small arrays
    x, w, b = make_inputs(x_shape, w_shape, seed=3)
    x = x.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2)  # not channel-major
    conv_param = {"stride": stride, "pad": pad, "dilation": dilation, "groups": groups}
    with _threads.num_threads(1 if split == "one thread" else 2):
        out, cache = conv_forward_fast(x, w, b, conv_param)
        reference, reference_cache = conv_forward_naive(x, w, b, conv_param)
        np.testing.assert_allclose(out, reference, rtol=1e-12, atol=1e-12)
        N, C, H, W = x_shape
        assert cache[4].shape == (C, H + 2 * pad, W + 2 * pad, N)
        dout = np.random.default_rng(4).standard_normal(out.shape)
        grads = conv_backward_fast(dout, cache)
        for fast, slow in zip(grads, conv_backward_naive(dout, reference_cache)):
            np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
        for alone, together in zip(conv_param_grads_fast(dout, cache), grads[1:]):
            np.testing.assert_array_equal(alone, together)
    out32, _ = conv_forward_fast(*(a.astype(np.float32) for a in (x, w, b)), conv_param)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, reference, rtol=1e-4, atol=1e-4)
