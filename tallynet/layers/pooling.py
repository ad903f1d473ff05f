"""Pooling: max pooling (naive and fast), average pooling, global average pooling.

A pooling window of ``pool_height x pool_width`` slides over each channel of
x (N, C, H, W) with step ``stride`` and no padding; the output has shape
(N, C, H', W') with H' = floor((H - pool_height) / stride) + 1, W' likewise.
As in PyTorch, rows and columns past the last full window are dropped: they do
not affect the output and get zero gradient.

Tie rule of max pooling (every implementation here): the gradient of a window
goes to its FIRST maximal element in row-major order (smallest row, then
smallest column), i.e. to ``np.argmax`` of the flattened window. It is neither
split between tied elements nor copied to all of them, so a constant input
sends each window's whole gradient to its top-left element.
"""

from itertools import product

import numpy as np

from ..counts import LayerFlops, Ops
from ._checks import check_cache, check_float_array, check_int, check_shape
from ._threads import split
from .base import Footprint, Layer
from .im2col import channel_major, col2im, im2col, image_shape, kernel_pair, kernel_spec, output_hw, window_at, window_param


def _check_pool_args(x, pool_param):
    """Validate x and pool_param; returns ``(pool_param, H', W')`` with pool_param normalised."""
    check_float_array("x", x, ndim=4)
    pool_param = {key: window_param(pool_param, "pool_param", key, 1)
                  for key in ("pool_height", "pool_width", "stride")}
    return pool_param, *_output_size(x.shape, pool_param)


