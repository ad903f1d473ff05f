"""2-D convolution (cross-correlation, as in every deep learning library).

For x (N, C, H, W), filters w (F, C, kh, kw), biases b (F,), stride s and pad p::

    out[n, f, y, z] = b[f] + sum_{c, i, j} w[f, c, i, j] * x_pad[n, c, s y + i, s z + j]

where x_pad is x with p zeros on each side of H and W, and out has shape
(N, F, H', W') with H' = floor((H + 2p - kh) / s) + 1, W' likewise. When the
windows do not tile the padded input, the rows and columns past the last
window are dropped, as in PyTorch: they do not affect out and get zero gradient.

Two implementations: ``conv_*_naive`` loops over every output element (the
readable reference), ``conv_*_fast`` uses im2col and one matrix product (see
:mod:`tallynet.layers.im2col` for the column layout).

Every kernel takes ``b=None`` for a convolution without bias: the bias add is
then not executed at all (so the ``exact`` count has no bias additions) and
the backward pass returns ``db = None``.
"""

from itertools import product

import numpy as np

from ..counts import LayerFlops, Ops, matmul_ops, sum_ops
from ._checks import as_float_param, check_float_array, check_int, check_shape
from ._threads import elementwise
from .base import Footprint, Layer, he_or_scaled_normal
from .im2col import col2im, im2col, image_shape, kernel_pair, kernel_spec, output_hw, pad_hw, window_at, window_param


def _check_conv_args(x, w, b, conv_param):
    """Validate the forward arguments; returns ``(w, b, conv_param, H', W')`` with integer w and b
    converted to x's dtype and conv_param normalised."""
    check_float_array("x", x, ndim=4)
    w, b = as_float_param("w", w, x), as_float_param("b", b, x)
    check_float_array("w", w, ndim=4)
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"w has {w.shape[1]} input channels (w.shape[1]) but x has {x.shape[1]} channels (x.shape[1]); "
            f"they must match"
        )
    if b is not None:
        check_float_array("b", b, ndim=1)
        check_shape("b", b, (w.shape[0],))
    stride = window_param(conv_param, "conv_param", "stride", 1)
    pad = window_param(conv_param, "conv_param", "pad", 0)
    out_h, out_w = output_hw("x", x.shape[2], x.shape[3], w.shape[2], w.shape[3], stride, pad)
    return w, b, {"stride": stride, "pad": pad}, out_h, out_w


def _output_size(x_shape, w, conv_param):
    """(H', W') of a convolution recorded in a cache."""
    return output_hw("x", x_shape[2], x_shape[3], w.shape[2], w.shape[3], conv_param["stride"], conv_param["pad"])


