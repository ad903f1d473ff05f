"""Channel rearrangements of an image batch: ShuffleNet's channel shuffle and a slice of channels.

``channel_shuffle`` with g groups (Zhang et al. 2018; torchvision's ``channel_shuffle``, written
there as ``x.view(N, g, C / g, H, W).transpose(1, 2).reshape(N, C, H, W)``) interleaves the
groups: output channel a g + b is input channel b (C / g) + a. It is a permutation, so its
backward is the inverse permutation, which is the shuffle with C / g groups.

``channel_slice`` keeps channels start <= c < stop (``x[:, start:stop]``; ``x.chunk(2, dim=1)``
is two of them, as ShuffleNetV2 splits its input between the two branches); its backward
puts dout back in those channels and zeros in the others.

Both only move values: no arithmetic under any convention. Both read and write the
channel-major memory (C, H, W, N) of the activations (see :mod:`tallynet.layers.im2col`):
the shuffle views it as (g, C / g, H, W, N) and swaps the first two axes, one copy with
no index array; the slice of a channel-major batch is a block of whole channels.
"""

import numpy as np

from ._checks import check_float_array, check_int, check_shape
from ._text import elements
from .base import Footprint, Layer, no_bytes, no_flops, no_macs, saves_nothing
from .im2col import channel_major, image_shape

__all__ = ["ChannelShuffle", "ChannelSlice", "channel_shuffle_forward", "channel_shuffle_backward",
           "channel_slice_forward", "channel_slice_backward"]


def _check_groups(groups, channels):
    if channels % groups:
        raise ValueError(f"channel_shuffle: groups = {groups} must divide the input's {channels} channels")