def _output_size(x_shape, pool_param):
    return output_hw("x", x_shape[2], x_shape[3], pool_param["pool_height"], pool_param["pool_width"],
                     pool_param["stride"], 0)


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
    out = np.empty((N, C, out_h, out_w), dtype=x.dtype)
    for n, c, p, q in product(range(N), range(C), range(out_h), range(out_w)):
        rows, cols = window_at(p, q, pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"])
        out[n, c, p, q] = x[n, c, rows, cols].max()
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
    dx = np.zeros_like(x)
    for n, c, p, q in product(range(N), range(C), range(out_h), range(out_w)):
        rows, cols = window_at(p, q, pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"])
        window = x[n, c, rows, cols]
        i, j = np.unravel_index(np.argmax(window), window.shape)  # first maximum, row-major
        dx[n, c, rows.start + i, cols.start + j] += dout[n, c, p, q]
    return dx


# --- the two fast paths: tiles and columns ---------------------------------------------
# Windows that tile x exactly (pool_height == pool_width == stride, H and W divisible)
# are read as the k = ph pw strided views x[:, :, i::ph, j::pw], one per window element
# in row-major order: no copy of x at all. Other windows (overlapping, or not covering
# x) are laid out as im2col columns, each channel's windows in one block,
# (C, k, H' W' N), and reduced over the window axis. Outputs and gradients are
# channel-major (see tallynet.layers.im2col), as the columns are.

def _uses_tiles(x_shape, pool_param):
    """Whether the windows tile x exactly: disjoint, square, and covering H and W."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return ph == pw == s and x_shape[2] % ph == 0 and x_shape[3] % pw == 0


def _tile_views(a, ph, pw):
    """The ph pw strided views a[:, :, i::ph, j::pw] of tiled windows, in row-major (i, j) order."""
    return [a[:, :, i::ph, j::pw] for i in range(ph) for j in range(pw)]


def _window_columns(x, pool_param):
    """The pooling windows of x (N, C, H, W) as im2col columns, one block per channel: (C, k, H' W' N)."""
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    return im2col(x, ph, pw, pool_param["stride"], 0).reshape(x.shape[1], ph * pw, -1)


def _columns_to_input(dcols, x_shape, pool_param):
    """Adjoint of :func:`_window_columns`: dx (channel-major) from (C, k, H' W' N) column gradients."""
    return col2im(dcols.reshape(-1, dcols.shape[2]), x_shape, pool_param["pool_height"],
                  pool_param["pool_width"], pool_param["stride"], 0)


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
    cols = _window_columns(x, pool_param)
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
    out = _rows_as_output(_window_columns(x, pool_param).mean(axis=1), (x.shape[0], x.shape[1], out_h, out_w))
    return out, ("columns", x.shape, x.dtype, pool_param)


def avg_pool_backward(dout, cache):
    """Backward pass of average pooling.

    - dout: upstream derivative of shape (N, C, H', W')
    Returns dx of shape (N, C, H, W), in x's dtype, channel-major: every element of a
    window receives dout / (pool_height * pool_width), summed over the windows that cover it.
    """
    method, x_shape, dtype, pool_param = check_cache("cache", cache, 4, "avg_pool_forward")
    _check_dout(dout, x_shape, pool_param)
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    share = (dout / (ph * pw)).astype(dtype, copy=False)
    if method == "tiles":
        dx = channel_major(x_shape, dtype)
        for view in _tile_views(dx, ph, pw):
            view[...] = share
        return dx
    rows = _output_as_rows(share)
    return _columns_to_input(np.broadcast_to(rows[:, None], (rows.shape[0], ph * pw, rows.shape[1])), x_shape,
                             pool_param)


def global_avg_pool_forward(x):
    """Global average pooling: (N, C, H, W) -> (N, C), out[n, c] = mean of x[n, c] over H and W.

    Returns ``(out, cache)`` in x's dtype; cache = (x.shape, x.dtype).
    """
    check_float_array("x", x, ndim=4)
    return x.mean(axis=(2, 3)), (x.shape, x.dtype)


def global_avg_pool_backward(dout, cache):
    """dx[n, c, h, w] = dout[n, c] / (H W); dout of shape (N, C), dx of shape (N, C, H, W),
    channel-major (see :mod:`tallynet.layers.im2col`)."""
    x_shape, dtype = check_cache("cache", cache, 2, "global_avg_pool_forward")
    check_shape("dout", dout, x_shape[:2])
    dx = channel_major(x_shape, dtype)
    dx[...] = (dout / (x_shape[2] * x_shape[3]))[:, :, None, None]
    return dx


# --- layers -----------------------------------------------------------------------

class _Pool2d(Layer):
    """A ``kernel`` (int or (kh, kw)) window pooling with step ``stride`` (default: the kernel)."""

    def __init__(self, kernel, stride=None, name=None):
        super().__init__(name)
        self.kh, self.kw = kernel_pair("kernel", kernel)
        if stride is None:
            if self.kh != self.kw:
                raise ValueError(f"stride must be given when the kernel is not square, got kernel {kernel!r}")
            stride = self.kh
        self.stride = check_int("stride", stride, 1)

    @property
    def pool_param(self):
        return {"pool_height": self.kh, "pool_width": self.kw, "stride": self.stride}

    def output_shape(self, input_shape):
        N, C, H, W = image_shape(self.kind, input_shape)
        return (N, C, *output_hw("input", H, W, self.kh, self.kw, self.stride, 0))

    # --- cost, from shapes alone ------------------------------------------------------
    def _windows(self, input_shape):
        """``(M, k)``: the number of windows N C H' W' and the window size kh kw."""
        return int(np.prod(self.output_shape(input_shape))), self.kh * self.kw

    def uses_col2im(self, input_shape):
        """Whether the windows go through im2col columns, so that backward assembles dx with
        col2im (k additions per window): they overlap or do not tile the input exactly."""
        return not _uses_tiles(input_shape, self.pool_param)

    def _scatter_ops(self, input_shape):
        """col2im's additions in backward: each of the k M column entries is added into dx."""
        M, k = self._windows(input_shape)
        return Ops(add=k * M if self.uses_col2im(input_shape) else 0)

    def forward(self, x, params, mode="train"):
        return self._forward(x, self.pool_param)

    def backward(self, dout, cache):
        return self._backward(dout, cache), {}

    def config(self):
        return {"kernel": kernel_spec(self.kh, self.kw), "stride": self.stride}


class MaxPool2d(_Pool2d):
    kind = "maxpool"
    _forward = staticmethod(max_pool_forward_fast)
    _backward = staticmethod(max_pool_backward_fast)

    def exact_flops(self, input_shape):
        # forward: k - 1 comparisons per window (np.maximum over the tile views, or argmax
        # over the columns; the gather of the maxima is a copy). Backward on tiles: per window
        # k - 1 comparisons with the max, k - 1 multiplications by the hit, k - 1 subtractions
        # from the pending gradient; on columns: dout is assigned into zero columns (a copy),
        # then col2im adds.
        M, k = self._windows(input_shape)
        tiles = M * (k - 1) * (not self.uses_col2im(input_shape))
        find_again = Ops(cmp=tiles, mul=tiles, add=tiles)
        return LayerFlops(forward=Ops(cmp=M * (k - 1)), backward_input=find_again + self._scatter_ops(input_shape))

    def walkthrough_flops(self, input_shape):
        # Seed 001: k^2 comparisons per output; backward routes the gradient, 1 per input
        # element (counted as the comparison that finds where the maximum was).
        M, k = self._windows(input_shape)
        return LayerFlops(forward=Ops(cmp=M * k), backward_input=Ops(cmp=int(np.prod(input_shape))))

    def cache_bytes(self, input_shape, itemsize):
        # On tiles the cache holds the input and the output, nothing new; on columns, the
        # argmax of each window: one integer index (np.intp, 8 bytes) per output.
        if not self.uses_col2im(input_shape):
            return 0
        return self._windows(input_shape)[0] * np.dtype(np.intp).itemsize

    def footprint(self, input_shape, itemsize):
        M, k = self._windows(input_shape)
        n, index = int(np.prod(input_shape)), np.dtype(np.intp).itemsize
        if not self.uses_col2im(input_shape):
            # forward: the output, maxed in place; backward: dx, the pending copy of dout and
            # one boolean hit mask at a time. The cache is x and the output.
            return Footprint(forward_peak=M * itemsize, backward_peak=(n + M) * itemsize + M,
                             keeps_input=True, keeps_output=True)
        # forward: im2col's zero-padded copy of x beside the columns (k, M), then the columns
        # beside argmax's transposed contiguous copy of them and its result, then the columns,
        # the argmax and the gathered maxima (the output); backward: dcols beside col2im's buffer
        columns = k * M * itemsize
        return Footprint(forward_peak=max(n * itemsize + columns, 2 * columns + M * index,
                                          columns + M * index + M * itemsize),
                         backward_peak=columns + n * itemsize)


class AvgPool2d(_Pool2d):
    kind = "avgpool"
    _forward = staticmethod(avg_pool_forward)
    _backward = staticmethod(avg_pool_backward)

    def exact_flops(self, input_shape):
        # forward: the mean of each window, k - 1 additions and 1 division;
        # backward: dout / k, 1 division per output (spreading it over the windows is a copy),
        # then col2im on columns
        M, k = self._windows(input_shape)
        return LayerFlops(forward=Ops(add=M * (k - 1), div=M),
                          backward_input=Ops(div=M) + self._scatter_ops(input_shape))

    def walkthrough_flops(self, input_shape):
        """Not in seed 001; counted as its max pooling: k^2 per output (k^2 - 1 additions and
        the division by k^2), and backward 1 per input element (scaling the gradient share)."""
        M, k = self._windows(input_shape)
        return LayerFlops(forward=Ops(add=M * (k - 1), div=M), backward_input=Ops(mul=int(np.prod(input_shape))))

    def footprint(self, input_shape, itemsize):
        # tiles: forward the output, summed in place; backward dout / k and dx.
        # columns: forward im2col's zero-padded copy of x beside the columns (k, M), then the
        # columns beside their mean; backward dout / k, its k-fold copy as columns and col2im's dx
        M, k = self._windows(input_shape)
        n = int(np.prod(input_shape))
        if not self.uses_col2im(input_shape):
            return Footprint(forward_peak=M * itemsize, backward_peak=(M + n) * itemsize)
        return Footprint(forward_peak=(k * M + max(n, M)) * itemsize, backward_peak=(M + k * M + n) * itemsize)


class GlobalAvgPool(Layer):
    """Mean over H and W: (N, C, H, W) -> (N, C)."""

    kind = "global_avgpool"

    def output_shape(self, input_shape):
        return image_shape(self.kind, input_shape)[:2]

    def exact_flops(self, input_shape):
        # forward: x.mean over H W, HW - 1 additions and 1 division per output;
        # backward: dout / (H W), 1 division per output (the broadcast is a copy)
        N, C, H, W = image_shape(self.kind, input_shape)
        return LayerFlops(forward=Ops(add=N * C * (H * W - 1), div=N * C), backward_input=Ops(div=N * C))

    def walkthrough_flops(self, input_shape):
        # Seed 001: 1 per input element (HW - 1 additions and a division per channel);
        # backward 1 per input element (broadcasting and scaling by 1 / (H W)).
        N, C, H, W = image_shape(self.kind, input_shape)
        return LayerFlops(forward=Ops(add=N * C * (H * W - 1), div=N * C), backward_input=Ops(mul=N * C * H * W))

    def footprint(self, input_shape, itemsize):
        # forward: the output; backward: dout / (H W) and dx, its broadcast copied out
        N, C, H, W = image_shape(self.kind, input_shape)
        return Footprint(forward_peak=N * C * itemsize, backward_peak=(N * C + N * C * H * W) * itemsize)

    def forward(self, x, params, mode="train"):
        return global_avg_pool_forward(x)

    def backward(self, dout, cache):
        return global_avg_pool_backward(dout, cache), {}
