"""Nearest upsampling and transposed convolution: values by hand, the adjoint identity with
convolution, argument errors."""

import numpy as np
import pytest

from tallynet.layers import (ConvTranspose2d, Upsample, conv_forward_fast, conv_transpose_forward_fast,
                             upsample_backward, upsample_forward)


def test_nearest_upsampling_copies_each_pixel_to_a_block_and_sums_it_back():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]
    out, cache = upsample_forward(x, 2)
    np.testing.assert_array_equal(out[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    dout = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(upsample_backward(dout, cache)[0, 0], [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7],
                                                                        [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])


@pytest.mark.parametrize("stride, pad, kernel", [(1, 0, 3), (2, 1, 3), (3, 0, 2), (2, 0, (3, 2))])
def test_transposed_convolution_is_the_adjoint_of_convolution(stride, pad, kernel):
    # <conv(y; w), x> = <y, conv_transpose(x; w)> for y of conv_transpose's output shape
    rng = np.random.default_rng(0)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, kh, kw))
    param = {"stride": stride, "pad": pad}
    out, _ = conv_transpose_forward_fast(x, w, None, param)
    y = rng.standard_normal(out.shape)
    conv_y, _ = conv_forward_fast(y, w, None, param)
    assert conv_y.shape == x.shape
    np.testing.assert_allclose(np.sum(conv_y * x), np.sum(y * out), rtol=1e-12)


def test_a_one_pixel_input_stamps_the_filter_plus_bias():
    w = np.arange(8.0).reshape(1, 2, 2, 2)
    out, _ = conv_transpose_forward_fast(np.full((1, 1, 1, 1), 2.0), w, np.array([1.0, -1.0]), {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(out[0], 2 * w[0] + np.array([1.0, -1.0])[:, None, None])


def test_output_sizes_and_errors():
    assert ConvTranspose2d(8, 4, stride=2, pad=1).output_shape((1, 3, 5, 6)) == (1, 8, 10, 12)
    assert Upsample(3).output_shape((2, 1, 4, 5)) == (2, 1, 12, 15)
    with pytest.raises(ValueError, match="pad 2 leaves no output"):
        ConvTranspose2d(2, 1, pad=2).output_shape((1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"w has 2 input channels \(w.shape\[0\]\)"):
        conv_transpose_forward_fast(np.zeros((1, 3, 2, 2)), np.zeros((2, 3, 2, 2)), None, {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match=r"b has shape \(2,\), expected \(3,\)"):
        conv_transpose_forward_fast(np.zeros((1, 2, 2, 2)), np.zeros((2, 3, 2, 2)), np.zeros(2),
                                    {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="scale must be >= 1"):
        Upsample(0)
    with pytest.raises(TypeError, match="scale must be an integer"):
        upsample_forward(np.zeros((1, 1, 2, 2)), 1.5)
