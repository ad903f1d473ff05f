"""Pooling: max pooling (naive and fast) and average pooling over sliding windows (global and
adaptive average pooling are in :mod:`.adaptive_pooling`, and importable from here too).

A pooling window of ``pool_height x pool_width`` slides over each channel of
x (N, C, H, W) with step ``stride`` and ``pad`` (default 0) on each side; the output
has shape (N, C, H', W') with H' = floor((H + 2 pad - pool_height) / stride) + 1, W'
likewise. As in PyTorch, rows and columns past the last full window are dropped:
they do not affect the output and get zero gradient. With ``ceil_mode`` the floor
is a ceiling (a last, partial window is kept), except that a window starting in the
right or bottom padding is dropped: H' = ceil(...) + 1, less 1 when (H' - 1) stride >= H + pad.

Padding is PyTorch's: max pooling pads with -inf (padding never wins), average
pooling with zeros that count in the divisor (``count_include_pad=True``), and a
window of ceil mode running past the padded input divides by the elements it has
inside input and padding only.

Tie rule of max pooling (every implementation here): the gradient of a window
goes to its FIRST maximal element in row-major order (smallest row, then
smallest column), i.e. to ``np.argmax`` of the flattened window. It is neither
split between tied elements nor copied to all of them, so a constant input
sends each window's whole gradient to its top-left element.
"""

from itertools import product

import numpy as np

from ..counts import Ops, term
from ._checks import check_cache, check_float_array, check_int, check_shape, window_output_size
from ._text import elements, fmt_kernel, per_axis, per_element, window_dims, window_given
from ._threads import split
from .adaptive_pooling import GlobalAvgPool, global_avg_pool_backward, global_avg_pool_forward  # noqa: F401
from .base import Footprint, Layer, Saved, no_bytes, no_macs, saves_input, torch_output_then_dx
from .im2col import (channel_major, col2im, im2col, image_shape, kernel_pair, kernel_spec, window_at, window_geometry,
                     window_param)

__all__ = ["MaxPool2d", "AvgPool2d", "max_pool_forward_naive", "max_pool_backward_naive",
           "max_pool_forward_fast", "max_pool_backward_fast", "avg_pool_forward", "avg_pool_backward"]


def _check_pool_args(x, pool_param):
    """Validate x and pool_param; returns ``(pool_param, H', W')`` with pool_param normalised
    (``pad`` 0 and ``ceil_mode`` False when absent)."""
    check_float_array("x", x, ndim=4)
    checked = {key: window_param(pool_param, "pool_param", key, 1) for key in ("pool_height", "pool_width", "stride")}
    checked["pad"] = window_param(pool_param, "pool_param", "pad", 0) if "pad" in pool_param else 0
    checked["ceil_mode"] = _check_ceil_mode(pool_param.get("ceil_mode", False))
    return checked, *_output_size(x.shape, checked)


def _check_ceil_mode(ceil_mode):
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    return ceil_mode


