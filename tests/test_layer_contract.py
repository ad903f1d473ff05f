"""The contract every registered layer type keeps, checked case by case from one table.

In the spirit of tinygrad's ``helper_test_op``: a new layer type gets every check below
by adding its cases to :data:`CASES` (a meta-test fails for a registered type without
one). For each case, a layer and an input shape (batch included):

- its backward pass against centred differences in float64 (dx and every parameter),
  and ``param_grads`` bitwise equal to the whole backward's parameter gradients;
- the naive kernels equal to the fast ones, where the type has both (:data:`NAIVE`);
- PyTorch parity through its twin (``Layer.to_torch``): output, dx, parameter gradients;
- counted FLOPs equal to its ``exact`` count, kind by kind, float32 and float64, and the
  counted passes computing bitwise what the plain ones compute;
- measured cache bytes equal to ``cache_bytes``, and the footprint's peaks within 10 % of
  the measured ones (on one thread, at a batch large enough for the arrays to dominate);
- what PyTorch's autograd saves for the twin equal to ``torch_saved``, tensor by tensor; the
  bytes the twin's forward leaves besides its output equal to the saved tensors of their own,
  and ``torch_footprint``'s peaks within 10 % of the profiler's;
- the spec round trip through ``config()``; float32 and float64 kept;
- a derivation under every built-in convention, summing to the count.
"""

import inspect

import numpy as np
import pytest

from conftest import assert_numerical_gradients
from tallynet.cost import CONVENTIONS, summary
from tallynet.counts import KINDS, PARTS, Ops
from tallynet.layers import (LAYER_TYPES, AdaptiveAvgPool2d, Add, Affine, AvgPool2d, BatchNorm, ChannelShuffle,
                             ChannelSlice, ClassToken, Concat, Conv2d, ConvTranspose2d, CostNotStated, Dropout, Flatten,
                             GELU, GlobalAvgPool, GroupNorm, Hardsigmoid, Hardswish, Layer, LayerNorm, LeakyReLU, Matmul,
                             MaxPool2d, Mul, MultiheadAttention, Permute, PosEmbedding, ReLU, ReLU6, Reshape, Select,
                             Sigmoid, SiLU, Softmax, Tanh, Upsample, conv_backward_naive, conv_transpose_backward_naive,
                             conv_transpose_forward_naive,
                             conv_forward_naive, max_pool_backward_naive, max_pool_forward_naive)
from tallynet.layers.base import REGISTRY, Footprint, Saved
from tallynet.layers import conv_bands
from tallynet.layers.conv import OneDNNTwin
from tallynet.models import Sequential
from tallynet.models.spec import parse_layer
from tallynet.profile import Counter, count_layer, counting, measure_layer, plain
from tallynet.profile.profiler import random_input

