"""Moving an activation's values without computing any: ``reshape`` and ``permute`` of each
sample's axes, and ``select``, one position of an axis (a vision transformer's class token,
``x[:, 0]``).

Shapes and axes are per sample, as a spec's ``input`` is: ``reshape: {shape: [768, 196]}``
makes (N, 768, 14, 14) into (N, 768, 196), ``permute: {axes: [1, 0]}`` makes that
(N, 196, 768), ``select: {index: 0}`` makes (N, 197, 768) into (N, 768). The batch axis
stays first and is never moved.

Reshape and permute return views (nothing is allocated, nothing counted). A reshape is a
view for the layouts a model keeps (C-ordered samples, and channel-major images, whose
samples are C-ordered with stride N: see :mod:`tallynet.layers.im2col`); after a permute
it can only be a copy, which the footprint, stated from shapes alone, does not see.
"""

import numpy as np

from ._checks import check_float_array, check_int, check_shape
from ._text import elements, n
from .base import Footprint, Layer, no_bytes, no_flops, no_macs, saves_nothing

__all__ = ["Reshape", "Permute", "Select", "reshape_forward", "reshape_backward", "permute_forward",
           "permute_backward", "select_forward", "select_backward"]


def _resolved(shape, sample_shape, kind="reshape"):
    """``shape`` (per sample, at most one -1) with its -1 worked out for samples of ``sample_shape``."""
    size, known = elements(sample_shape), elements([d for d in shape if d != -1])
    resolved = tuple(size // known if d == -1 else d for d in shape)
    if elements(resolved) != size:
        raise ValueError(f"{kind}: a sample of shape {tuple(sample_shape)} ({size} values) cannot be "
                         f"reshaped to {list(shape)}")
    return resolved


def reshape_forward(x, shape):
    """out = x with each sample reshaped to ``shape`` (per sample, one -1 allowed): (N,) + shape.
    Returns ``(out, cache)``, cache = x.shape."""
    check_float_array("x", x, min_ndim=1)
    return x.reshape((x.shape[0],) + _resolved(shape, x.shape[1:])), x.shape


def reshape_backward(dout, cache):
    """dx = dout reshaped back to x's shape."""
    shape = cache
    if dout.size != elements(shape) or dout.shape[:1] != shape[:1]:
        raise ValueError(f"dout has shape {dout.shape}, which does not reshape to x's {shape}")
    return dout.reshape(shape)


def _sample_axes(axes):
    """The permutation of a whole batch: the batch axis first, each sample's axes moved by one."""
    return (0,) + tuple(a + 1 for a in axes)


def permute_forward(x, axes):
    """out = x with each sample's axes permuted (``axes`` per sample, a permutation of 0 .. k - 1), a view.
    Returns ``(out, cache)``, cache = axes."""
    check_float_array("x", x, ndim=len(axes) + 1)
    return x.transpose(_sample_axes(axes)), tuple(axes)


def permute_backward(dout, cache):
    """dx = dout permuted back by the inverse permutation (a view)."""
    axes = cache
    check_float_array("dout", dout, ndim=len(axes) + 1)
    return dout.transpose(_sample_axes(np.argsort(axes)))


def _at(axis, index):
    """The key selecting ``index`` along sample axis ``axis``: ``x[:, ..., index]``."""
    return (slice(None),) * (axis + 1) + (index,)


def select_forward(x, index, axis=0):
    """out = x[:, index] along sample axis ``axis`` (x[:, :, index] for axis 1, ...), as a copy
    (so that out does not keep all of x alive). Returns ``(out, cache)``, cache = (x.shape, index, axis)."""
    check_float_array("x", x, min_ndim=axis + 2)
    return x[_at(axis, index)].copy(), (x.shape, index, axis)


def select_backward(dout, cache):
    """dx = zeros of x's shape holding dout at the selected position."""
    shape, index, axis = cache
    check_shape("dout", dout, shape[:axis + 1] + shape[axis + 2:])
    dx = np.zeros(shape, dtype=dout.dtype)
    dx[_at(axis, index)] = dout
    return dx


class _Move(Layer):
    """What the layers that only move values share: no count under any convention, no cache."""

    group = "Reshape"
    rules = {"walkthrough": ("0", "0"), "exact": ("0", "0")}
    exact_terms = walkthrough_terms = no_flops
    mac_terms = no_macs
    cache_bytes = no_bytes
    torch_saved = saves_nothing  # their backward needs the sizes only

    def torch_footprint(self, input_shape, itemsize):
        # reshape and permute: views both ways (a reshape of a non-contiguous input would copy)
        return Footprint(is_view=True)


class Reshape(_Move):
    """Each sample reshaped to ``shape`` (a list, per sample; one entry may be -1), as
    ``x.reshape(N, *shape)``."""

    kind = "reshape"
    display_name = "Reshape"
    gradient_text = r"$\frac{\partial \mathcal{L}}{\partial x}$ is the upstream gradient reshaped back."

    def __init__(self, shape, name=None):
        super().__init__(name)
        if not isinstance(shape, (list, tuple)) or not shape:
            raise TypeError(f"shape must be a non-empty list of sizes (per sample), got {shape!r}")
        self.shape = tuple(-1 if d == -1 else check_int("shape entries", d, 1) for d in shape)
        if self.shape.count(-1) > 1:
            raise ValueError(f"shape may hold at most one -1, got {list(shape)}")

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"reshape: input must have a batch dimension, got shape {tuple(input_shape)}")
        return (input_shape[0],) + _resolved(self.shape, input_shape[1:])

    def footprint(self, input_shape, itemsize):
        return Footprint(is_view=True)  # out a view of x, dx of dout (see the module docstring)

    def describe(self, input_shape):
        return f"Reshape(→ {list(self.output_shape(input_shape)[1:])})"

    def given_lines(self, input_shape):
        return [f"- **Operation**: each sample of shape {list(input_shape[1:])} reshaped to "
                f"{list(self.output_shape(input_shape)[1:])}; nothing is computed"]

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import function_module
        shape = self.shape
        return [function_module("Reshape", lambda x: x.reshape(x.shape[0], *shape))]

    def forward(self, x, params, mode="train"):
        return reshape_forward(x, self.shape)

    def backward(self, dout, cache):
        return reshape_backward(dout, cache), {}

    def config(self):
        return {"shape": list(self.shape)}


