"""Flatten: (N, d_1, ..., d_k) -> (N, d_1 * ... * d_k).

A view of a C-ordered input, so it costs nothing; an image batch (N, C, H, W) in a
model is channel-major (see :mod:`tallynet.layers.im2col`), so flattening it into
(c, h, w) order per sample is one copy, and its gradient is copied back into
channel-major memory.
"""

import numpy as np

from ._checks import check_float_array, check_shape
from .base import Footprint, Layer
from .im2col import to_channel_major


def flatten_forward(x):
    """out = x.reshape(N, D) with D = d_1 * ... * d_k (a copy unless x is C-ordered).

    Returns ``(out, cache)``, cache = x.shape.
    """
    check_float_array("x", x, min_ndim=2)
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """dx = dout.reshape(x.shape); for images, copied into channel-major memory."""
    shape = cache
    check_shape("dout", dout, (shape[0], int(np.prod(shape[1:]))))
    dx = dout.reshape(shape)
    return to_channel_major(dx) if len(shape) == 4 else dx


class Flatten(Layer):
    kind = "flatten"

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"flatten: input must have a batch dimension and features, got shape {tuple(input_shape)}")
        return (input_shape[0], int(np.prod(input_shape[1:])))

    # A reshape both ways: the base class's zero FLOPs, zero MACs and no cache are exact
    # under every convention, so those cost methods are not overridden.
    def footprint(self, input_shape, itemsize):
        # An image batch is channel-major in a model: out is a copy of it and dx a copy of
        # dout. Otherwise out is a view of x and dx a view of dout: nothing is allocated.
        if len(input_shape) != 4:
            return Footprint(is_view=True)
        n = int(np.prod(input_shape)) * itemsize
        return Footprint(forward_peak=n, backward_peak=n)

    def forward(self, x, params, mode="train"):
        return flatten_forward(x)

    def backward(self, dout, cache):
        return flatten_backward(dout, cache), {}