#: ``(id, layer factory, input shape)``: a few configurations of every registered type
CASES = [
    ("affine", lambda: Affine(7), (3, 4, 2)),
    ("affine-batch1", lambda: Affine(3), (1, 5)),
    ("relu", ReLU, (3, 5)),
    ("relu-image", ReLU, (2, 3, 4, 5)),
    ("leaky_relu", LeakyReLU, (3, 7)),
    ("leaky_relu-0.2-image", lambda: LeakyReLU(0.2), (2, 3, 4, 5)),
    ("sigmoid", Sigmoid, (2, 3, 4, 4)),
    ("tanh", Tanh, (3, 7)),
    ("tanh-image", Tanh, (2, 3, 4, 5)),
    ("relu6", ReLU6, (3, 7)),
    ("relu6-image", ReLU6, (2, 3, 4, 5)),
    ("hardsigmoid", Hardsigmoid, (4, 9)),
    ("hardsigmoid-image", Hardsigmoid, (1, 3, 5, 4)),
    ("hardswish", Hardswish, (4, 9)),
    ("hardswish-image", Hardswish, (2, 2, 3, 5)),
    ("silu", SiLU, (3, 8)),
    ("silu-image", SiLU, (2, 3, 4, 5)),
    ("gelu", GELU, (5, 7)),
    ("gelu-image", GELU, (1, 3, 5, 6)),
    ("flatten", Flatten, (2, 3, 4, 4)),
    ("conv-bias", lambda: Conv2d(4, 3, stride=1, pad=1), (2, 3, 6, 6)),
    ("conv-no-bias", lambda: Conv2d(4, 3, stride=1, pad=1, bias=False), (2, 3, 6, 6)),
    ("conv-stride2-pad2", lambda: Conv2d(5, 3, stride=2, pad=2), (2, 3, 7, 6)),
    ("conv-nonsquare", lambda: Conv2d(4, (3, 2)), (2, 2, 7, 5)),
    ("conv-batch1", lambda: Conv2d(3, 1), (1, 2, 4, 3)),
    ("conv-rows-left-over", lambda: Conv2d(2, 3, stride=2, pad=1), (2, 3, 6, 7)),  # (6 + 2 - 3) % 2 = 1
    ("conv-uncovered-edge", lambda: Conv2d(2, 3, stride=2), (1, 2, 6, 6)),  # last row and column under no window
    ("conv-one-window", lambda: Conv2d(1, (4, 3)), (1, 1, 4, 3)),
    ("conv-pointwise", lambda: Conv2d(5, 1), (2, 3, 4, 5)),  # x is its own columns; dx a view of dcols
    ("conv-pointwise-groups2-no-bias", lambda: Conv2d(4, 1, groups=2, bias=False), (2, 6, 3, 4)),
    ("conv-1x1-stride2", lambda: Conv2d(3, 1, stride=2), (2, 3, 5, 6)),  # not pointwise: im2col subsamples
    ("conv-groups2", lambda: Conv2d(6, 3, pad=1, groups=2), (2, 4, 5, 6)),
    ("conv-depthwise-stride2", lambda: Conv2d(3, 3, stride=2, pad=1, groups=3), (2, 3, 7, 6)),
    ("conv-depthwise-multiplier2-no-bias", lambda: Conv2d(4, (3, 2), groups=2, bias=False), (1, 2, 5, 4)),
    ("conv-dilation2", lambda: Conv2d(3, 3, pad=2, dilation=2), (2, 2, 7, 6)),
    ("conv-dilation-nonsquare-stride2", lambda: Conv2d(2, (2, 3), stride=2, dilation=2), (1, 3, 8, 9)),
    ("conv-groups-dilation-batch1", lambda: Conv2d(4, 3, stride=2, pad=1, groups=4, dilation=3), (1, 4, 9, 8)),
    # by bands (see _by_bands_at_small_sizes), with 16 channels or more per group at stride 1 dx
    # is dout correlated with the flipped filters; otherwise dcols and col2im
    ("conv-by-bands-dx-by-correlation", lambda: Conv2d(3, 3, pad=1), (2, 16, 5, 6)),
    ("conv-by-bands-dx-by-correlation-5x5-no-pad", lambda: Conv2d(2, 5, bias=False), (1, 16, 7, 6)),
    ("conv-by-bands-dx-by-correlation-groups2-dilation2", lambda: Conv2d(4, 3, pad=2, groups=2, dilation=2),
     (1, 32, 6, 5)),
    ("conv-by-bands-stride2-groups2", lambda: Conv2d(4, 3, stride=2, pad=1, groups=2), (2, 4, 7, 6)),
    ("conv_transpose-stride2", lambda: ConvTranspose2d(3, 2, stride=2), (2, 4, 3, 4)),  # tiles the output
    ("conv_transpose-overlap-pad1", lambda: ConvTranspose2d(4, 3, stride=2, pad=1), (2, 3, 4, 3)),
    ("conv_transpose-nonsquare-no-bias", lambda: ConvTranspose2d(2, (3, 2), bias=False), (2, 2, 4, 5)),
    ("conv_transpose-batch1-stride3", lambda: ConvTranspose2d(2, 4, stride=3, pad=1), (1, 3, 3, 2)),
    ("maxpool-tiles", lambda: MaxPool2d(2), (2, 3, 4, 6)),
    ("maxpool-im2col-overlap", lambda: MaxPool2d(3, stride=2), (2, 3, 7, 7)),
    ("maxpool-im2col-untiled", lambda: MaxPool2d(2), (2, 3, 5, 5)),
    ("maxpool-nonsquare", lambda: MaxPool2d((2, 3), stride=1), (1, 2, 5, 6)),
    ("maxpool-identity", lambda: MaxPool2d(1), (1, 2, 3, 2)),
    ("maxpool-im2col-nonsquare-stride2", lambda: MaxPool2d((2, 3), stride=2), (1, 2, 4, 6)),
    ("maxpool-im2col-pad1", lambda: MaxPool2d(3, stride=2, pad=1), (2, 3, 8, 7)),
    ("maxpool-im2col-ceil", lambda: MaxPool2d(2, ceil_mode=True), (2, 3, 5, 7)),
    ("maxpool-im2col-ceil-pad1-batch1", lambda: MaxPool2d(3, stride=2, pad=1, ceil_mode=True), (1, 2, 6, 9)),
    ("maxpool-im2col-nonsquare-pad-ceil", lambda: MaxPool2d((2, 3), stride=2, pad=1, ceil_mode=True), (2, 2, 7, 6)),
    ("maxpool-im2col-ceil-drops-padding-start", lambda: MaxPool2d(2, stride=2, pad=1, ceil_mode=True), (1, 2, 4, 5)),
    ("maxpool-tiles-ceil", lambda: MaxPool2d(3, ceil_mode=True), (2, 2, 6, 9)),
    ("avgpool-tiles", lambda: AvgPool2d(2), (2, 3, 4, 4)),
    ("avgpool-im2col", lambda: AvgPool2d(3, stride=2), (2, 3, 7, 7)),
    ("avgpool-im2col-untiled", lambda: AvgPool2d(2), (2, 1, 5, 7)),
    ("avgpool-nonsquare", lambda: AvgPool2d((2, 3), stride=1), (2, 2, 4, 5)),
    ("avgpool-im2col-pad1", lambda: AvgPool2d(3, stride=2, pad=1), (2, 3, 7, 6)),
    ("avgpool-im2col-ceil", lambda: AvgPool2d(2, ceil_mode=True), (2, 2, 5, 7)),  # last windows: 1 row, 1 column
    ("avgpool-im2col-ceil-pad1-batch1", lambda: AvgPool2d(3, stride=2, pad=1, ceil_mode=True), (1, 3, 6, 8)),
    ("avgpool-im2col-nonsquare-pad-ceil", lambda: AvgPool2d((2, 3), stride=2, pad=1, ceil_mode=True), (2, 2, 6, 7)),
    ("avgpool-tiles-ceil", lambda: AvgPool2d(2, ceil_mode=True), (2, 3, 4, 6)),  # divides exactly: the tiles
    ("global_avgpool", GlobalAvgPool, (2, 3, 4, 5)),
    ("adaptive_avgpool-overlapping", lambda: AdaptiveAvgPool2d(3), (2, 3, 5, 7)),  # windows share rows
    ("adaptive_avgpool-nonsquare-batch1", lambda: AdaptiveAvgPool2d((2, 4)), (1, 2, 6, 8)),  # they tile
    ("adaptive_avgpool-upsampling", lambda: AdaptiveAvgPool2d((4, 3)), (2, 2, 3, 2)),  # more outputs than inputs
    ("adaptive_avgpool-to-1", lambda: AdaptiveAvgPool2d(1), (2, 3, 4, 5)),
    ("upsample-2", lambda: Upsample(2), (2, 3, 4, 5)),
    ("upsample-3-batch1-nonsquare", lambda: Upsample(3), (1, 2, 3, 5)),
    ("upsample-1", lambda: Upsample(1), (2, 2, 3, 3)),
    ("batchnorm-2d", BatchNorm, (6, 5)),
    ("batchnorm-4d", BatchNorm, (2, 3, 4, 5)),
    ("layernorm-2d", LayerNorm, (6, 5)),
    ("layernorm-4d", LayerNorm, (2, 3, 4, 5)),
    ("groupnorm-2-groups", lambda: GroupNorm(2), (2, 4, 3, 5)),
    ("groupnorm-per-channel", lambda: GroupNorm(3), (3, 3, 4, 4)),
    ("groupnorm-features", lambda: GroupNorm(2), (4, 8)),
    ("dropout", lambda: Dropout(0.7, seed=1), (6, 5)),
    ("dropout-fixed-image", lambda: Dropout(0.7, seed=2, fixed=True), (2, 3, 4, 4)),
    ("add", Add, [(2, 3, 4, 5), (2, 3, 4, 5)]),
    ("add-three-features", Add, [(4, 6), (4, 6), (4, 6)]),
    ("concat", Concat, [(2, 3, 4, 5), (2, 1, 4, 5), (2, 2, 4, 5)]),
    ("concat-features", Concat, [(3, 4), (3, 2)]),
    ("mul-channel-scale", Mul, [(2, 3, 4, 5), (2, 3)]),
    ("mul-broadcast-4d", Mul, [(2, 3, 4, 5), (2, 3, 1, 1)]),
    ("mul-elementwise", Mul, [(3, 4), (3, 4)]),
    # a vision transformer's layers, on (N, L, D) tokens
    ("affine-tokens", lambda: Affine(6, flatten=False), (2, 5, 4)),
    ("affine-features-no-flatten", lambda: Affine(3, flatten=False), (4, 5)),
    ("layernorm-tokens", lambda: LayerNorm(eps=1e-6), (2, 5, 6)),
    ("gelu-tokens", GELU, (2, 5, 6)),
    ("softmax-tokens", Softmax, (2, 5, 7)),
    ("softmax-scores-4d", Softmax, (2, 3, 4, 4)),
    ("matmul", Matmul, [(2, 3, 4), (2, 4, 5)]),
    ("matmul-heads-4d", Matmul, [(2, 3, 5, 2), (2, 3, 2, 5)]),
    ("reshape-image-to-tokens", lambda: Reshape([3, -1]), (2, 3, 4, 5)),
    ("reshape-tokens", lambda: Reshape([4, 3, 2]), (2, 6, 4)),
    ("permute", lambda: Permute([1, 0]), (2, 3, 5)),
    ("permute-4d", lambda: Permute([2, 0, 1]), (2, 3, 4, 5)),
    ("select-class-token", lambda: Select(0), (3, 5, 4)),
    ("select-axis1", lambda: Select(2, axis=1), (2, 3, 4)),
    ("class_token", ClassToken, (3, 4, 5)),
    ("pos_embedding", PosEmbedding, (3, 4, 5)),
    ("multihead_attention", lambda: MultiheadAttention(2), (2, 5, 8)),
    ("multihead_attention-one-head-batch1", lambda: MultiheadAttention(1), (1, 4, 3)),
    ("channel_shuffle-2", lambda: ChannelShuffle(2), (2, 6, 3, 4)),
    ("channel_shuffle-3-batch1", lambda: ChannelShuffle(3), (1, 6, 2, 5)),
    ("channel_slice-first-half", lambda: ChannelSlice(0, 3), (2, 6, 3, 4)),
    ("channel_slice-middle", lambda: ChannelSlice(2, 5), (1, 7, 4, 3)),
    ("channel_slice-features", lambda: ChannelSlice(1, 4), (3, 6)),
]
IDS = [c[0] for c in CASES]


