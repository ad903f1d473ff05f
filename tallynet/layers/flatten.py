"""Flatten: (N, d_1, ..., d_k) -> (N, d_1 * ... * d_k). A view, so it costs nothing.

Also for a channel-major image batch (see :mod:`tallynet.layers.im2col`): its C, H
and W axes are in C order among themselves, so they merge into one axis of stride
N, and the flattened batch is an (N, D) matrix stored column by column.
"""

import numpy as np

from ._checks import check_float_array, check_shape
from .base import Footprint, Layer, no_bytes, no_flops, no_macs, saves_nothing

__all__ = ["Flatten", "flatten_forward", "flatten_backward"]


def flatten_forward(x):
    """out = x.reshape(N, D) with D = d_1 * ... * d_k. Returns ``(out, cache)``, cache = x.shape."""
    check_float_array("x", x, min_ndim=2)
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """dx = dout.reshape(x.shape)."""
    shape = cache
    check_shape("dout", dout, (shape[0], int(np.prod(shape[1:]))))
    return dout.reshape(shape)


class Flatten(Layer):
    kind = "flatten"
    display_name = "Flatten"
    group = "Reshape"
    gradient_text = r"$\frac{\partial \mathcal{L}}{\partial x}$ is the upstream gradient reshaped."
    rules = {"walkthrough": ("0", "0"), "exact": ("0", "0")}

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"flatten: input must have a batch dimension and features, got shape {tuple(input_shape)}")
        return (input_shape[0], int(np.prod(input_shape[1:])))

    # A reshape both ways: nothing to count under any convention, nothing cached
    exact_terms = walkthrough_terms = no_flops
    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # out is a view of x and dx a view of dout: nothing is allocated
        return Footprint(is_view=True)

    torch_saved = saves_nothing  # nn.Flatten is a view; its backward a reshape
    torch_footprint = footprint

    def given_lines(self, input_shape):
        return ["- **Operation**: a reshape to $(N, D)$; nothing is computed"]

    def to_torch(self, input_shape, params, nn):
        return [nn.Flatten()]

    def forward(self, x, params, mode="train"):
        return flatten_forward(x)

    def backward(self, dout, cache):
        return flatten_backward(dout, cache), {}
