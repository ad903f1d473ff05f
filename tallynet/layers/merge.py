"""Merge nodes: where branches of a graph meet. ``add`` (residual connections), ``concat``
(along channels: Inception, SqueezeNet's fire modules, DenseNet) and ``mul`` (a tensor
scaled by a broadcast one: squeeze-and-excitation's channel weights).

A merge takes a list of inputs: its forward gets ``[x1, x2, ...]`` and its backward
returns ``[dx1, dx2, ...]``; shapes are lists too.
"""

import numpy as np

from ..counts import term
from ._checks import check_float_array, check_shape
from ._text import dims_symbol, elements, per_element, times
from .base import Footprint, Layer, Saved, no_bytes, no_macs, saves_nothing

__all__ = ["Add", "Concat", "Mul", "add_forward", "add_backward", "concat_forward", "concat_backward",
           "mul_forward", "mul_backward"]


def _check_inputs(kind, xs, at_least=2):
    if not isinstance(xs, (list, tuple)) or len(xs) < at_least:
        raise ValueError(f"{kind}: expected a list of at least {at_least} inputs, got {type(xs).__name__}")
    for i, x in enumerate(xs):
        check_float_array(f"inputs[{i}]", x)


def add_forward(xs):
    """out = x1 + x2 + ..., all of one shape. Returns ``(out, cache)`` with cache = the number of inputs."""
    _check_inputs("add", xs)
    for i, x in enumerate(xs[1:], 1):
        check_shape(f"inputs[{i}]", x, xs[0].shape)
    out = xs[0] + xs[1]
    for x in xs[2:]:
        out += x
    return out, (len(xs), xs[0].shape)


def add_backward(dout, cache):
    """Every input receives dout itself (a sum's gradient is the identity on each term)."""
    count, shape = cache
    check_shape("dout", dout, shape)
    return [dout] * count


def concat_forward(xs):
    """out = the inputs side by side along axis 1 (channels or features); the other axes must agree.
    Returns ``(out, cache)`` with cache = each input's size along axis 1."""
    _check_inputs("concat", xs)
    for i, x in enumerate(xs[1:], 1):
        if x.ndim != xs[0].ndim or x.shape[:1] + x.shape[2:] != xs[0].shape[:1] + xs[0].shape[2:]:
            raise ValueError(f"concat: inputs[{i}] has shape {x.shape}, which does not fit inputs[0]'s "
                             f"{xs[0].shape} but along axis 1")
    return np.concatenate(xs, axis=1), [x.shape[1] for x in xs]