@pytest.fixture(autouse=True)
def _by_bands_at_small_sizes(request, monkeypatch):
    """Cases named conv-by-bands run the banded convolution kernels at their small shapes (by
    default only columns of MIN_BAND_COLUMNS entries or more do), the cost model with them."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and str(callspec.params.get("label", "")).startswith("conv-by-bands"):
        monkeypatch.setattr(conv_bands, "MIN_BAND_COLUMNS", 0)


def _conv_naive(layer, x, params, dout):
    out, cache = conv_forward_naive(x, params["W"], params.get("b"), layer.conv_param)
    dx, dw, db = conv_backward_naive(dout, cache)
    return out, dx, {"W": dw, "b": db} if layer.bias else {"W": dw}


def _conv_transpose_naive(layer, x, params, dout):
    out, cache = conv_transpose_forward_naive(x, params["W"], params.get("b"), layer.conv_param)
    dx, dw, db = conv_transpose_backward_naive(dout, cache)
    return out, dx, {"W": dw, "b": db} if layer.bias else {"W": dw}


def _maxpool_naive(layer, x, params, dout):
    out, cache = max_pool_forward_naive(x, layer.pool_param)
    return out, max_pool_backward_naive(dout, cache), {}


#: the types with a naive reference besides their fast kernels: ``fn(layer, x, params, dout)
#: -> (out, dx, grads)``
NAIVE = {"conv": _conv_naive, "conv_transpose": _conv_transpose_naive, "maxpool": _maxpool_naive}

GRADIENT_TOLERANCE = {"batchnorm": 1e-6, "layernorm": 1e-6, "groupnorm": 1e-6}  # the statistics' finite differences are noisier


def _data(layer, shape, dtype, seed=0):
    """Parameters, an input (a list of them for a merge) and an upstream gradient; images
    channel-major, as in a model."""
    rng = np.random.default_rng(seed)
    params = layer.init_params(shape, rng, "he", dtype)
    # scale and shift away from their initial 1 and 0, so that their gradients are exercised
    params = {k: (v + 0.3 * rng.standard_normal(v.shape)).astype(dtype) for k, v in params.items()}
    x, dout = (random_input(s, rng, dtype, as_in_a_model=True) for s in (shape, layer.output_shape(shape)))
    layer.reset_state(shape, dtype)
    layer.fix_randomness(0)  # dropout: one mask for every call, so f is a function of x
    return params, x, dout


def _named(x, name):
    """``{name: x}``, or ``{name0: x[0], ...}`` for a merge's list."""
    return {f"{name}{i}": a for i, a in enumerate(x)} if isinstance(x, list) else {name: x}


