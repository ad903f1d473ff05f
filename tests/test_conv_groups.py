"""Grouped and dilated convolution: values computed by hand, argument errors, the MAC count."""

import numpy as np
import pytest

from tallynet.layers import Conv2d, conv_backward_fast, conv_backward_naive, conv_forward_fast, conv_forward_naive
from tallynet.layers.conv import conv_param_grads_fast


def test_depthwise_convolution_keeps_channels_apart():
    # channel 0 is all 1, channel 1 all 2; each filter sums its own channel's 2x2 window
    x = np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))])[None]
    w = np.ones((2, 1, 2, 2))
    for forward in (conv_forward_fast, conv_forward_naive):
        out, _ = forward(x, w, np.array([0.0, 10.0]), {"stride": 1, "pad": 0, "groups": 2})
        np.testing.assert_array_equal(out[0, 0], np.full((2, 2), 4.0))
        np.testing.assert_array_equal(out[0, 1], np.full((2, 2), 18.0))


def test_two_groups_of_two_filters_read_their_own_half_of_the_channels():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 2, 3, 3))
    out, _ = conv_forward_fast(x, w, None, {"stride": 1, "pad": 1, "groups": 2})
    for group in range(2):
        part, _ = conv_forward_fast(x[:, 2 * group:2 * group + 2], w[2 * group:2 * group + 2], None,
                                    {"stride": 1, "pad": 1})
        np.testing.assert_allclose(out[:, 2 * group:2 * group + 2], part, rtol=1e-12)


# one filter per group: depthwise's dcols is an outer product, not a GEMM; so is a 1x1 depthwise forward
@pytest.mark.parametrize("filters_per_group", [1, 2])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3])
def test_grouped_backward_equals_the_reference_loops(filters_per_group, stride, kernel):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4, 6, 6)), rng.standard_normal((4 * filters_per_group, 1, kernel, kernel)), None
    conv_param = {"stride": stride, "pad": kernel // 2, "groups": 4}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    reference, reference_cache = conv_forward_naive(x, w, b, conv_param)
    np.testing.assert_allclose(out, reference, rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    for fast, slow in zip(conv_backward_fast(dout, cache)[:2], conv_backward_naive(dout, reference_cache)[:2]):
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel, stride, pad, dilation", [(3, 1, 1, 1), (3, 2, 1, 1), (5, 2, 2, 1), (3, 1, 2, 2),
                                                        (2, 3, 0, 1)])
def test_a_depthwise_convolution_runs_tap_by_tap_and_keeps_only_its_padded_input(kernel, stride, pad, dilation):
    # groups = C = F takes tallynet.layers.depthwise's kernels: no im2col columns in the cache,
    # the same values as the reference loops, with a bias, for any input layout
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 9, 8)).transpose(0, 1, 3, 2)  # (3, 5, 8, 9), not channel-major
    w, b = rng.standard_normal((5, 1, kernel, kernel)), rng.standard_normal(5)
    conv_param = {"stride": stride, "pad": pad, "groups": 5, "dilation": dilation}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    reference, reference_cache = conv_forward_naive(x, w, b, conv_param)
    np.testing.assert_allclose(out, reference, rtol=1e-12, atol=1e-12)
    assert cache[4].shape == (5, 8 + 2 * pad, 9 + 2 * pad, 3)  # the padded input (C, Hp, Wp, N)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_fast(dout, cache)
    for fast, slow in zip((dx, dw, db), conv_backward_naive(dout, reference_cache)):
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
    dw_alone, db_alone = conv_param_grads_fast(dout, cache)
    np.testing.assert_array_equal(dw_alone, dw)
    np.testing.assert_array_equal(db_alone, db)
    out32, _ = conv_forward_fast(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), conv_param)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, reference, rtol=1e-4, atol=1e-4)


def test_dilation_two_reads_every_other_pixel():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    out, cache = conv_forward_fast(x, np.ones((1, 1, 2, 2)), None, {"stride": 1, "pad": 0, "dilation": 2})
    p, q = np.meshgrid(range(3), range(3), indexing="ij")
    np.testing.assert_array_equal(out[0, 0], x[0, 0][p, q] + x[0, 0][p, q + 2] + x[0, 0][p + 2, q]
                                  + x[0, 0][p + 2, q + 2])
    dx, dw, _ = conv_backward_fast(np.ones_like(out), cache)
    # the centre pixel (2, 2) is under four taps of the dilated windows, the corner (0, 0) under one, (0, 2) under two
    assert dx[0, 0, 2, 2] == 4 and dx[0, 0, 0, 0] == 1 and dx[0, 0, 0, 2] == 2 and dx[0, 0, 0, 1] == 1
    assert dw.shape == (1, 1, 2, 2)


@pytest.mark.parametrize("conv_param, w_shape, message", [
    ({"stride": 1, "pad": 0, "groups": 3}, (4, 1, 3, 3), "groups=3 must divide"),
    ({"stride": 1, "pad": 0, "groups": 2}, (4, 4, 3, 3), r"w.shape\[1\]"),
    ({"stride": 1, "pad": 0, "dilation": 0}, (4, 4, 3, 3), "dilation must be >= 1"),
    ({"stride": 1, "pad": 0, "dilation": 3}, (4, 4, 3, 3), "window of size 7 is larger"),
])
def test_bad_groups_and_dilation_raise_value_errors_naming_them(conv_param, w_shape, message):
    with pytest.raises(ValueError, match=message):
        conv_forward_fast(np.zeros((1, 4, 5, 5)), np.zeros(w_shape), None, conv_param)


def test_the_layer_checks_groups_and_dilation():
    with pytest.raises(ValueError, match="groups=2 must divide filters"):
        Conv2d(5, 3, groups=2)
    with pytest.raises(TypeError, match="groups must be an integer"):
        Conv2d(4, 3, groups="2")
    with pytest.raises(ValueError, match="dilation must be >= 1"):
        Conv2d(4, 3, dilation=0)
    with pytest.raises(ValueError, match="groups=4 must divide the input channels"):
        Conv2d(4, 3, groups=4).output_shape((1, 6, 5, 5))


def test_macs_of_a_depthwise_convolution_count_one_channel_per_filter():
    # torchvision / fvcore: N F H' W' (C / g) kh kw
    layer = Conv2d(32, 3, pad=1, groups=32)
    assert layer.macs((2, 32, 8, 8)) == 2 * 32 * 8 * 8 * 1 * 9
    assert Conv2d(8, 3, pad=1, groups=2).macs((1, 4, 5, 5)) == 8 * 25 * 2 * 9
    assert layer.param_shapes((2, 32, 8, 8))["W"] == (32, 1, 3, 3)
    assert Conv2d(4, 3, dilation=2).output_shape((1, 1, 9, 8)) == (1, 4, 5, 4)