class Permute(_Move):
    """Each sample's axes permuted (``axes``, per sample), as ``x.permute(0, *(a + 1 for a in axes))``:
    ``axes: [1, 0]`` makes (N, D, L) into (N, L, D)."""

    kind = "permute"
    display_name = "Permute"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x}$ is the upstream gradient permuted back by the "
                     "inverse permutation.")

    def __init__(self, axes, name=None):
        super().__init__(name)
        if not isinstance(axes, (list, tuple)) or sorted(axes) != list(range(len(axes))) or not axes:
            raise ValueError(f"axes must be a permutation of the sample axes 0, 1, ..., k - 1, got {axes!r}")
        self.axes = tuple(int(a) for a in axes)

    def output_shape(self, input_shape):
        if len(input_shape) != len(self.axes) + 1:
            raise ValueError(f"permute: axes {list(self.axes)} permute samples of {len(self.axes)} axes, but the "
                             f"input's samples have {len(input_shape) - 1} (shape {tuple(input_shape)})")
        return tuple(input_shape[a] for a in _sample_axes(self.axes))

    def footprint(self, input_shape, itemsize):
        return Footprint(is_view=True)  # transposes: out a view of x, dx of dout

    def describe(self, input_shape):
        return f"Permute({list(self.axes)})"

    def given_lines(self, input_shape):
        return [f"- **Operation**: each sample's axes in the order {list(self.axes)}: "
                f"{list(input_shape[1:])} → {list(self.output_shape(input_shape)[1:])}; nothing is computed"]

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import function_module
        axes = _sample_axes(self.axes)
        return [function_module("Permute", lambda x: x.permute(*axes))]

    def forward(self, x, params, mode="train"):
        return permute_forward(x, self.axes)

    def backward(self, dout, cache):
        return permute_backward(dout, cache), {}

    def config(self):
        return {"axes": list(self.axes)}


class Select(_Move):
    """Position ``index`` of sample axis ``axis`` (its size removed), as ``x.select(axis + 1, index)``:
    a vision transformer's class token, ``x[:, 0]``, is ``select: {index: 0}``."""

    kind = "select"
    display_name = "Select"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x}$ is zero but at the selected position, where it is "
                     r"$\frac{\partial \mathcal{L}}{\partial y}$.")

    def __init__(self, index, axis=0, name=None):
        super().__init__(name)
        self.index, self.axis = check_int("index", index, 0), check_int("axis", axis, 0)

    def output_shape(self, input_shape):
        if len(input_shape) < self.axis + 2:
            raise ValueError(f"select: axis {self.axis} needs samples of at least {self.axis + 1} axes, got shape "
                             f"{tuple(input_shape)}")
        if self.index >= input_shape[self.axis + 1]:
            raise ValueError(f"select: index {self.index} is out of range for axis {self.axis} of size "
                             f"{input_shape[self.axis + 1]} (shape {tuple(input_shape)})")
        return tuple(input_shape[:self.axis + 1]) + tuple(input_shape[self.axis + 2:])

    def footprint(self, input_shape, itemsize):
        # forward: the selected copy; backward: dx, zeros but where dout goes
        return Footprint(forward_peak=elements(self.output_shape(input_shape)) * itemsize,
                         backward_peak=elements(input_shape) * itemsize)

    def torch_footprint(self, input_shape, itemsize):
        # x.select is a view; its backward makes dx, zeros of x's shape with dout put in
        return Footprint(is_view=True, dx_allocated=True, backward_peak=elements(input_shape) * itemsize)

    def describe(self, input_shape):
        return f"Select(axis {self.axis}, index {self.index})"

    def given_lines(self, input_shape):
        return [f"- **Operation**: position {n(self.index)} of each sample's axis {self.axis} (of size "
                f"{n(input_shape[self.axis + 1])}), copied; nothing is computed"]

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import function_module
        axis, index = self.axis + 1, self.index
        return [function_module("Select", lambda x: x.select(axis, index))]

    def forward(self, x, params, mode="train"):
        return select_forward(x, self.index, self.axis)

    def backward(self, dout, cache):
        return select_backward(dout, cache), {}

    def config(self):
        return {"index": self.index, "axis": self.axis}