def _contiguous(x, torch):
    """PyTorch tensors of ``x`` (each array, for a list) that require gradients."""
    if isinstance(x, list):
        return [_contiguous(a, torch) for a in x]
    return torch.from_numpy(np.ascontiguousarray(x)).requires_grad_()


def test_every_registered_layer_type_has_a_case():
    covered = {make().kind for _, make, _ in CASES}
    ours = {kind for kind, cls in LAYER_TYPES.items() if cls.__module__.startswith("tallynet.")}
    assert ours - covered == set(), f"layer types without a case in CASES: {sorted(ours - covered)}"


@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_backward_matches_numerical_gradients_in_float64(label, make, shape):
    layer = make()
    params, x, dout = _data(layer, shape, np.float64)
    out, cache = layer.forward(x, params, "train")
    dx, grads = layer.backward(dout, cache)
    xs, dxs = _named(x, "x"), _named(dx, "x")
    assert_numerical_gradients(lambda: layer.forward(x, params, "train")[0], {**xs, **params},
                               {**dxs, **grads}, dout, GRADIENT_TOLERANCE.get(layer.kind, 1e-7), label)
    param_grads = layer.param_grads(dout, layer.forward(x, params, "train")[1])
    assert set(param_grads) == set(layer.param_names), label
    assert all(np.array_equal(param_grads[k], grads[k]) for k in param_grads), label


