"""Pooling kernels and layers: numerical gradients, naive vs fast (both fast paths),
the tie rule, hand-computed values, PyTorch (when installed), dtypes and errors."""

import numpy as np
import pytest

from tallynet.layers.pooling import (AvgPool2d, GlobalAvgPool, MaxPool2d, avg_pool_backward, avg_pool_forward,
                                     global_avg_pool_backward, global_avg_pool_forward, max_pool_backward_fast,
                                     max_pool_backward_naive, max_pool_forward_fast, max_pool_forward_naive)

MAX_IMPLS = {"naive": (max_pool_forward_naive, max_pool_backward_naive),
             "fast": (max_pool_forward_fast, max_pool_backward_fast)}
# Every kernel that takes pool_param, for the checks they all share.
POOL_IMPLS = {**MAX_IMPLS, "avg": (avg_pool_forward, avg_pool_backward)}


def pool(ph, pw, stride):
    return {"pool_height": ph, "pool_width": pw, "stride": stride}


# (x shape, pool_param, path max_pool_forward_fast must take)
CONFIGS = [
    ((2, 3, 4, 6), pool(2, 2, 2), "tiles"),
    ((1, 2, 6, 3), pool(3, 3, 3), "tiles"),
    ((1, 2, 5, 5), pool(3, 3, 2), "columns"),  # overlapping windows
    ((2, 2, 4, 5), pool(2, 3, 1), "columns"),  # non-square window, stride 1
    ((2, 1, 5, 7), pool(2, 2, 2), "columns"),  # last row and column under no window
    ((1, 2, 4, 6), pool(2, 3, 2), "columns"),  # tiles, but the window is not square
    ((1, 2, 3, 2), pool(1, 1, 1), "tiles"),  # the identity
]
CONFIG_IDS = [f"x{x}-{p['pool_height']}x{p['pool_width']}s{p['stride']}" for x, p, _ in CONFIGS]


