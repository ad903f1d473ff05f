"""Nearest-neighbour upsampling by an integer scale.

For x (N, C, H, W) and scale s, out (N, C, s H, s W) with out[n, c, h, w] = x[n, c, h // s, w // s]:
each input pixel becomes an s x s block. Forward is a copy (no arithmetic); backward
sums each block of dout, s^2 - 1 additions per input element.

Both read and write the channel-major memory (C, H, W, N) of the activations (see
:mod:`tallynet.layers.im2col`): the output's memory (C, s H, s W, N) is viewed as
(C, H, s, W, s, N), so forward is one broadcast assignment and backward one sum
over the two block axes, with no index arrays and no loop.
"""

from ..counts import term
from ._checks import check_float_array, check_int, check_shape
from ._text import elements
from .base import Footprint, Layer, no_bytes, no_macs, saves_nothing
from .im2col import channel_major, image_shape

__all__ = ["Upsample", "upsample_forward", "upsample_backward"]


def _blocks(a, scale):
    """(N, C, s H, s W) as its channel-major memory (C, H, s, W, s, N): a view when ``a`` is channel-major."""
    N, C, H, W = a.shape
    return a.transpose(1, 2, 3, 0).reshape(C, H // scale, scale, W // scale, scale, N)


def upsample_forward(x, scale):
    """Nearest upsampling: x (N, C, H, W), scale an int >= 1 -> out (N, C, s H, s W), channel-major,
    in x's dtype. Returns ``(out, cache)`` with cache = (x.shape, scale)."""
    check_float_array("x", x, ndim=4)
    scale = check_int("scale", scale, 1)
    N, C, H, W = x.shape
    out = channel_major((N, C, scale * H, scale * W), x.dtype)
    _blocks(out, scale)[...] = x.transpose(1, 2, 3, 0)[:, :, None, :, None, :]
    return out, (x.shape, scale)


def upsample_backward(dout, cache):
    """dx[n, c, h, w] = sum of dout over the s x s block of (h, w); dout (N, C, s H, s W),
    dx (N, C, H, W) channel-major, in dout's dtype."""
    (N, C, H, W), scale = cache
    check_shape("dout", dout, (N, C, scale * H, scale * W))
    return _blocks(dout, scale).sum(axis=(2, 4)).transpose(3, 0, 1, 2)


class Upsample(Layer):
    """Nearest-neighbour upsampling by an integer ``scale``, as PyTorch's
    ``nn.Upsample(scale_factor=scale, mode="nearest")``."""

    kind = "upsample"
    display_name = "Upsample"
    group = "Upsampling"
    title = "Nearest Upsampling"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x_{h,w}} = \sum_{a, b < s} "
                     r"\frac{\partial \mathcal{L}}{\partial y_{s h + a, s w + b}}$: each block of the upstream "
                     r"gradient is summed.")
    rules = {"walkthrough": ("as `exact`: none (a copy)", "as `exact`: $s^2 - 1$ per input element"),
             "exact": ("none: each pixel copied to an $s \\times s$ block", "$s^2 - 1$ additions per input element")}

    def __init__(self, scale, name=None):
        super().__init__(name)
        self.scale = check_int("scale", scale, 1)

    def output_shape(self, input_shape):
        N, C, H, W = image_shape(self.kind, input_shape)
        return (N, C, self.scale * H, self.scale * W)

    def exact_terms(self, input_shape):
        N, C, H, W = image_shape(self.kind, input_shape)
        return {"backward_input": [term("the sum of each $s \\times s$ block of dout", r"N C H W \times (s^2 - 1)",
                                        (N, C, H, W, self.scale ** 2 - 1), "add")]}

    def walkthrough_terms(self, input_shape):  # not in seed 001: the exact count stands in
        return self.exact_terms(input_shape)

    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the output, s^2 times the input; backward: dx (the block sums)
        n = elements(input_shape)
        return Footprint(forward_peak=self.scale ** 2 * n * itemsize, backward_peak=n * itemsize)

    torch_saved = saves_nothing  # upsample_nearest2d's backward needs only the sizes

    def torch_footprint(self, input_shape, itemsize):
        # forward (measured): the output twice and the input once (a channels-last pass and its
        # copy out, it seems); backward: dx
        n = elements(input_shape)
        return Footprint(forward_peak=(2 * self.scale ** 2 + 1) * n * itemsize, backward_peak=n * itemsize)

    def describe(self, input_shape):
        return f"Upsample(×{self.scale}, nearest)"

    def given_lines(self, input_shape):
        return [f"- **Scale**: $s = {self.scale}$ (nearest neighbour: each pixel becomes an $s \\times s$ block)"]

    def dims_lines(self, input_shape):
        _, _, H, W = image_shape(self.kind, input_shape)
        return [f"$$H_{{out}} = s H = {self.scale} \\times {H} = {self.scale * H}, \\quad "
                f"W_{{out}} = s W = {self.scale} \\times {W} = {self.scale * W}$$"]

    def to_torch(self, input_shape, params, nn):
        return [nn.Upsample(scale_factor=self.scale, mode="nearest")]

    def forward(self, x, params, mode="train"):
        return upsample_forward(x, self.scale)

    def backward(self, dout, cache):
        return upsample_backward(dout, cache), {}

    def config(self):
        return {"scale": self.scale}
