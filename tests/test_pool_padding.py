"""Pooling with padding and ceil mode, and adaptive average pooling: values by hand, PyTorch's
output sizes, argument errors."""

import numpy as np
import pytest

from tallynet.layers import (AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, adaptive_avg_pool_forward, avg_pool_forward,
                             max_pool_forward_fast)


def test_max_pooling_pads_with_minus_infinity():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # all negative: a zero padding would win
    out, _ = max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2, "pad": 1})
    np.testing.assert_array_equal(out[0, 0], [[-1, -2], [-4, -5]])


def test_average_pooling_counts_the_padding_but_not_ceil_modes_overhang():
    x = np.ones((1, 1, 3, 3))
    # pad 1, kernel 2, stride 2: every window has 4 cells of the padded 5 x 5 input, 1 of x at the corners
    out, _ = avg_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2, "pad": 1})
    np.testing.assert_array_equal(out[0, 0], [[0.25, 0.5], [0.5, 1.0]])
    # no padding, ceil mode: the last window has one row (and one column) of x, and divides by it alone
    out, _ = avg_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2, "ceil_mode": True})
    np.testing.assert_array_equal(out[0, 0], [[1.0, 1.0], [1.0, 1.0]])


@pytest.mark.parametrize("size, kernel, stride, pad, expected", [
    (5, 2, 2, 0, 3), (4, 2, 2, 1, 3), (5, 2, 2, 1, 3), (6, 3, 2, 1, 4), (7, 3, 2, 0, 3), (4, 2, 2, 0, 2),
])
def test_ceil_mode_output_sizes_follow_pytorch(size, kernel, stride, pad, expected):
    layer = MaxPool2d(kernel, stride=stride, pad=pad, ceil_mode=True)
    assert layer.output_shape((1, 1, size, size))[2] == expected
    torch = pytest.importorskip("torch")
    t = torch.nn.MaxPool2d(kernel, stride, pad, ceil_mode=True)(torch.zeros(1, 1, size, size))
    assert t.shape[2] == expected


def test_adaptive_windows_by_hand():
    x = np.arange(5.0).reshape(1, 1, 1, 5)
    out, _ = adaptive_avg_pool_forward(x, (1, 3))  # windows [0, 2), [1, 4), [3, 5)
    np.testing.assert_allclose(out[0, 0, 0], [0.5, 2.0, 3.5])
    assert AdaptiveAvgPool2d((2, 4)).output_shape((3, 2, 7, 9)) == (3, 2, 2, 4)


def test_bad_pool_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match=r"pad \(2\) must be at most half the kernel"):
        MaxPool2d(3, pad=2)
    with pytest.raises(TypeError, match="ceil_mode must be True or False"):
        AvgPool2d(2, ceil_mode=1)
    with pytest.raises(ValueError, match="output_size must be >= 1"):
        AdaptiveAvgPool2d(0)
    with pytest.raises(ValueError, match=r"x height: pad \(2\) must be at most half the kernel"):
        avg_pool_forward(np.zeros((1, 1, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 2, "pad": 2})
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        adaptive_avg_pool_forward(np.zeros((2, 3)), 1)


def test_configs_name_pad_and_ceil_mode_only_when_set():
    assert MaxPool2d(2).config() == {"kernel": 2, "stride": 2}
    assert AvgPool2d(3, stride=2, pad=1, ceil_mode=True).config() == {"kernel": 3, "stride": 2, "pad": 1,
                                                                       "ceil_mode": True}