def pool_output_size(name, size, kernel, stride, pad, ceil_mode):
    """PyTorch's pooling output length: floor((size + 2 pad - kernel) / stride) + 1, or with
    ``ceil_mode`` the ceiling, less the last window when it would start in the right padding.
    A pad above half the kernel is refused, as in PyTorch (a window could then see padding only)."""
    if 2 * pad > kernel:
        raise ValueError(f"{name}: pad ({pad}) must be at most half the kernel ({kernel})")
    out = window_output_size(name, size, kernel, stride, pad)
    if ceil_mode:
        out = -(-(size + 2 * pad - kernel) // stride) + 1
        if (out - 1) * stride >= size + pad:
            out -= 1
    return out


def _output_size(x_shape, pool_param, name="x"):
    return tuple(pool_output_size(f"{name} {axis}", size, k, pool_param["stride"], pool_param["pad"],
                                  pool_param["ceil_mode"])
                 for axis, size, k in (("height", x_shape[2], pool_param["pool_height"]),
                                       ("width", x_shape[3], pool_param["pool_width"])))


def _padded(x, pool_param, fill):
    """x (N, C, H, W) in a buffer filled with ``fill`` around it: pad on each side, and more at
    the bottom and right where ceil mode's last windows run past the padding (the naive kernels')."""
    N, C, H, W = x.shape
    pad = pool_param["pad"]
    *_, Hp, Wp = window_geometry(H, W, pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"],
                                 pad, 1, _output_size(x.shape, pool_param))
    xp = np.full((N, C, Hp, Wp), fill, dtype=x.dtype)
    xp[:, :, pad:pad + H, pad:pad + W] = x
    return xp


# --- max pooling, naive -------------------------------------------------------

def max_pool_forward_naive(x, pool_param):
    """Reference forward pass of max pooling, one output element at a time.

    - x: input of shape (N, C, H, W)
    - pool_param: ``{'pool_height': int >= 1, 'pool_width': int >= 1, 'stride': int >= 1}``

    Returns ``(out, cache)``: out of shape (N, C, H', W'), in x's dtype, with
    out[n, c, p, q] = max of x[n, c] over the window of (p, q); cache = (x, pool_param).
    """
    pool_param, out_h, out_w = _check_pool_args(x, pool_param)
    N, C = x.shape[:2]
    xp = _padded(x, pool_param, -np.inf)
    out = np.empty((N, C, out_h, out_w), dtype=x.dtype)
    for n, c, p, q in product(range(N), range(C), range(out_h), range(out_w)):
        rows, cols = window_at(p, q, pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"])
        out[n, c, p, q] = xp[n, c, rows, cols].max()
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """Reference backward pass of max pooling.

    - dout: upstream derivative of shape (N, C, H', W')
    - cache: (x, pool_param) from :func:`max_pool_forward_naive`

    Returns dx of shape (N, C, H, W), in x's dtype: each dout[n, c, p, q] is added
    to the first maximal element of its window (the module's tie rule).
    """
    x, pool_param = check_cache("cache", cache, 2, "max_pool_forward_naive")
    N, C = x.shape[:2]
    out_h, out_w = _output_size(x.shape, pool_param)
    check_shape("dout", dout, (N, C, out_h, out_w))
    xp = _padded(x, pool_param, -np.inf)
    dxp = np.zeros_like(xp)
    for n, c, p, q in product(range(N), range(C), range(out_h), range(out_w)):
        rows, cols = window_at(p, q, pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"])
        window = xp[n, c, rows, cols]
        i, j = np.unravel_index(np.argmax(window), window.shape)  # first maximum, row-major
        dxp[n, c, rows.start + i, cols.start + j] += dout[n, c, p, q]
    pad, (H, W) = pool_param["pad"], x.shape[2:]
    return dxp[:, :, pad:pad + H, pad:pad + W].copy()


# --- the two fast paths: tiles and columns ---------------------------------------------
# Windows that tile x exactly (pool_height == pool_width == stride, H and W divisible)
# are read as the k = ph pw strided views x[:, :, i::ph, j::pw], one per window element
# in row-major order: no copy of x at all. Other windows (overlapping, or not covering
# x) are laid out as im2col columns, each channel's windows in one block,
# (C, k, H' W' N), and reduced over the window axis. Outputs and gradients are
# channel-major (see tallynet.layers.im2col), as the columns are.

def _uses_tiles(x_shape, pool_param):
    """Whether the windows tile x exactly: disjoint, square, and covering H and W."""
    # (ceil mode changes nothing then: the windows divide H and W exactly)
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return ph == pw == s and x_shape[2] % ph == 0 and x_shape[3] % pw == 0 and pool_param["pad"] == 0


def _tile_views(a, ph, pw):
    """The ph pw strided views a[:, :, i::ph, j::pw] of tiled windows, in row-major (i, j) order."""
    return [a[:, :, i::ph, j::pw] for i in range(ph) for j in range(pw)]


def _window_columns(x, pool_param, fill=0):
    """The pooling windows of x (N, C, H, W) as im2col columns, one block per channel: (C, k, H' W' N);
    padding (and ceil mode's overhang) holds ``fill``."""
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    return im2col(x, ph, pw, pool_param["stride"], pool_param["pad"], fill=fill,
                  out_hw=_output_size(x.shape, pool_param)).reshape(x.shape[1], ph * pw, -1)


def _columns_to_input(dcols, x_shape, pool_param):
    """Adjoint of :func:`_window_columns`: dx (channel-major) from (C, k, H' W' N) column gradients."""
    return col2im(dcols.reshape(-1, dcols.shape[2]), x_shape, pool_param["pool_height"],
                  pool_param["pool_width"], pool_param["stride"], pool_param["pad"],
                  out_hw=_output_size(x_shape, pool_param))


def _rows_as_output(rows, out_shape):
    """(C, H' W' N) values, one per window, as the channel-major output (N, C, H', W') (a view)."""
    N, C, H, W = out_shape
    return rows.reshape(C, H, W, N).transpose(3, 0, 1, 2)


def _output_as_rows(a):
    """(N, C, H', W') as (C, H' W' N), the columns' order: a view when ``a`` is channel-major."""
    return a.transpose(1, 2, 3, 0).reshape(a.shape[1], -1)


def max_pool_forward_fast(x, pool_param):
    """Vectorized forward pass of max pooling; same arguments and output as the naive one.

    Windows that tile x exactly take the fast path: out is the running ``np.maximum``
    of the k = ph pw strided views x[:, :, i::ph, j::pw] (k - 1 comparisons per output,
    like an argmax, but with no copy of x and no index array), channels split over
    threads. Other windows are laid out as im2col columns and reduced with argmax
    (the module's tie rule: first maximum).

    Returns ``(out, cache)``, out laid out like x on the fast path and channel-major
    otherwise: cache = ("tiles", x, out, pool_param) on the fast path, whose backward
    finds each window's first maximum again by comparison; else ("columns", x.shape,
    x.dtype, pool_param, argmax) with argmax of shape (C, H' W' N).
    """
    pool_param, out_h, out_w = _check_pool_args(x, pool_param)
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    if _uses_tiles(x.shape, pool_param):
        views = _tile_views(x, ph, pw)
        out = np.empty_like(views[0])  # laid out like x

        def channels(s):
            out[:, s] = views[0][:, s]
            for view in views[1:]:
                np.maximum(out[:, s], view[:, s], out=out[:, s])
        split(channels, x.shape[1], x, out)
        return out, ("tiles", x, out, pool_param)
    padded = pool_param["pad"] or pool_param["ceil_mode"]  # -inf padding never wins a window
    cols = _window_columns(x, pool_param, -np.inf if padded else 0)
    argmax = cols.argmax(axis=1)
    out = _rows_as_output(np.take_along_axis(cols, argmax[:, None], axis=1)[:, 0], (x.shape[0], x.shape[1], out_h, out_w))
    return out, ("columns", x.shape, x.dtype, pool_param, argmax)


def _check_dout(dout, x_shape, pool_param):
    check_shape("dout", dout, (x_shape[0], x_shape[1], *_output_size(x_shape, pool_param)))


def _max_pool_backward_tiles(dout, x, out, pool_param):
    """The tiling path of :func:`max_pool_backward_fast` (see its docstring)."""
    _check_dout(dout, x.shape, pool_param)
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    dx = np.empty_like(x)
    views, dviews = _tile_views(x, ph, pw), _tile_views(dx, ph, pw)

    def channels(s):
        pending = dout[:, s].astype(x.dtype)  # a copy: it is consumed in place
        for view, dview in zip(views[:-1], dviews[:-1]):
            np.multiply(pending, view[:, s] == out[:, s], out=dview[:, s])
            pending -= dview[:, s]
        dviews[-1][:, s] = pending
    split(channels, x.shape[1], x, dx)
    return dx


def max_pool_backward_fast(dout, cache):
    """Backward pass of :func:`max_pool_forward_fast`: each window's dout goes to its first maximum.

    - dout: upstream derivative of shape (N, C, H', W')
    Returns dx of shape (N, C, H, W), in x's dtype (laid out like x on the fast path,
    channel-major otherwise).

    Fast path: walking the window's elements in row-major order, element e takes
    ``pending * (x_e == max)`` and that much leaves ``pending`` (the gradient not yet
    routed, so a tie's later elements get 0); the last element takes what is left.
    Per window: k - 1 comparisons, k - 1 multiplications by the 0/1 hit and k - 1
    subtractions, all exact. (Multiplying by a mask is about 6x faster than np.where.)
    Otherwise dout is put at each window's argmax in zero columns, and col2im adds them up.
    """
    if isinstance(cache, tuple) and cache[:1] == ("tiles",):
        return _max_pool_backward_tiles(dout, *check_cache("cache", cache, 4, "max_pool_forward_fast")[1:])
    _, x_shape, dtype, pool_param, argmax = check_cache("cache", cache, 5, "max_pool_forward_fast")
    _check_dout(dout, x_shape, pool_param)
    dcols = np.zeros((argmax.shape[0], pool_param["pool_height"] * pool_param["pool_width"], argmax.shape[1]),
                     dtype=dtype)
    np.put_along_axis(dcols, argmax[:, None], _output_as_rows(dout)[:, None], axis=1)
    return _columns_to_input(dcols, x_shape, pool_param)


# --- average pooling ----------------------------------------------------------------

def avg_pool_forward(x, pool_param):
    """Forward pass of average pooling (no padding).

    - x: input of shape (N, C, H, W); pool_param as for max pooling

    Returns ``(out, cache)``: out of shape (N, C, H', W'), in x's dtype, with
    out[n, c, p, q] = mean of x[n, c] over the window of (p, q) (tiles: the sum of
    the k strided views divided by k; otherwise the mean of im2col columns);
    cache = (method, x.shape, x.dtype, pool_param), method "tiles" or "columns".
    """
    pool_param, out_h, out_w = _check_pool_args(x, pool_param)
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    if _uses_tiles(x.shape, pool_param):
        views = _tile_views(x, ph, pw)
        out = np.empty_like(views[0])
        out[...] = views[0]
        for view in views[1:]:
            out += view
        out /= ph * pw
        return out, ("tiles", x.shape, x.dtype, pool_param)
    divisors = _divisors(x.shape, pool_param, x.dtype)
    if divisors is None:
        rows = _window_columns(x, pool_param).mean(axis=1)
    else:
        rows = _window_columns(x, pool_param).sum(axis=1)
        _per_window(rows, out_h, out_w)[...] /= divisors
    return _rows_as_output(rows, (x.shape[0], x.shape[1], out_h, out_w)), ("columns", x.shape, x.dtype, pool_param)


def _divisors(x_shape, pool_param, dtype):
    """The divisor of each window, (H', W', 1) to broadcast over (C, H', W', N), when not every
    window has kh kw elements inside input and padding (ceil mode's last ones); else None.

    PyTorch's count: a window starting at s p - pad covers min(kh, H + 2 pad - s p) rows of the
    padded input (and likewise columns); the product is its divisor."""
    if not pool_param["ceil_mode"]:
        return None  # the floor formula's windows all lie inside input and padding
    out_h, out_w = _output_size(x_shape, pool_param)
    s, span = pool_param["stride"], (x_shape[2] + 2 * pool_param["pad"], x_shape[3] + 2 * pool_param["pad"])
    rows = np.minimum(pool_param["pool_height"], span[0] - s * np.arange(out_h))
    cols = np.minimum(pool_param["pool_width"], span[1] - s * np.arange(out_w))
    if rows.min() == pool_param["pool_height"] and cols.min() == pool_param["pool_width"]:
        return None
    return (rows[:, None] * cols[None, :])[:, :, None].astype(dtype)


def _per_window(rows, out_h, out_w):
    """(C, H' W' N) rows as (C, H', W', N) (a view)."""
    return rows.reshape(rows.shape[0], out_h, out_w, -1)


def avg_pool_backward(dout, cache):
    """Backward pass of average pooling.

    - dout: upstream derivative of shape (N, C, H', W')
    Returns dx of shape (N, C, H, W), in x's dtype, channel-major: every element of a
    window receives dout / (pool_height * pool_width), summed over the windows that cover it.
    """
    method, x_shape, dtype, pool_param = check_cache("cache", cache, 4, "avg_pool_forward")
    _check_dout(dout, x_shape, pool_param)
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    divisors = _divisors(x_shape, pool_param, dtype)
    if divisors is not None:
        rows = (_per_window(_output_as_rows(dout), *dout.shape[2:]) / divisors).reshape(x_shape[1], -1)
        return _spread_over_windows(rows, x_shape, pool_param)
    share = (dout / (ph * pw)).astype(dtype, copy=False)
    if method == "tiles":
        dx = channel_major(x_shape, dtype)
        for view in _tile_views(dx, ph, pw):
            view[...] = share
        return dx
    return _spread_over_windows(_output_as_rows(share), x_shape, pool_param)


def _spread_over_windows(rows, x_shape, pool_param):
    """dx from each window's gradient share (C, H' W' N): copied to its k elements, col2im adds."""
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    return _columns_to_input(np.broadcast_to(rows[:, None], (rows.shape[0], ph * pw, rows.shape[1])), x_shape,
                             pool_param)


# --- layers -----------------------------------------------------------------------
_WINDOWS = r"N \times C \times H_{out} \times W_{out}"


class _Pool2d(Layer):
    """A ``kernel`` (int or (kh, kw)) window pooling with step ``stride`` (default: the kernel),
    ``pad`` on each side (at most half the kernel) and PyTorch's ``ceil_mode``."""

    def __init__(self, kernel, stride=None, pad=0, ceil_mode=False, name=None):
        super().__init__(name)
        self.kh, self.kw = kernel_pair("kernel", kernel)
        if stride is None:
            if self.kh != self.kw:
                raise ValueError(f"stride must be given when the kernel is not square, got kernel {kernel!r}")
            stride = self.kh
        self.stride = check_int("stride", stride, 1)
        self.pad = check_int("pad", pad, 0)
        if 2 * self.pad > min(self.kh, self.kw):
            raise ValueError(f"pad ({self.pad}) must be at most half the kernel ({kernel!r})")
        self.ceil_mode = _check_ceil_mode(ceil_mode)

    @property
    def pool_param(self):
        return {"pool_height": self.kh, "pool_width": self.kw, "stride": self.stride, "pad": self.pad,
                "ceil_mode": self.ceil_mode}

    def output_shape(self, input_shape):
        N, C, H, W = image_shape(self.kind, input_shape)
        return (N, C, *_output_size((N, C, H, W), self.pool_param, "input"))

    def _padded_elements(self, input_shape):
        """Elements of im2col's padded buffer (and col2im's), ceil mode's overhang included."""
        N, C, H, W = image_shape(self.kind, input_shape)
        _, _, out_h, out_w = self.output_shape(input_shape)
        *_, Hp, Wp = window_geometry(H, W, self.kh, self.kw, self.stride, self.pad, 1, (out_h, out_w))
        return N * C * Hp * Wp

    # --- cost, from shapes alone ------------------------------------------------------
    def _windows(self, input_shape):
        """``(N, C, H', W', k)``: the output's shape and the window size kh kw."""
        return (*self.output_shape(input_shape), self.kh * self.kw)

    def uses_col2im(self, input_shape):
        """Whether the windows go through im2col columns, so that backward assembles dx with
        col2im (k additions per window): they overlap or do not tile the input exactly."""
        return not _uses_tiles(input_shape, self.pool_param)

    def _scatter_terms(self, input_shape):
        """col2im's additions in backward: each of the k M column entries is added into dx."""
        if not self.uses_col2im(input_shape):
            return []
        return [term("col2im, each window entry added into dx", _WINDOWS + r" \times k_h k_w",
                     self._windows(input_shape), "add")]

    mac_terms = no_macs

    # --- the walkthrough's prose and PyTorch ---------------------------------------------
    def describe(self, input_shape):
        extras = (f", p={self.pad}" if self.pad else "") + (", ceil" if self.ceil_mode else "")
        return f"{self.display_name}(k={fmt_kernel(self.kh, self.kw)}, s={self.stride}{extras})"

    def given_lines(self, input_shape):
        ceil = ["- **Ceil mode**: a last, partial window is kept (not one starting in the padding)"]
        return window_given(self.kh, self.kw, self.stride, self.pad) + (ceil if self.ceil_mode else [])

    def dims_lines(self, input_shape):
        out = self.output_shape(input_shape)
        if not self.ceil_mode:
            return window_dims(input_shape, out, self.kh, self.kw, self.stride, self.pad)
        return [fr"$${axis}_{{out}} = \left\lceil \frac{{{size} + 2({self.pad}) - {k}}}{{{self.stride}}} "
                fr"\right\rceil + 1 = {o}$$ (less 1 if that window would start in the padding)"
                for axis, size, k, o in per_axis(input_shape, out, self.kh, self.kw)]

    def to_torch(self, input_shape, params, nn):
        return [self._torch_class(nn)((self.kh, self.kw), stride=self.stride, padding=self.pad,
                                      ceil_mode=self.ceil_mode)]

    def forward(self, x, params, mode="train"):
        return self._forward(x, self.pool_param)

    def backward(self, dout, cache):
        return self._backward(dout, cache), {}

    def config(self):
        config = {"kernel": kernel_spec(self.kh, self.kw), "stride": self.stride}
        if self.pad:
            config["pad"] = self.pad
        if self.ceil_mode:
            config["ceil_mode"] = True
        return config


class MaxPool2d(_Pool2d):
    kind = "maxpool"
    display_name = "MaxPool"
    group = "Pooling"
    title = "Max Pooling"
    gradient_text = (r"Each window's gradient goes to the position of its maximum (the first one on ties): "
                     r"$\frac{\partial \mathcal{L}}{\partial x_{h,w}} = \frac{\partial \mathcal{L}}{\partial y_{h',w'}}$ "
                     r"if $x_{h,w}$ is the maximum of the window of $(h', w')$, else 0.")
    rules = {"walkthrough": ("$k^2$ per output", "1 per input element"),
             "exact": ("$k_h k_w - 1$ comparisons per output",
                       "col2im additions when windows overlap, else $k_h k_w - 1$ each of cmp, mul, add per output")}
    _forward = staticmethod(max_pool_forward_fast)
    _backward = staticmethod(max_pool_backward_fast)

    @staticmethod
    def _torch_class(nn):
        return nn.MaxPool2d

    def exact_terms(self, input_shape):
        # forward: k - 1 comparisons per window (np.maximum over the tile views, or argmax
        # over the columns; the gather of the maxima is a copy). Backward on tiles: per window
        # k - 1 comparisons with the max, k - 1 multiplications by the hit, k - 1 subtractions
        # from the pending gradient; on columns: dout is assigned into zero columns (a copy),
        # then col2im adds.
        N, C, Ho, Wo, k = self._windows(input_shape)
        compare = _WINDOWS + r" \times (k_h k_w - 1)"
        backward = self._scatter_terms(input_shape) or [
            term(f"routing dout to each window's first maximum, $k_h k_w - 1$ {what}", compare,
                 (N, C, Ho, Wo, k - 1), kind)
            for what, kind in (("comparisons", "cmp"), ("multiplications by the hit", "mul"),
                               ("subtractions from the pending gradient", "add"))]
        return {"forward": [term("maximum of each window, $k_h k_w - 1$ comparisons", compare,
                                 (N, C, Ho, Wo, k - 1), "cmp")],
                "backward_input": backward}

    def walkthrough_terms(self, input_shape):
        # Seed 001: k^2 comparisons per output; backward routes the gradient, 1 per input
        # element (counted as the comparison that finds where the maximum was).
        return {"forward": [term("FLOPs, $k^2$ comparisons per output", _WINDOWS + r" \times k^2",
                                 self._windows(input_shape), "cmp")],
                "backward_input": [per_element("routing the gradient, 1 per input element", input_shape, "cmp")]}

    def cache_bytes(self, input_shape, itemsize):
        # On tiles the cache holds the input and the output, nothing new; on columns, the
        # argmax of each window: one integer index (np.intp, 8 bytes) per output.
        if not self.uses_col2im(input_shape):
            return 0
        return elements(self.output_shape(input_shape)) * np.dtype(np.intp).itemsize

    def footprint(self, input_shape, itemsize):
        M, k = elements(self.output_shape(input_shape)), self.kh * self.kw
        n, index = elements(input_shape), np.dtype(np.intp).itemsize
        padded = self._padded_elements(input_shape)
        if not self.uses_col2im(input_shape):
            # forward: the output, maxed in place; backward: dx, the pending copy of dout and
            # one boolean hit mask at a time (none for a 1 x 1 window). The cache is x and the output.
            return Footprint(forward_peak=M * itemsize, backward_peak=(n + M) * itemsize + M * (k > 1),
                             keeps_input=True, keeps_output=True)
        # forward: im2col's padded copy of x beside the columns (k, M), then the columns
        # beside argmax's transposed contiguous copy of them and its result, then the columns,
        # the argmax and the gathered maxima (the output); backward: dcols beside col2im's buffer
        columns = k * M * itemsize
        return Footprint(forward_peak=max(padded * itemsize + columns, 2 * columns + M * index,
                                          columns + M * index + M * itemsize),
                         backward_peak=columns + padded * itemsize)

    def torch_saved(self, input_shape, dtype):
        """``max_pool2d_with_indices`` saves its input and the int64 index of each window's maximum."""
        return saves_input(self, input_shape, dtype) + [Saved("indices", self.output_shape(input_shape), "int64")]

    def torch_footprint(self, input_shape, itemsize):
        # forward: the output and the indices; backward: dx, zeros with dout scattered in
        M = elements(self.output_shape(input_shape))
        return Footprint(forward_peak=M * (itemsize + 8), backward_peak=elements(input_shape) * itemsize)


class AvgPool2d(_Pool2d):
    kind = "avgpool"
    display_name = "AvgPool"
    group = "Pooling"
    title = "Average Pooling"
    gradient_text = (r"Each element of a window receives $\frac{1}{k_h k_w} \frac{\partial \mathcal{L}}{\partial y}$, "
                     r"summed over the windows that cover it.")
    rules = {"walkthrough": ("$k^2$ per output (as max pooling)", "1 per input element"),
             "exact": ("$k_h k_w - 1$ additions and 1 division per output", "1 division per output, col2im additions")}
    _forward = staticmethod(avg_pool_forward)
    _backward = staticmethod(avg_pool_backward)

    @staticmethod
    def _torch_class(nn):
        return nn.AvgPool2d

    def exact_terms(self, input_shape):
        # forward: the mean of each window, k - 1 additions and 1 division;
        # backward: dout / k, 1 division per output (spreading it over the windows is a copy),
        # then col2im on columns
        N, C, Ho, Wo, k = self._windows(input_shape)
        return {"forward": [term("sums, $k_h k_w - 1$ additions per window", _WINDOWS + r" \times (k_h k_w - 1)",
                                 (N, C, Ho, Wo, k - 1), "add"),
                            term("division by $k_h k_w$", _WINDOWS, (N, C, Ho, Wo), "div")],
                "backward_input": [term("$dout / (k_h k_w)$", _WINDOWS, (N, C, Ho, Wo), "div")]
                + self._scatter_terms(input_shape)}

    def walkthrough_terms(self, input_shape):
        """Not in seed 001; counted as its max pooling: k^2 per output (k^2 - 1 additions and
        the division by k^2), and backward 1 per input element (scaling the gradient share)."""
        N, C, Ho, Wo, k = self._windows(input_shape)
        M = N * C * Ho * Wo
        return {"forward": [term("FLOPs, $k^2$ per output ($k^2 - 1$ additions and a division)",
                                 _WINDOWS + r" \times k^2", (N, C, Ho, Wo, k), Ops(add=M * (k - 1), div=M))],
                "backward_input": [per_element("scaling the gradient share, 1 per input element", input_shape, "mul")]}

    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # tiles: forward the output, summed in place; backward dout / k and dx.
        # columns: forward im2col's zero-padded copy of x beside the columns (k, M), then the
        # columns beside their mean; backward dout / k, its k-fold copy as columns (a view
        # when there is one channel: the broadcast then reshapes without a copy) and col2im's dx
        M, k = elements(self.output_shape(input_shape)), self.kh * self.kw
        n, channels = elements(input_shape), input_shape[1]
        if not self.uses_col2im(input_shape):
            return Footprint(forward_peak=M * itemsize, backward_peak=(M + n) * itemsize)
        # (with ceil mode's divisors, the sums are divided in place, and dout by them into one new array)
        copies, padded = k * M * (channels > 1), self._padded_elements(input_shape)
        return Footprint(forward_peak=(k * M + max(padded, M)) * itemsize,
                         backward_peak=(M + copies + padded) * itemsize)

    torch_saved = saves_input  # AvgPool2DBackward0 saves self
    torch_footprint = torch_output_then_dx