def conv_forward_naive(x, w, b, conv_param):
    """Reference forward pass of a convolution: one dot product per output element.

    - x: input of shape (N, C, H, W)
    - w: filters of shape (F, C, kh, kw)
    - b: biases of shape (F,), or None for no bias
    - conv_param: ``{'stride': int >= 1, 'pad': int >= 0}`` (symmetric zero padding)

    Returns ``(out, cache)``: out of shape (N, F, H', W') (formula in the module
    docstring), in x's dtype; cache = (x, w, b, conv_param).
    """
    w, b, conv_param, out_h, out_w = _check_conv_args(x, w, b, conv_param)
    N, F, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    xp = pad_hw(x, conv_param["pad"])
    out = np.empty((N, F, out_h, out_w), dtype=x.dtype)
    for n, f, p, q in product(range(N), range(F), range(out_h), range(out_w)):
        rows, cols = window_at(p, q, kh, kw, conv_param["stride"])
        out[n, f, p, q] = np.sum(xp[n, :, rows, cols] * w[f]) + (0 if b is None else b[f])
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Reference backward pass of a convolution, one output element at a time.

    - dout: upstream derivative of shape (N, F, H', W')
    - cache: (x, w, b, conv_param) from :func:`conv_forward_naive`

    Returns ``(dx, dw, db)`` of shapes (N, C, H, W), (F, C, kh, kw), (F,), in the
    dtypes of x, w and b (db is None when b is None). Each output element
    out[n, f, p, q] adds dout[n, f, p, q] * w[f] to dx under its window,
    dout[n, f, p, q] * (x_pad under its window) to dw[f], and dout[n, f, p, q] to db[f].
    """
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    out_h, out_w = _output_size(x.shape, w, conv_param)
    check_shape("dout", dout, (N, F, out_h, out_w))
    pad = conv_param["pad"]
    xp = pad_hw(x, pad)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    db = None if b is None else np.zeros_like(b)
    for n, f, p, q in product(range(N), range(F), range(out_h), range(out_w)):
        rows, cols = window_at(p, q, kh, kw, conv_param["stride"])
        g = dout[n, f, p, q]
        dxp[n, :, rows, cols] += g * w[f]
        dw[f] += g * xp[n, :, rows, cols]
        if db is not None:
            db[f] += g
    return dxp[:, :, pad:pad + H, pad:pad + W].copy(), dw, db


def conv_forward_fast(x, w, b, conv_param):
    """Forward pass of a convolution as im2col followed by one matrix product.

    Same arguments and output as :func:`conv_forward_naive`:
    out = (w.reshape(F, K) @ cols + b) reshaped to (N, F, H', W'), where
    cols = im2col(x) has shape (K, H' W' N) with K = C kh kw (no "+ b" when b is None).
    The product's (F, H' W' N) rows are the output stored channel-major, so out is
    a transposed view of them, not a copy (see :mod:`tallynet.layers.im2col`).

    Returns ``(out, cache)`` with cache = (x.shape, w, b, conv_param, cols):
    the columns are all that backward needs of x.
    """
    w, b, conv_param, out_h, out_w = _check_conv_args(x, w, b, conv_param)
    N, F, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    cols = im2col(x, kh, kw, conv_param["stride"], conv_param["pad"])
    rows = w.reshape(F, -1) @ cols  # (F, H' W' N): the one GEMM
    if b is not None:
        elementwise(np.add, rows, rows, np.broadcast_to(b[:, None], rows.shape))
    return rows.reshape(F, out_h, out_w, N).transpose(3, 0, 1, 2), (x.shape, w, b, conv_param, cols)


def conv_backward_fast(dout, cache):
    """Backward pass of :func:`conv_forward_fast`: two matrix products and col2im.

    - dout: upstream derivative of shape (N, F, H', W')
    - cache: (x_shape, w, b, conv_param, cols) from :func:`conv_forward_fast`

    With dout_rows = dout as (F, H' W' N) (columns in the order of cols; a free view
    when dout is channel-major, a copy otherwise):
    dw = dout_rows @ cols.T (computed as (cols @ dout_rows.T).T), dcols = w.reshape(F, K).T
    @ dout_rows, dx = col2im(dcols), db = sum of dout over N, H', W' (None when b is None). Returns ``(dx, dw, db)``
    like :func:`conv_backward_naive`, dx channel-major.
    """
    x_shape, w, b, conv_param, cols = cache
    F, _, kh, kw = w.shape
    dout_rows = _dout_rows(dout, cache)
    dw = _weight_grad(dout_rows, cols, w)
    dcols = (w.reshape(F, -1).T @ dout_rows).astype(cols.dtype, copy=False)
    dx = col2im(dcols, x_shape, kh, kw, conv_param["stride"], conv_param["pad"])
    return dx, dw, _bias_grad(dout_rows, b)


def conv_param_grads_fast(dout, cache):
    """``(dw, db)`` of :func:`conv_backward_fast` without dx: no dcols product, no col2im."""
    _, w, b, _, cols = cache
    dout_rows = _dout_rows(dout, cache)
    return _weight_grad(dout_rows, cols, w), _bias_grad(dout_rows, b)


def _dout_rows(dout, cache):
    """dout checked against the cache and seen as (F, H' W' N) (a view when channel-major)."""
    x_shape, w, _, conv_param, _ = cache
    check_shape("dout", dout, (x_shape[0], w.shape[0], *_output_size(x_shape, w, conv_param)))
    return dout.transpose(1, 2, 3, 0).reshape(w.shape[0], -1)


def _weight_grad(dout_rows, cols, w):
    # dw = dout_rows @ cols.T, computed as (cols @ dout_rows.T).T: the same products, but
    # OpenBLAS runs this orientation of a small (F, K) result summed over a long M 10-30 %
    # faster (measured, 2 cores)
    return np.ascontiguousarray((cols @ dout_rows.T).T).reshape(w.shape).astype(w.dtype, copy=False)


def _bias_grad(dout_rows, b):
    return None if b is None else dout_rows.sum(axis=1).astype(b.dtype, copy=False)


class Conv2d(Layer):
    """Convolution with ``filters`` output channels and a ``kernel`` (int or (kh, kw)) window.

    ``bias=False`` drops the bias (then the only parameter is ``W`` and no bias
    add is executed), as in networks followed by batchnorm or in counts that
    leave biases out.
    """

    kind = "conv"

    def __init__(self, filters, kernel, stride=1, pad=0, bias=True, name=None):
        super().__init__(name)
        self.filters = check_int("filters", filters, 1)
        self.kh, self.kw = kernel_pair("kernel", kernel)
        self.stride = check_int("stride", stride, 1)
        self.pad = check_int("pad", pad, 0)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        self.bias = bias
        self.param_names = ("W", "b") if bias else ("W",)

    @property
    def conv_param(self):
        return {"stride": self.stride, "pad": self.pad}

    def output_shape(self, input_shape):
        N, _, H, W = image_shape(self.kind, input_shape)
        out_h, out_w = output_hw("input", H, W, self.kh, self.kw, self.stride, self.pad)
        return (N, self.filters, out_h, out_w)

    def param_shapes(self, input_shape):
        C = image_shape(self.kind, input_shape)[1]
        shapes = {"W": (self.filters, C, self.kh, self.kw), "b": (self.filters,)}
        return {k: shapes[k] for k in self.param_names}

    def init_params(self, input_shape, rng, weight_scale, dtype):
        shapes = self.param_shapes(input_shape)
        C = shapes["W"][1]
        params = {"W": he_or_scaled_normal(rng, shapes["W"], C * self.kh * self.kw, weight_scale, dtype)}
        if self.bias:
            params["b"] = np.zeros(shapes["b"], dtype=dtype)
        return params

    def forward(self, x, params, mode="train"):
        return conv_forward_fast(x, params["W"], params["b"] if self.bias else None, self.conv_param)

    def backward(self, dout, cache):
        dx, dw, db = conv_backward_fast(dout, cache)
        return dx, ({"W": dw, "b": db} if self.bias else {"W": dw})

    def param_grads(self, dout, cache):
        dw, db = conv_param_grads_fast(dout, cache)
        return {"W": dw, "b": db} if self.bias else {"W": dw}

    # --- cost, from shapes alone: the fast kernels above, line by line -----------------
    def _gemm_sizes(self, input_shape):
        """``(F, K, M)`` of the forward GEMM w.reshape(F, K) @ cols (K, M): K = C kh kw, M = N H' W'."""
        N, C = image_shape(self.kind, input_shape)[:2]
        _, F, out_h, out_w = self.output_shape(input_shape)
        return F, C * self.kh * self.kw, N * out_h * out_w

    def exact_flops(self, input_shape):
        F, K, M = self._gemm_sizes(input_shape)
        return LayerFlops(
            # w (F, K) @ cols (K, M), then one bias add per output
            forward=matmul_ops(F, K, M) + Ops(add=F * M if self.bias else 0),
            # dcols = w.T (K, F) @ dout_rows (F, M); col2im adds each of the K M entries of dcols into dx
            backward_input=matmul_ops(K, F, M) + Ops(add=K * M),
            # dw = dout_rows (F, M) @ cols.T (M, K); db = dout summed over its M = N H' W' positions
            backward_params=matmul_ops(F, M, K) + (sum_ops(F, M) if self.bias else Ops()),
        )

    def walkthrough_flops(self, input_shape):
        # Seed 001: 2 C kh kw per output (a multiply and an add per weight; the bias add is
        # not counted); backward twice the forward, once for dx and once for dW (db not counted).
        F, K, M = self._gemm_sizes(input_shape)
        two = Ops(mul=F * K * M, add=F * K * M)
        return LayerFlops(forward=two, backward_input=two, backward_params=two)

    def macs(self, input_shape):
        F, K, M = self._gemm_sizes(input_shape)
        return F * K * M

    def cache_bytes(self, input_shape, itemsize):
        # the im2col columns (K, M), kept as backward's stand-in for x
        _, K, M = self._gemm_sizes(input_shape)
        return K * M * itemsize

    def footprint(self, input_shape, itemsize):
        N, C, H, W = image_shape(self.kind, input_shape)
        F, K, M = self._gemm_sizes(input_shape)
        # im2col copies x into a padded channels-first buffer, col2im accumulates in one
        # (with or without padding); dx is a view of it
        padded = N * C * (H + 2 * self.pad) * (W + 2 * self.pad)
        # forward: the padded input beside the columns while im2col runs, then the columns
        # beside the GEMM result, which is the output (channel-major, no reorder)
        forward = K * M + max(padded, F * M)
        # backward: dout is channel-major, so (F, H' W' N) is a view of it; dW, dcols (K, M)
        # and col2im's padded buffer; db
        backward = F * K + K * M + padded + (F if self.bias else 0)
        # without dx: the (K, F) product beside its (F, K) copy, dW
        return Footprint(forward_peak=forward * itemsize, backward_peak=backward * itemsize,
                         param_backward_peak=2 * F * K * itemsize)

    def config(self):
        config = {"filters": self.filters, "kernel": kernel_spec(self.kh, self.kw),
                  "stride": self.stride, "pad": self.pad}
        if not self.bias:
            config["bias"] = False
        return config