def _shuffled(x, groups):
    """x (N, C, H, W) with output channel a g + b = input channel b (C / g) + a, channel-major."""
    N, C, H, W = x.shape
    out = channel_major(x.shape, x.dtype)
    # out's memory (C, H, W, N) as (C / g, g, H, W, N) takes x's as (g, C / g, H, W, N), axes swapped
    out.transpose(1, 2, 3, 0).reshape(C // groups, groups, H, W, N)[...] = (
        x.transpose(1, 2, 3, 0).reshape(groups, C // groups, H, W, N).swapaxes(0, 1))
    return out


def channel_shuffle_forward(x, groups):
    """ShuffleNet's channel shuffle of x (N, C, H, W) with ``groups`` groups (dividing C).
    Returns ``(out, cache)``, out channel-major, cache = (x.shape, groups)."""
    check_float_array("x", x, ndim=4)
    groups = check_int("groups", groups, 1)
    _check_groups(groups, x.shape[1])
    return _shuffled(x, groups), (x.shape, groups)


def channel_shuffle_backward(dout, cache):
    """dx: dout through the inverse permutation, the shuffle with C / g groups."""
    shape, groups = cache
    check_shape("dout", dout, shape)
    return _shuffled(dout, shape[1] // groups)


def channel_slice_forward(x, start, stop):
    """x[:, start:stop] of x (N, C, ...) as an array of its own, in x's memory order.
    Returns ``(out, cache)``, cache = (x.shape, start, stop)."""
    check_float_array("x", x, min_ndim=2)
    return x[:, start:stop].copy(order="K"), (x.shape, start, stop)


def channel_slice_backward(dout, cache):
    """dx: dout in channels start to stop - 1, zero in the others (channel-major for images)."""
    shape, start, stop = cache
    check_shape("dout", dout, (shape[0], stop - start) + tuple(shape[2:]))
    dx = channel_major(shape, dout.dtype) if len(shape) == 4 else np.empty(shape, dtype=dout.dtype)
    dx[:, :start] = 0
    dx[:, stop:] = 0
    dx[:, start:stop] = dout
    return dx


class _ChannelCopy(Layer):
    """What both share: a copy of values, nothing computed; forward allocates the output, backward dx."""

    group = "Reshape"
    exact_terms = walkthrough_terms = no_flops
    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        return Footprint(forward_peak=elements(self.output_shape(input_shape)) * itemsize,
                         backward_peak=elements(input_shape) * itemsize)

    torch_saved = saves_nothing  # their backward needs the sizes only


class ChannelShuffle(_ChannelCopy):
    """ShuffleNet's channel shuffle in ``groups`` groups, as PyTorch's ``nn.ChannelShuffle(groups)``."""

    kind = "channel_shuffle"
    display_name = "ChannelShuffle"
    title = "Channel Shuffle"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x}$ is the upstream gradient through the inverse "
                     r"permutation (the shuffle with $C / g$ groups).")
    rules = {"walkthrough": ("0: a permutation of the channels", "0: the inverse permutation"),
             "exact": ("0: one copy", "0: one copy")}

    def __init__(self, groups, name=None):
        super().__init__(name)
        self.groups = check_int("groups", groups, 1)

    def output_shape(self, input_shape):
        shape = image_shape(self.kind, input_shape)
        _check_groups(self.groups, shape[1])
        return shape

    def describe(self, input_shape):
        return f"ChannelShuffle(g={self.groups})"

    def given_lines(self, input_shape):
        C = image_shape(self.kind, input_shape)[1]
        return [f"- **Groups**: $g = {self.groups}$: output channel $a g + b$ is input channel $b (C / g) + a$ "
                f"($C / g = {C // self.groups}$); nothing is computed"]

    def to_torch(self, input_shape, params, nn):
        return [nn.ChannelShuffle(self.groups)]

    torch_footprint = _ChannelCopy.footprint  # PyTorch's shuffle copies too: the output, then dx

    def forward(self, x, params, mode="train"):
        return channel_shuffle_forward(x, self.groups)

    def backward(self, dout, cache):
        return channel_shuffle_backward(dout, cache), {}

    def config(self):
        return {"groups": self.groups}


class ChannelSlice(_ChannelCopy):
    """Channels ``start`` to ``stop - 1`` of the input (axis 1), ``x[:, start:stop]``."""

    kind = "channel_slice"
    display_name = "ChannelSlice"
    title = "Channel Slice"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x}$ is the upstream gradient in the sliced channels "
                     r"and 0 in the others.")
    rules = {"walkthrough": ("0: a copy of the channels", "0: a copy into zeros"),
             "exact": ("0: one copy", "0: zeros and one copy")}

    def __init__(self, start, stop, name=None):
        super().__init__(name)
        self.start = check_int("start", start, 0)
        self.stop = check_int("stop", stop, self.start + 1)

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"channel_slice: input must have a batch and a channel axis, got {tuple(input_shape)}")
        if self.stop > input_shape[1]:
            raise ValueError(f"channel_slice: stop = {self.stop} exceeds the input's {input_shape[1]} channels")
        return (input_shape[0], self.stop - self.start) + tuple(input_shape[2:])

    def describe(self, input_shape):
        return f"ChannelSlice({self.start}:{self.stop})"

    def given_lines(self, input_shape):
        return [f"- **Channels**: {self.start} to {self.stop - 1} of {input_shape[1]}; nothing is computed"]

    def torch_footprint(self, input_shape, itemsize):
        # x[:, start:stop] is a view; its backward makes dx, zeros of x's shape with dout put in
        return Footprint(is_view=True, dx_allocated=True, backward_peak=elements(input_shape) * itemsize)

    def to_torch(self, input_shape, params, nn):
        start, stop = self.start, self.stop

        class ChannelSliceModule(nn.Module):
            def forward(self, x):
                return x[:, start:stop]
        return [ChannelSliceModule()]

    def forward(self, x, params, mode="train"):
        return channel_slice_forward(x, self.start, self.stop)

    def backward(self, dout, cache):
        return channel_slice_backward(dout, cache), {}

    def config(self):
        return {"start": self.start, "stop": self.stop}
