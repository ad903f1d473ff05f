"""Integer parameter arrays, as the course's notebooks pass them, are converted to x's dtype."""

import numpy as np
import pytest

from tallynet.layers import (affine_forward, batchnorm_forward, conv_forward_fast, conv_forward_naive,
                             layernorm_forward, spatial_batchnorm_forward)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", [conv_forward_naive, conv_forward_fast])
def test_conv_takes_integer_filters_and_biases(kernel, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 5)).astype(dtype)
    w_int, b_int = rng.integers(-3, 4, (2, 3, 3, 3)), np.array([0, 128])
    out, _ = kernel(x, w_int, b_int, {"stride": 1, "pad": 1})
    want, _ = kernel(x, w_int.astype(dtype), b_int.astype(dtype), {"stride": 1, "pad": 1})
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, want)


def test_affine_takes_integer_weights():
    x = np.linspace(-1, 1, 12).reshape(2, 6).astype(np.float32)
    out, _ = affine_forward(x, np.ones((6, 3), dtype=np.int64), np.array([1, 2, 3]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x.sum(axis=1, keepdims=True) + [1, 2, 3], rtol=1e-6)


@pytest.mark.parametrize("kernel,shape,extra", [
    (batchnorm_forward, (6, 3), {"mode": "train"}),
    (spatial_batchnorm_forward, (2, 3, 4, 5), {"mode": "train"}),
    (layernorm_forward, (6, 3), {}),
])
def test_normalization_takes_integer_scale_and_shift(kernel, shape, extra):
    x = np.random.default_rng(1).standard_normal(shape)
    out, _ = kernel(x, np.asarray([3, 4, 5]), np.asarray([6, 7, 8]), dict(extra))
    want, _ = kernel(x, np.asarray([3.0, 4.0, 5.0]), np.asarray([6.0, 7.0, 8.0]), dict(extra))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, want)


def test_other_dtypes_are_still_refused_by_name():
    x = np.ones((2, 3, 5, 5))
    with pytest.raises(TypeError, match="^b must have a floating dtype"):
        conv_forward_fast(x, np.ones((2, 3, 3, 3)), np.array(["a", "b"]), {"stride": 1, "pad": 1})
    with pytest.raises(TypeError, match="^gamma must have a floating dtype"):
        batchnorm_forward(np.ones((4, 3)), np.ones(3, dtype=bool), np.zeros(3), {"mode": "train"})