def distinct_values(shape, seed=0):
    """Float64 values 0.1 apart in random order: no ties, and a 1e-5 nudge never changes a max."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1


def out_shape(x_shape, p):
    return (x_shape[0], x_shape[1], (x_shape[2] - p["pool_height"]) // p["stride"] + 1,
            (x_shape[3] - p["pool_width"]) // p["stride"] + 1)


@pytest.mark.parametrize("x_shape, pool_param, path", CONFIGS + [((3, 4, 12, 10), pool(2, 2, 2), "tiles"),
                                                                 ((3, 4, 11, 10), pool(3, 2, 2), "columns")],
                         ids=CONFIG_IDS + ["larger-tiles", "larger-columns"])
def test_max_pool_naive_and_fast_agree(x_shape, pool_param, path):
    x = np.random.default_rng(2).standard_normal(x_shape)
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    assert cache_fast[0] == path
    np.testing.assert_allclose(out_fast, out_naive, rtol=1e-10, atol=1e-10)
    dout = np.random.default_rng(3).standard_normal(out_naive.shape)
    np.testing.assert_allclose(max_pool_backward_fast(dout, cache_fast), max_pool_backward_naive(dout, cache_naive),
                               rtol=1e-10, atol=1e-10)


# --- the tie rule: the first maximum in row-major order takes the whole gradient ---

@pytest.mark.parametrize("impl", MAX_IMPLS)
@pytest.mark.parametrize("x_shape, pool_param, path", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("value", [0.0, -2.5])
def test_constant_input_sends_each_window_gradient_to_its_top_left(impl, x_shape, pool_param, path, value):
    forward, backward = MAX_IMPLS[impl]
    x = np.full(x_shape, value)
    out, cache = forward(x, pool_param)
    np.testing.assert_array_equal(out, np.full(out.shape, value))
    dout = np.random.default_rng(0).standard_normal(out.shape)
    expected = np.zeros(x_shape)
    s = pool_param["stride"]
    for p in range(out.shape[2]):
        for q in range(out.shape[3]):
            expected[:, :, p * s, q * s] += dout[:, :, p, q]
    np.testing.assert_allclose(backward(dout, cache), expected, rtol=1e-12, atol=0)


# Windows [[1, 5], [5, 2]] (tie at (0, 1) and (1, 0)) and [[0, 0], [0, 0]]; the extra
# column in the second input only forces the columns path and is under no window.
TIE_INPUTS = {"tiles": [[1.0, 5.0, 0.0, 0.0], [5.0, 2.0, 0.0, 0.0]],
              "columns": [[1.0, 5.0, 0.0, 0.0, 9.0], [5.0, 2.0, 0.0, 0.0, 9.0]]}


@pytest.mark.parametrize("impl", MAX_IMPLS)
@pytest.mark.parametrize("path", TIE_INPUTS)
def test_hand_built_ties(impl, path):
    forward, backward = MAX_IMPLS[impl]
    x = np.array(TIE_INPUTS[path])[None, None]
    out, cache = forward(x, pool(2, 2, 2))
    if impl == "fast":
        assert cache[0] == path
    np.testing.assert_array_equal(out, [[[[5.0, 0.0]]]])
    dx = backward(np.array([[[[3.0, 7.0]]]]), cache)
    expected = np.zeros_like(x)
    expected[0, 0, 0, 1] = 3.0  # first 5 in row-major order, not the one at (1, 0)
    expected[0, 0, 0, 2] = 7.0  # top-left of the all-zero window
    np.testing.assert_array_equal(dx, expected)


def test_hand_computed_average_pooling():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out, cache = avg_pool_forward(x, pool(2, 2, 2))
    np.testing.assert_array_equal(out, [[[[2.5, 4.5], [10.5, 12.5]]]])
    # Overlapping windows (3x3, stride 1, on 4x4): the centre pixels are in all four.
    out, cache = avg_pool_forward(x, pool(3, 3, 1))
    dx = avg_pool_backward(np.full((1, 1, 2, 2), 9.0), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


# --- dtypes ---------------------------------------------------------------------------

@pytest.mark.parametrize("impl", POOL_IMPLS)
@pytest.mark.parametrize("x_shape, pool_param, path", CONFIGS[:3], ids=CONFIG_IDS[:3])
def test_float32_in_float32_out(impl, x_shape, pool_param, path):
    forward, backward = POOL_IMPLS[impl]
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    out, cache = forward(x, pool_param)
    assert out.dtype == np.float32
    assert backward(np.ones_like(out), cache).dtype == np.float32


def test_global_avg_pool_float32_in_float32_out():
    out, cache = global_avg_pool_forward(np.ones((2, 3, 4, 4), dtype=np.float32))
    assert out.dtype == np.float32
    assert global_avg_pool_backward(np.ones((2, 3), dtype=np.float32), cache).dtype == np.float32


# --- PyTorch ---------------------------------------------------------------------------

@pytest.mark.parametrize("impl", POOL_IMPLS)
@pytest.mark.parametrize("x_shape, pool_param, path", CONFIGS, ids=CONFIG_IDS)
def test_matches_torch(impl, x_shape, pool_param, path):
    torch = pytest.importorskip("torch")
    forward, backward = POOL_IMPLS[impl]
    torch_pool = torch.nn.functional.avg_pool2d if impl == "avg" else torch.nn.functional.max_pool2d
    x = distinct_values(x_shape, seed=4)
    out, cache = forward(x, pool_param)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch_pool(tx, (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"])
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backward(dout, cache), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_global_avg_pool_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.adaptive_avg_pool2d(tx, 1).flatten(1)
    dout = np.random.default_rng(1).standard_normal((2, 3))
    tout.backward(torch.tensor(dout))
    out, cache = global_avg_pool_forward(x)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(global_avg_pool_backward(dout, cache), tx.grad.numpy(), rtol=1e-12)


# --- bad arguments ---------------------------------------------------------------------

BAD_ARGS = [
    ("x rank", np.zeros((2, 4, 4)), pool(2, 2, 2), ValueError, r"^x must have 4 dimensions"),
    ("x int dtype", np.zeros((1, 1, 4, 4), dtype=np.int64), pool(2, 2, 2), TypeError, r"^x must have a floating"),
    ("pool_height zero", np.zeros((1, 1, 4, 4)), pool(0, 2, 2), ValueError, r"^pool_height must be >= 1"),
    ("pool_width zero", np.zeros((1, 1, 4, 4)), pool(2, 0, 2), ValueError, r"^pool_width must be >= 1"),
    ("stride zero", np.zeros((1, 1, 4, 4)), pool(2, 2, 0), ValueError, r"^stride must be >= 1"),
    ("stride float", np.zeros((1, 1, 4, 4)), pool(2, 2, 2.0), TypeError, r"^stride must be an integer"),
    ("window height", np.zeros((1, 1, 2, 4)), pool(3, 2, 1), ValueError,
     r"^x height: window of size 3 is larger than the padded input \(2 \+ 2\*0 = 2\)"),
    ("window width", np.zeros((1, 1, 4, 2)), pool(2, 3, 1), ValueError, r"^x width: window of size 3"),
    ("missing key", np.zeros((1, 1, 4, 4)), {"pool_height": 2, "stride": 2}, ValueError,
     r"^pool_param is missing the key 'pool_width'"),
    ("not a dict", np.zeros((1, 1, 4, 4)), (2, 2, 2), TypeError, r"^pool_param must be a dict"),
]


@pytest.mark.parametrize("impl", POOL_IMPLS)
@pytest.mark.parametrize("x, pool_param, error, pattern", [pytest.param(*case[1:], id=case[0]) for case in BAD_ARGS])
def test_bad_arguments_name_the_argument(impl, x, pool_param, error, pattern):
    forward, _ = POOL_IMPLS[impl]
    with pytest.raises(error, match=pattern):
        forward(x, pool_param)


@pytest.mark.parametrize("impl", POOL_IMPLS)
def test_backward_checks_dout_shape(impl):
    forward, backward = POOL_IMPLS[impl]
    out, cache = forward(np.zeros((2, 3, 4, 4)), pool(2, 2, 2))
    with pytest.raises(ValueError, match=r"^dout has shape \(2, 3, 2, 1\), expected \(2, 3, 2, 2\)"):
        backward(out[..., :1], cache)


def test_global_avg_pool_bad_arguments():
    with pytest.raises(ValueError, match=r"^x must have 4 dimensions"):
        global_avg_pool_forward(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"^x must have a floating dtype"):
        global_avg_pool_forward(np.zeros((2, 3, 4, 4), dtype=np.int32))
    _, cache = global_avg_pool_forward(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"^dout has shape \(2, 3, 1, 1\), expected \(2, 3\)"):
        global_avg_pool_backward(np.zeros((2, 3, 1, 1)), cache)


# --- layers ------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, forward, backward", [(MaxPool2d, max_pool_forward_naive, max_pool_backward_naive),
                                                    (AvgPool2d, avg_pool_forward, avg_pool_backward)])
def test_pool_layers_call_their_kernels(cls, forward, backward):
    layer = cls((3, 2), stride=2)
    assert layer.output_shape((2, 3, 7, 6)) == (2, 3, 3, 3)
    x = distinct_values((2, 3, 7, 6))
    out, cache = layer.forward(x, {})
    expected, expected_cache = forward(x, pool(3, 2, 2))
    np.testing.assert_allclose(out, expected)
    dout = np.random.default_rng(0).standard_normal(out.shape)
    dx, grads = layer.backward(dout, cache)
    np.testing.assert_allclose(dx, backward(dout, expected_cache))
    assert grads == {} and layer.param_names == ()


@pytest.mark.parametrize("cls, kind", [(MaxPool2d, "maxpool"), (AvgPool2d, "avgpool")])
@pytest.mark.parametrize("kwargs, config", [
    ({"kernel": 2}, {"kernel": 2, "stride": 2}),
    ({"kernel": 3, "stride": 1}, {"kernel": 3, "stride": 1}),
    ({"kernel": (2, 3), "stride": 1}, {"kernel": [2, 3], "stride": 1}),
    ({"kernel": [2, 2]}, {"kernel": 2, "stride": 2}),
])
def test_pool_layer_config(cls, kind, kwargs, config):
    layer = cls(**kwargs)
    assert layer.kind == kind
    assert layer.config() == config
    assert cls(**layer.config()).config() == config


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"kernel": 0}, ValueError, r"^kernel must be >= 1"),
    ({"kernel": (2, 0), "stride": 1}, ValueError, r"^kernel width must be >= 1"),
    ({"kernel": 2, "stride": 0}, ValueError, r"^stride must be >= 1"),
    ({"kernel": (2, 3)}, ValueError, r"^stride must be given when the kernel is not square"),
])
def test_pool_layer_rejects_bad_hyperparameters(cls, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        cls(**kwargs)


@pytest.mark.parametrize("layer, input_shape, pattern", [
    (MaxPool2d(2), (2, 3, 8), r"^maxpool: input must have shape \(N, C, H, W\), got \(2, 3, 8\)"),
    (AvgPool2d(2), (2, 3, 8, 8, 1), r"^avgpool: input must have shape \(N, C, H, W\)"),
    (GlobalAvgPool(), (2, 3), r"^global_avgpool: input must have shape \(N, C, H, W\)"),
    (MaxPool2d(3), (2, 3, 2, 8), r"^input height: window of size 3 is larger than the padded input"),
    (AvgPool2d((2, 5), stride=1), (2, 3, 8, 4), r"^input width: window of size 5"),
])
def test_pool_layer_output_shape_validates_input(layer, input_shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        layer.output_shape(input_shape)


def test_global_avg_pool_layer():
    layer = GlobalAvgPool()
    assert layer.kind == "global_avgpool" and layer.config() == {}
    assert layer.output_shape((5, 7, 3, 4)) == (5, 7)
    x = np.random.default_rng(0).standard_normal((5, 7, 3, 4))
    out, cache = layer.forward(x, {})
    np.testing.assert_allclose(out, x.mean(axis=(2, 3)))
    dx, grads = layer.backward(np.ones((5, 7)), cache)
    np.testing.assert_allclose(dx, np.full(x.shape, 1 / 12))
    assert grads == {}
