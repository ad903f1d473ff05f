"""Helpers for the prose and the named terms the layer classes state for the walkthrough.

Each layer module writes its own counts as :class:`~tallynet.counts.Term` lists and its
own "Given" lines; these are the pieces they share: numbers with thousands separators,
products of symbols, the symbols of an activation's dimensions, and seed 001's
output-size formulas for a window sliding over an image.
"""

import numpy as np

from ..counts import term


def n(value):
    """``1234567 -> '1,234,567'``."""
    return f"{value:,}"


def times(items):
    r"""``[a, b, c] -> 'a \times b \times c'``."""
    return r" \times ".join(str(i) for i in items)


def dims_symbol(shape):
    """Symbols for the dimensions of an activation: N C H W, N D, tokens N L D, or N D_1 ... D_k."""
    if len(shape) == 4:
        return ["N", "C", "H", "W"]
    if len(shape) == 2:
        return ["N", "D"]
    if len(shape) == 3:
        return ["N", "L", "D"]
    return ["N"] + [f"D_{i}" for i in range(1, len(shape))]


def per_element(label, shape, kind):
    """A term of one operation of ``kind`` per element of an activation of ``shape``."""
    return term(label, times(dims_symbol(shape)), shape, kind)


def elements(shape):
    return int(np.prod(shape))


def fmt_kernel(kh, kw):
    return str(kh) if kh == kw else f"{kh}×{kw}"


def per_axis(input_shape, output_shape, kh, kw):
    """``(axis name, input size, kernel size, output size)`` for H and then W of an image."""
    return (("H", input_shape[2], kh, output_shape[2]), ("W", input_shape[3], kw, output_shape[3]))


def window_dims(input_shape, output_shape, kh, kw, stride, pad):
    """Seed 001's output-size formulas with the numbers substituted, for convolution and pooling."""
    lines = []
    for axis, size, k, out in per_axis(input_shape, output_shape, kh, kw):
        inner = size + 2 * pad - k
        lines.append(fr"$$\textcolor{{red}}{{{axis}_{{out}}}} = \left\lfloor \frac{{{size} + 2({pad}) - {k}}}"
                     fr"{{{stride}}} \right\rfloor + 1 = \left\lfloor \frac{{{inner}}}{{{stride}}} "
                     fr"\right\rfloor + 1 = {out}$$")
    return lines


def window_given(kh, kw, stride, pad):
    """The "Given" lines of a sliding window: kernel, stride, padding."""
    return [f"- **Kernel Size**: $\\textcolor{{purple}}{{k_h = {kh}, k_w = {kw}}}$",
            f"- **Stride**: $s = {stride}$", f"- **Padding**: $p = {pad}$"]


def param_lines(shapes, itemsize):
    """Generic "Parameters" lines: each parameter's shape and size, then the total."""
    if not shapes:
        return ["- **Total**: 0 (no learnable parameters)"]
    counts = {name: elements(shape) for name, shape in shapes.items()}
    total = sum(counts.values())
    lines = [f"- **{name}**: {times(shape)} = {n(c)}" for (name, shape), c in zip(shapes.items(), counts.values())]
    return lines + [f"- **Total**: {n(total)} parameters = **{n(total * itemsize)} bytes**"]
