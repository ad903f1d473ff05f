"""A training step computes no gradient of the input batch: what it skips, and that nothing else changes."""

import tracemalloc

import numpy as np
import pytest

from conftest import to_channel_major
from tallynet.cost import summary
from tallynet.layers import Affine, Conv2d, Dropout, Flatten, ReLU
from tallynet.layers.losses import softmax_loss
from tallynet.models import FullyConnectedNet, Sequential, preset
from tallynet.models.nodes import chain, training_passes
from tallynet.profile import Counter, counting, profile

rng = np.random.default_rng(0)


def test_the_first_layer_with_parameters_skips_dx_and_the_layers_below_skip_backward():
    assert training_passes(preset("seed-cnn").nodes) == ["params"] + ["full"] * 13
    assert training_passes(chain([Dropout(0.5), Flatten(), Affine(4), ReLU(), Affine(2)])) == \
        ["none", "none", "params", "full", "full"]
    assert training_passes(chain([ReLU(), Flatten()])) == ["none", "none"]


@pytest.mark.parametrize("bias, stride, pad", [(True, 1, 1), (False, 2, 0), (True, 2, 2)])
def test_conv_param_grads_are_bitwise_those_of_the_whole_backward(bias, stride, pad):
    layer = Conv2d(4, 3, stride=stride, pad=pad, bias=bias)
    x = to_channel_major(rng.standard_normal((3, 2, 9, 8)))
    params = layer.init_params(x.shape, rng, "he", np.float64)
    out, cache = layer.forward(x, params)
    dout = to_channel_major(rng.standard_normal(out.shape))
    whole = layer.backward(dout, cache)[1]
    alone = layer.param_grads(dout, cache)
    assert set(alone) == set(whole) == set(layer.param_names)
    assert all(np.array_equal(alone[k], whole[k]) for k in whole)


@pytest.mark.parametrize("shape", [(5, 7), (4, 3, 2, 2)])
def test_affine_param_grads_are_bitwise_those_of_the_whole_backward(shape):
    layer = Affine(6)
    x = rng.standard_normal(shape)
    if x.ndim == 4:
        x = to_channel_major(x)
    params = layer.init_params(x.shape, rng, "he", np.float64)
    out, cache = layer.forward(x, params)
    dout = rng.standard_normal(out.shape)
    whole, alone = layer.backward(dout, cache)[1], layer.param_grads(dout, cache)
    assert all(np.array_equal(alone[k], whole[k]) for k in ("W", "b"))


@pytest.mark.parametrize("build", [lambda: preset("seed-cnn", dtype=np.float64, seed=0),
                                   lambda: Sequential([Dropout(0.8, seed=1), Affine(5), ReLU(), Affine(3)], (6,),
                                                      dtype=np.float64, seed=0)])
def test_a_training_step_gives_the_gradients_of_the_whole_backward(build):
    model = build()
    X = rng.standard_normal((3,) + model.input_shape)
    y = rng.integers(model.output_shape[-1], size=3)
    for layer in model.layers:
        layer.fix_randomness(0)  # the same dropout mask in both runs
    _, grads = model.loss(X, y)
    scores, caches = model.forward(X, "train")
    dout = softmax_loss(scores, y)[1]
    whole = {}
    for layer, keys, cache in zip(reversed(model.layers), reversed(model.param_keys), reversed(caches)):
        dout, local = layer.backward(dout, cache)
        whole.update({keys[k]: g for k, g in local.items()})
    assert set(grads) == set(whole)
    assert all(np.array_equal(grads[k], whole[k]) for k in whole)


def test_seed_cnn_step_skips_exactly_conv1s_input_gradient():
    # Conv1, batch N: K = 3 * 3 * 3 rows of columns, M = 32 * 32 * N positions, F = 32 filters.
    # Its input gradient is dcols = W.T (K, F) @ dout (F, M), K M (F mul + (F - 1) add), then
    # col2im's K M additions: that is what a training step leaves out, by hand.
    N = 2
    K, M, F = 27, 32 * 32 * N, 32
    skipped = K * M * F + K * M * (F - 1) + K * M
    model = preset("seed-cnn", seed=0)
    s = summary(model, batch=N).totals()
    assert s["backward_flops"] - s["step_backward_flops"] == skipped
    X, y = rng.standard_normal((N, 3, 32, 32)).astype(np.float32), rng.integers(10, size=N)
    scores = model.forward(X, "train")[0]
    with Counter() as loss:
        softmax_loss(counting(scores), y)
    with Counter(owners=model.layers) as step:
        model.loss(counting(X), y)
    assert step.flops.total == s["forward_flops"] + s["step_backward_flops"] + loss.flops.total


def test_fcnet_step_skips_the_first_affine_input_gradient():
    # dx = dout (N, 64) @ W1.T (64, 48): N * 48 dot products of length 64
    N, D, H = 8, 48, 64
    net = FullyConnectedNet([H, 10], input_dim=D, num_classes=5, seed=0)
    t = summary(net, batch=N).totals()
    assert t["backward_flops"] - t["step_backward_flops"] == N * D * H + N * D * (H - 1)


def test_no_input_gradient_is_allocated_and_the_peak_estimate_knows_it():
    # an affine net whose first layer's dx, (N, D) floats, would be the backward pass's largest array
    N, D = 256, 4096
    net = Sequential([Affine(8), ReLU(), Affine(3)], (D,), seed=0)
    X, y = rng.standard_normal((N, D)).astype(np.float32), rng.integers(3, size=N)
    scores, caches = net.forward(X, "train")
    dscores = softmax_loss(scores, y)[1]
    tracemalloc.start()
    try:
        net.backward(dscores, caches)
        growth = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert growth < N * D * 4 // 2  # W1's gradient (D x 8) and smaller arrays, no dx
    t = profile(net, batch=N, steps=1, gemm_peak=1.0).totals()
    predicted, measured = t["predicted_backward_peak_bytes"], t["measured_backward_peak_bytes"]
    assert abs(predicted - measured) <= 0.1 * measured