@pytest.mark.parametrize("label, make, shape", [c for c in CASES if c[1]().kind in NAIVE],
                         ids=[c[0] for c in CASES if c[1]().kind in NAIVE])
def test_naive_kernels_equal_the_fast_ones(label, make, shape):
    layer = make()
    params, x, dout = _data(layer, shape, np.float64)
    out, cache = layer.forward(x, params, "train")
    dx, grads = layer.backward(dout, cache)
    n_out, n_dx, n_grads = NAIVE[layer.kind](layer, x, params, dout)
    np.testing.assert_allclose(n_out, out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(n_dx, dx, rtol=1e-10, atol=1e-12)
    for k in grads:
        np.testing.assert_allclose(n_grads[k], grads[k], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_matches_its_pytorch_twin(label, make, shape):
    torch = pytest.importorskip("torch")
    layer = make()
    params, x, dout = _data(layer, shape, np.float64)
    # dropout draws its own masks in PyTorch: compared in test mode, where both are the identity
    mode = "test" if layer.kind == "dropout" else "train"
    twin = torch.nn.Sequential(*layer.to_torch(shape, {k: torch.from_numpy(v.copy()) for k, v in params.items()},
                                               torch.nn)).double().train(mode == "train")
    tx = _contiguous(x, torch)
    t_out = twin(tx)
    t_out.backward(torch.from_numpy(np.ascontiguousarray(dout)))
    out, cache = layer.forward(x, params, mode)
    dx, grads = layer.backward(dout, cache)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-9, atol=1e-12)
    for ours, theirs in zip(dx if isinstance(dx, list) else [dx], tx if isinstance(tx, list) else [tx], strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    # the twin's parameters come in the layer's order; a matrix may be stored transposed (Linear)
    for name, p in zip(layer.param_names, twin.parameters()):
        ref = p.grad.numpy()
        np.testing.assert_allclose(grads[name], ref if ref.shape == grads[name].shape else ref.T,
                                   rtol=1e-9, atol=1e-12, err_msg=f"{label} d{name}")


def _mismatches(predicted, fwd, bwd):
    return [f"{phase} {kind}: predicted {getattr(p, kind)}, counted {getattr(c, kind)}"
            for phase, p, c in (("forward", predicted.forward, fwd), ("backward", predicted.backward, bwd))
            for kind in KINDS if getattr(p, kind) != getattr(c, kind)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_counted_flops_equal_the_exact_count_kind_by_kind(label, make, shape, dtype):
    layer = make()
    fwd, bwd, unknown = count_layer(layer, shape, dtype)
    assert not unknown, f"{label}: operations the counter could not price: {unknown}"
    assert not _mismatches(layer.exact_flops(shape), fwd, bwd), (label, _mismatches(layer.exact_flops(shape), fwd, bwd))


def test_pooling_cases_take_the_path_their_name_says():
    for label, make, shape in CASES:
        if "tiles" in label or "im2col" in label:
            assert make().uses_col2im(shape) == ("im2col" in label), label


@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_counted_passes_compute_bitwise_the_same_values(label, make, shape):
    layer = make()
    params, x, dout = _data(layer, shape, np.float32, seed=1)
    out, cache = layer.forward(x, params, "train")
    dx, grads = layer.backward(dout, cache)
    layer.reset_state(shape, np.float32)  # the same running averages again
    with Counter(owners=[layer]):
        c_out, c_cache = layer.forward(counting(x), counting(params), "train")
        c_dx, c_grads = layer.backward(counting(dout), c_cache)
    assert np.array_equal(plain(c_out), out) and plain(c_out).dtype == out.dtype, label
    for c, d in zip(plain(c_dx) if isinstance(dx, list) else [plain(c_dx)], dx if isinstance(dx, list) else [dx]):
        assert np.array_equal(c, d) and c.dtype == d.dtype, label
    for key, g in grads.items():
        assert np.array_equal(plain(c_grads[key]), g), (label, key)


def _large(shape, elements=1 << 19):
    """The case's shape with a batch large enough for its arrays to be a few MB (each input's,
    for a merge, by the first input's size)."""
    shapes = shape if isinstance(shape, list) else [shape]
    batch = max(shapes[0][0], -(-elements // int(np.prod(shapes[0][1:]))))
    large = [(batch,) + tuple(s[1:]) for s in shapes]
    return large if isinstance(shape, list) else large[0]


@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_measured_memory_matches_cache_bytes_and_footprint(label, make, shape):
    layer = make()
    shape = _large(shape)
    itemsize = np.dtype(np.float32).itemsize
    cache_bytes, forward, backward = measure_layer(layer, shape, np.float32)
    assert cache_bytes == layer.cache_bytes(shape, itemsize), label
    footprint = layer.footprint(shape, itemsize)
    assert isinstance(footprint, Footprint)
    checked = 0
    for what, predicted, measured in (("forward", footprint.forward_peak, forward),
                                      ("backward", footprint.backward_peak, backward)):
        if predicted >= 1 << 20:  # below a MB, NumPy's own buffers are a large part of a peak
            checked += 1
            assert abs(measured - predicted) <= 0.1 * predicted, (label, what, predicted, measured)
    assert checked or footprint.is_view, f"{label}: nothing large enough to check"


def _own_names(layer, shape):
    return (*layer.param_names, *layer.state_shapes(shape))


@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_torch_saved_is_what_autograd_saves(label, make, shape):
    pytest.importorskip("torch")
    from tallynet.profile.torch_memory import autograd_saved

    layer = make()
    stated = layer.torch_saved(shape, np.float32)
    assert all(isinstance(t, Saved) for t in stated), label
    # a tensor of its own is known by its size and dtype; the layer's input, output, parameters and
    # state by name (autograd may save a view of them: a flattened input, a transposed weight)
    own = _own_names(layer, shape)
    known = [t.name if t.name.startswith("input") or t.name == "output" or t.name in own else "" for t in stated]
    expected = sorted((name, int(np.prod(t.shape)), t.dtype) for name, t in zip(known, stated))
    assert sorted((name or "", n, dtype) for name, n, dtype in autograd_saved(layer, shape)) == expected, label


@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_measured_torch_memory_matches_torch_saved_and_footprint(label, make, shape):
    pytest.importorskip("torch")
    from tallynet.cost.torch_memory import saved_bytes
    from tallynet.profile.torch_memory import measure_torch_layer

    layer = make()
    shape = _large(shape)
    kept, forward, backward = measure_torch_layer(layer, shape)
    own = _own_names(layer, shape)
    assert kept == saved_bytes(layer.torch_saved(shape, np.float32), own), label
    footprint = layer.torch_footprint(shape, 4)
    assert isinstance(footprint, Footprint) and not (footprint.keeps_input or footprint.keeps_output), label
    if isinstance(layer, OneDNNTwin):
        # oneDNN pads these cases' few channels (1 to 6) to its block of 16 in its copies, which
        # the footprint takes at the plain size: tests/test_torch_memory.py checks the peaks of
        # convolutions with whole blocks of channels
        return
    for what, predicted, measured in (("forward", footprint.forward_peak, forward),
                                      ("backward", footprint.backward_peak, backward)):
        if predicted >= 1 << 20:
            assert abs(measured - predicted) <= 0.1 * predicted, (label, what, predicted, measured)


@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_spec_round_trip_through_config(label, make, shape):
    layer = make()
    again = parse_layer(0, {layer.kind: layer.config()} if layer.config() else layer.kind)
    assert type(again) is type(layer) and again.config() == layer.config(), label
    assert again.output_shape(shape) == layer.output_shape(shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_float32_and_float64_are_kept(label, make, shape, dtype):
    layer = make()
    params, x, dout = _data(layer, shape, dtype)
    for mode in ("train", "test"):
        out, cache = layer.forward(x, params, mode)
        dx, grads = layer.backward(dout, cache)
        assert out.dtype == dtype and all(d.dtype == dtype for d in (dx if isinstance(dx, list) else [dx])), label
        assert all(g.dtype == dtype for g in grads.values()), (label, mode)


@pytest.mark.parametrize("convention", list(CONVENTIONS))
@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_every_convention_derives_the_count_term_by_term(label, make, shape, convention):
    layer = make()
    c = CONVENTIONS[convention]
    terms, flops = c.terms(layer, shape), c.flops(layer, shape)
    assert set(terms) <= set(PARTS), label
    for part in PARTS:
        assert sum((t.ops for t in terms.get(part, [])), Ops()) == getattr(flops, part), (label, part)
        assert all(t.label and t.symbol for t in terms.get(part, [])), (label, part)


@pytest.mark.parametrize("label, make, shape", CASES, ids=IDS)
def test_the_class_states_its_costs_and_prose(label, make, shape):
    layer = make()
    cls = type(layer)
    for method in ("exact_terms", "walkthrough_terms", "mac_terms", "cache_bytes", "footprint", "to_torch",
                   "torch_saved", "torch_footprint"):
        assert getattr(cls, method) is not getattr(Layer, method), f"{cls.__name__} does not state {method}"
    assert cls.display_name and cls.group and cls.title and cls.gradient_text != Layer.gradient_text
    assert set(cls.rules) == {"exact", "walkthrough"}, cls.__name__
    assert isinstance(layer.describe(shape), str) and isinstance(layer.given_lines(shape), list)
    assert isinstance(layer.param_lines(shape, 4), list)


# --- the registry -----------------------------------------------------------------------------------
def _unregistered(kind):
    REGISTRY.pop(kind, None)


def test_a_type_registered_without_a_walkthrough_count_is_refused_by_name():
    try:
        class Scale(Layer):
            kind = "test_scale_by_two"

            def forward(self, x, params, mode="train"):
                return 2 * x, None

            def backward(self, dout, cache):
                return 2 * dout, {}

            def exact_terms(self, input_shape):
                return {"forward": []}
            mac_terms = ReLU.mac_terms
            cache_bytes = ReLU.cache_bytes

            def footprint(self, input_shape, itemsize):
                return Footprint()

        assert LAYER_TYPES["test_scale_by_two"] is Scale
        model = Sequential([Scale(), Affine(3)], (4,))
        assert summary(model, convention="exact").totals()["params"] == 15
        with pytest.raises(CostNotStated, match="'test_scale_by_two'.*'walkthrough'"):
            summary(model, convention="walkthrough")
    finally:
        _unregistered("test_scale_by_two")


def test_a_duplicate_kind_is_refused():
    with pytest.raises(TypeError, match="'relu' is already registered by ReLU"):
        class OtherReLU(ReLU):
            kind = "relu"
    assert LAYER_TYPES["relu"] is ReLU


def test_the_registry_is_what_specs_take():
    for kind, cls in LAYER_TYPES.items():
        assert cls.kind == kind and issubclass(cls, Layer)
        assert "self" in inspect.signature(cls.__init__).parameters