def concat_backward(dout, cache):
    """dx_i = dout's slice along axis 1 that input i filled (views, nothing is copied)."""
    bounds = np.cumsum([0] + list(cache))
    if dout.shape[1] != bounds[-1]:
        raise ValueError(f"dout has {dout.shape[1]} entries along axis 1, expected {bounds[-1]}")
    return [dout[:, lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]


def _scale_fits(s_shape, x_shape):
    """Whether a scale of ``s_shape`` broadcasts over ``x_shape`` as mul takes it: x's own shape,
    its first two axes (N, C), or those with trailing axes of size 1."""
    s_shape, x_shape = tuple(s_shape), tuple(x_shape)
    return s_shape == x_shape or (s_shape[:2] == x_shape[:2] and len(s_shape) <= len(x_shape)
                                  and all(d == 1 for d in s_shape[2:]))


def _broadcast(s, x_ndim):
    """s (N, C) seen as (N, C, 1, 1) against an image batch: trailing axes of size 1."""
    return s.reshape(s.shape + (1,) * (x_ndim - s.ndim))


def mul_forward(xs):
    """out = x * s, with s of shape (N, C) or (N, C, 1, 1) broadcast over x (N, C, H, W)'s H and W
    (or s of x's own shape). Returns ``(out, cache)`` with cache = (x, s)."""
    _check_inputs("mul", xs)
    if len(xs) != 2:
        raise ValueError(f"mul: expected 2 inputs (a tensor and its scale), got {len(xs)}")
    x, s = xs
    if not _scale_fits(s.shape, x.shape):
        raise ValueError(f"mul: the scale's shape {s.shape} does not broadcast over the tensor's {x.shape}: "
                         f"expected {x.shape[:2]}, {x.shape[:2] + (1,) * (x.ndim - 2)} or {x.shape}")
    return x * _broadcast(s, x.ndim), (x, s)


def mul_backward(dout, cache):
    """dx = dout * s; ds = the sum of dout * x over the axes s was broadcast along."""
    x, s = cache
    check_shape("dout", dout, x.shape)
    axes = tuple(range(s.ndim, x.ndim)) + tuple(a for a in range(2, s.ndim) if s.shape[a] == 1 < x.shape[a])
    ds = (dout * x).sum(axis=axes).reshape(s.shape) if axes else dout * x
    return [dout * _broadcast(s, x.ndim), ds.astype(s.dtype, copy=False)]


class _Merge(Layer):
    """What merges share: a list of inputs, no parameters, no multiply-accumulates."""

    group = "Merge"
    mac_terms = no_macs

    def _shapes(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(f"{self.kind} takes at least 2 inputs, got {input_shape!r}")
        return [tuple(s) for s in input_shape]

    def describe(self, input_shape):
        return f"{self.display_name}({len(input_shape)} inputs)"


class Add(_Merge):
    kind = "add"
    display_name = "Add"
    title = "Addition (residual connection)"
    gradient_text = r"Each input receives $\frac{\partial \mathcal{L}}{\partial y}$ unchanged."
    rules = {"walkthrough": ("1 per element and extra input", "0"),
             "exact": ("1 addition per element and extra input", "0: dout is passed to every input")}

    def output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        for s in shapes[1:]:
            if s != shapes[0]:
                raise ValueError(f"add: input shapes {shapes[0]} and {s} differ")
        return shapes[0]

    def exact_terms(self, input_shape):
        shapes = self._shapes(input_shape)
        extra = len(shapes) - 1
        return {"forward": [term("additions, 1 per element of each input after the first",
                                 f"{extra} \\times " + times(dims_symbol(shapes[0])), (extra,) + shapes[0], "add")]}

    walkthrough_terms = exact_terms
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the sum; backward: nothing (every dx is dout itself)
        return Footprint(forward_peak=elements(self.output_shape(input_shape)) * itemsize, grads_are_views=True)

    torch_saved = saves_nothing  # AddBackward0 passes dout on

    def torch_footprint(self, input_shape, itemsize):
        # forward: the twin adds one input at a time (x0 + x1) + x2, each sum a new tensor, so
        # three or more inputs hold two sums at once; backward: dout itself to every input
        sums = min(len(self._shapes(input_shape)) - 1, 2)
        return Footprint(forward_peak=sums * elements(self.output_shape(input_shape)) * itemsize,
                         grads_are_views=True)

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import merge_module
        return [merge_module("add")]

    def forward(self, x, params, mode="train"):
        return add_forward(x)

    def backward(self, dout, cache):
        return add_backward(dout, cache), {}


class Concat(_Merge):
    kind = "concat"
    display_name = "Concat"
    title = "Concatenation along the channels"
    gradient_text = r"Each input receives its own slice of $\frac{\partial \mathcal{L}}{\partial y}$ along the channels."
    rules = {"walkthrough": ("0", "0"), "exact": ("0: a copy", "0: views of dout")}

    def output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or s[:1] + s[2:] != shapes[0][:1] + shapes[0][2:]:
                raise ValueError(f"concat: input shapes {shapes[0]} and {s} differ in more than axis 1")
        return shapes[0][:1] + (sum(s[1] for s in shapes),) + shapes[0][2:]

    def exact_terms(self, input_shape):
        self._shapes(input_shape)
        return {}

    walkthrough_terms = exact_terms
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the concatenated copy; backward: views of dout
        return Footprint(forward_peak=elements(self.output_shape(input_shape)) * itemsize, grads_are_views=True)

    torch_saved = saves_nothing  # CatBackward0 keeps the inputs' sizes and narrows dout

    def torch_footprint(self, input_shape, itemsize):
        # forward: the concatenated copy; backward: narrowed views of dout
        return Footprint(forward_peak=elements(self.output_shape(input_shape)) * itemsize, grads_are_views=True)

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import merge_module
        return [merge_module("concat")]

    def forward(self, x, params, mode="train"):
        return concat_forward(x)

    def backward(self, dout, cache):
        return concat_backward(dout, cache), {}


class Mul(_Merge):
    kind = "mul"
    display_name = "Mul"
    title = "Multiplication by a broadcast scale"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot s$; "
                     r"$\frac{\partial \mathcal{L}}{\partial s}$ sums $\frac{\partial \mathcal{L}}{\partial y} \cdot x$ "
                     r"over the axes $s$ is broadcast along.")
    rules = {"walkthrough": ("1 per element", "2 per element and the sums"),
             "exact": ("1 multiplication per element", "$dout \\cdot s$, $dout \\cdot x$ and its sums")}

    def output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        if len(shapes) != 2:
            raise ValueError(f"mul takes 2 inputs (a tensor and its scale), got {len(shapes)}")
        x, s = shapes
        if not _scale_fits(s, x):
            raise ValueError(f"mul: the scale's shape {s} does not broadcast over the tensor's {x}")
        return x

    def exact_terms(self, input_shape):
        x, s = self._shapes(input_shape)
        n, m = elements(x), elements(s)
        backward = [per_element(r"$dout \cdot s$", x, "mul"), per_element(r"$dout \cdot x$", x, "mul")]
        if m != n:
            backward.append(term("sums over the broadcast axes", r"N \times C \times (H W - 1)", (m, n // m - 1), "add"))
        return {"forward": [per_element(r"$x \cdot s$", x, "mul")], "backward_input": backward}

    walkthrough_terms = exact_terms
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the product; backward: dout * x beside its sum ds, then ds beside dx. The
        # cache keeps both inputs.
        x, s = self._shapes(input_shape)
        return Footprint(forward_peak=elements(x) * itemsize, backward_peak=(elements(x) + elements(s)) * itemsize,
                         keeps_input=True)

    def torch_saved(self, input_shape, dtype):
        """MulBackward0 saves both factors: the tensor and the (reshaped) scale."""
        dtype = np.dtype(dtype).name
        return [Saved(f"input{k}", shape, dtype) for k, shape in enumerate(self._shapes(input_shape))]

    def torch_footprint(self, input_shape, itemsize):
        # forward: the product; backward: dx = dout * s beside dout * x, summed to the scale's
        # shape when it is broadcast
        n, m = (elements(shape) for shape in self._shapes(input_shape))
        return Footprint(forward_peak=n * itemsize, backward_peak=(2 * n + (m if m != n else 0)) * itemsize)

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import merge_module
        return [merge_module("mul")]

    def forward(self, x, params, mode="train"):
        return mul_forward(x)

    def backward(self, dout, cache):
        return mul_backward(dout, cache), {}
