"""2-D convolution (cross-correlation, as in every deep learning library), grouped and dilated.

For x (N, C, H, W), g groups, filters w (F, C/g, kh, kw), biases b (F,), stride s,
pad p and dilation d::

    out[n, f, y, z] = b[f] + sum_{c, i, j} w[f, c, i, j] * x_pad[n, G(f) + c, s y + d i, s z + d j]

where G(f) = (f // (F/g)) C/g is the first input channel of filter f's group (the F
filters form g groups of F/g, each reading its own C/g input channels; g = C is a
depthwise convolution), x_pad is x with p zeros on each side of H and W, and out has
shape (N, F, H', W') with H' = floor((H + 2p - d (kh - 1) - 1) / s) + 1, W' likewise
(a dilated window spans d (k - 1) + 1 pixels). When the windows do not tile the
padded input, the rows and columns past the last window are dropped, as in PyTorch:
they do not affect out and get zero gradient.

Two implementations: ``conv_*_naive`` loops over every output element (the
readable reference), ``conv_*_fast`` uses im2col and one matrix product (see
:mod:`tallynet.layers.im2col` for the column layout); with groups, that one product
is a batched one over a (g, F/g, K/g) @ (g, K/g, M) stack (K = C kh kw, M = N H' W').

Every kernel takes ``b=None`` for a convolution without bias: the bias add is
then not executed at all (so the ``exact`` count has no bias additions) and
the backward pass returns ``db = None``.
"""

from itertools import product

import numpy as np

from ..counts import Ops, term
from ._checks import as_float_param, check_cache, check_float_array, check_int, check_shape
from ._text import fmt_kernel, n as _n, window_dims, window_given
from ._threads import elementwise
from .base import Footprint, Layer, Saved, he_or_scaled_normal
from .depthwise import depthwise_backward, depthwise_forward, depthwise_param_grads, is_depthwise
from .conv_bands import (band_buffer_elements, band_rows, blocks, by_bands, correlate_by_bands, dx_by_correlation,
                         input_grad_by_correlation, padded_channels_first, weight_grad_by_bands)
from .im2col import (as_rows, col2im, dilated, im2col, image_shape, kernel_pair, kernel_spec, output_hw, pad_hw,
                     window_at, window_param)

__all__ = ["Conv2d", "conv_forward_naive", "conv_backward_naive", "conv_forward_fast", "conv_backward_fast",
           "conv_param_grads_fast"]


def _optional_param(conv_param, key):
    """``conv_param[key]`` as an integer >= 1, 1 when absent (groups, dilation)."""
    return window_param(conv_param, "conv_param", key, 1) if key in conv_param else 1


def _check_groups(C, F, groups):
    """Groups must split both the input channels and the filters evenly."""
    if C % groups or F % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({C}) and the filters ({F})")


def _check_conv_args(x, w, b, conv_param):
    """Validate the forward arguments; returns ``(w, b, conv_param, H', W')`` with integer w and b
    converted to x's dtype and conv_param normalised."""
    check_float_array("x", x, ndim=4)
    w, b = as_float_param("w", w, x), as_float_param("b", b, x)
    check_float_array("w", w, ndim=4)
    stride = window_param(conv_param, "conv_param", "stride", 1)
    pad = window_param(conv_param, "conv_param", "pad", 0)
    groups, dilation = _optional_param(conv_param, "groups"), _optional_param(conv_param, "dilation")
    _check_groups(x.shape[1], w.shape[0], groups)
    if w.shape[1] * groups != x.shape[1]:
        raise ValueError(
            f"w has {w.shape[1]} input channels (w.shape[1]) but x has {x.shape[1]} channels (x.shape[1]) in "
            f"{groups} group(s); w.shape[1] must be x.shape[1] / groups = {x.shape[1] // groups}"
        )
    if b is not None:
        check_float_array("b", b, ndim=1)
        check_shape("b", b, (w.shape[0],))
    if 0 in w.shape:
        raise ValueError(f"w has shape {w.shape}; expected (F, C, kh, kw) with every size >= 1 "
                         "(at least one filter)")
    check_pad(pad, dilation * (w.shape[2] - 1) + 1, dilation * (w.shape[3] - 1) + 1)
    conv_param = {"stride": stride, "pad": pad, "groups": groups, "dilation": dilation}
    return w, b, conv_param, *_output_size(x.shape, w, conv_param)


def check_pad(pad, kh, kw):
    """pad <= max(kh, kw) - 1: a wider pad only adds outputs whose windows see nothing but
    padding (and a pad of 10^6 would allocate terabytes)."""
    if pad > max(kh, kw) - 1:
        raise ValueError(f"pad must be at most the kernel size - 1 = {max(kh, kw) - 1} for a "
                         f"{kh}x{kw} kernel, got {pad}")
    return pad


def _output_size(x_shape, w, conv_param):
    """(H', W') of a convolution (normalised conv_param, as a cache records it)."""
    d = conv_param["dilation"]
    return output_hw("x", x_shape[2], x_shape[3], dilated(w.shape[2], d), dilated(w.shape[3], d),
                     conv_param["stride"], conv_param["pad"])


def _naive_windows(x_shape, w, conv_param):
    """Every (n, f, p, q) of the output with the input channels of f's group and the window's slices."""
    N, C = x_shape[:2]
    F, Cg, kh, kw = w.shape
    Fg = F // conv_param["groups"]
    for n, f, p, q in product(range(N), range(F), *map(range, _output_size(x_shape, w, conv_param))):
        channels = slice(f // Fg * Cg, (f // Fg + 1) * Cg)
        yield (n, f, p, q), (n, channels, *window_at(p, q, kh, kw, conv_param["stride"], conv_param["dilation"]))


def conv_forward_naive(x, w, b, conv_param):
    """Reference forward pass of a convolution: one dot product per output element.

    - x: input of shape (N, C, H, W)
    - w: filters of shape (F, C / groups, kh, kw)
    - b: biases of shape (F,), or None for no bias
    - conv_param: ``{'stride': int >= 1, 'pad': int >= 0}`` (symmetric zero padding), and
      optionally ``'groups': int >= 1`` dividing C and F and ``'dilation': int >= 1`` (both 1 by default)

    Returns ``(out, cache)``: out of shape (N, F, H', W') (formula in the module
    docstring), in x's dtype; cache = (x, w, b, conv_param).
    """
    w, b, conv_param, out_h, out_w = _check_conv_args(x, w, b, conv_param)
    xp = pad_hw(x, conv_param["pad"])
    out = np.empty((x.shape[0], w.shape[0], out_h, out_w), dtype=x.dtype)
    for index, window in _naive_windows(x.shape, w, conv_param):
        f = index[1]
        out[index] = np.sum(xp[window] * w[f]) + (0 if b is None else b[f])
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Reference backward pass of a convolution, one output element at a time.

    - dout: upstream derivative of shape (N, F, H', W')
    - cache: (x, w, b, conv_param) from :func:`conv_forward_naive`

    Returns ``(dx, dw, db)`` of shapes (N, C, H, W), (F, C / groups, kh, kw), (F,), in the
    dtypes of x, w and b (db is None when b is None). Each output element
    out[n, f, p, q] adds dout[n, f, p, q] * w[f] to dx under its window (in f's group's
    channels), dout[n, f, p, q] * (x_pad under its window) to dw[f], and dout[n, f, p, q] to db[f].
    """
    x, w, b, conv_param = check_cache("cache", cache, 4, "conv_forward_naive")
    N, C, H, W = x.shape
    check_shape("dout", dout, (N, w.shape[0], *_output_size(x.shape, w, conv_param)))
    pad = conv_param["pad"]
    xp = pad_hw(x, pad)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    db = None if b is None else np.zeros_like(b)
    for index, window in _naive_windows(x.shape, w, conv_param):
        f, g = index[1], dout[index]
        dxp[window] += g * w[f]
        dw[f] += g * xp[window]
        if db is not None:
            db[f] += g
    return dxp[:, :, pad:pad + H, pad:pad + W].copy(), dw, db


# --- the fast kernels: im2col columns (by bands) and (batched) matrix products --------------
# The rows of cols are ordered (c, i, j) with c outermost, so the K / g rows of a group's
# C / g channels are one contiguous block, and the filters of a group are one block of
# F / g rows of w (F, K / g): the grouped convolution is the block-diagonal product
# out_rows[group] = w_rows[group] @ cols[group], one np.matmul over the (g, ., .) stacks.

def _stacked_matmul(a, b):
    """(g, P, Q) @ (g, Q, R) -> (g, P, R). With one group this is the plain 2-D GEMM on a[0]
    and b[0]; with more, one batched np.matmul (a BLAS GEMM per group, no Python loop over
    the groups' data).

    A product over Q = 1 (a grouped 1x1 convolution with one channel per group) is an outer
    product, which np.matmul runs in its own loop, not BLAS: broadcasting the multiplication
    is the same P R products per group and 5-10x faster (measured, batch 32: 13.5 ms against
    2.6 for MobileNet-V2's depthwise dcols at 32 channels and 32x32, before depthwise
    convolutions ran tap by tap)."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    if a.shape[2] == 1:
        return a * b  # (g, P, 1) * (g, 1, R)
    return np.matmul(a, b)


def is_pointwise(kh, kw, stride, pad):
    """A 1x1 window with stride 1 and no padding reads each pixel once, so its im2col columns
    are x itself as (C, H W N): a view of a channel-major x (no copy), and backward's dx is
    dcols seen as (N, C, H, W) (no col2im). Most of a ResNet-50's or a MobileNet's convolutions
    are such."""
    return kh == kw == 1 and stride == 1 and pad == 0


def _runs_by_bands(C, F, kh, kw, M, conv_param):
    """Whether the fast kernels make the im2col columns (C kh kw, M) by bands: a convolution neither
    pointwise (its columns are x) nor depthwise (it makes none), with columns of
    :data:`~tallynet.layers.conv_bands.MIN_BAND_COLUMNS` entries or more (:func:`by_bands`)."""
    return not (is_pointwise(kh, kw, conv_param["stride"], conv_param["pad"])
                or is_depthwise(C, F, conv_param["groups"])) and by_bands(C * kh * kw, M)


def _columns(x, kh, kw, conv_param):
    """im2col's columns (K, H' W' N) of x, whole (see :func:`is_pointwise`)."""
    if is_pointwise(kh, kw, conv_param["stride"], conv_param["pad"]):
        return as_rows(x)
    return im2col(x, kh, kw, conv_param["stride"], conv_param["pad"], conv_param["dilation"])


def conv_forward_fast(x, w, b, conv_param):
    """Forward pass of a convolution as im2col followed by one matrix product.

    Same arguments and output as :func:`conv_forward_naive`:
    out = (w.reshape(F, K / g) @ cols + b) reshaped to (N, F, H', W'), group by group,
    where cols = im2col(x) has shape (K, H' W' N) with K = C kh kw (no "+ b" when b is None).
    The product's (F, H' W' N) rows are the output stored channel-major, so out is
    a transposed view of them, not a copy (see :mod:`tallynet.layers.im2col`).

    Returns ``(out, cache)`` with cache = (x.shape, w, b, conv_param, saved), where saved is
    all that backward needs of x:

    - columns of :data:`~tallynet.layers.conv_bands.MIN_BAND_COLUMNS` entries or more are made
      and multiplied a band of output rows at a time
      (:func:`~tallynet.layers.conv_bands.correlate_by_bands`) from the zero-padded input xp
      (C, Hp, Wp, N), and saved is xp;
    - smaller ones are made whole, one product, and saved are the columns; for a pointwise
      convolution (:func:`is_pointwise`) they are x seen as (C, H W N), a view;
    - a depthwise convolution (one filter per channel, :func:`~tallynet.layers.depthwise.is_depthwise`)
      runs :func:`~tallynet.layers.depthwise.depthwise_forward`, tap by tap, saving xp.
    """
    w, b, conv_param, out_h, out_w = _check_conv_args(x, w, b, conv_param)
    N, (F, _, kh, kw), groups = x.shape[0], w.shape, conv_param["groups"]
    if is_depthwise(x.shape[1], F, groups):
        out, padded = depthwise_forward(x, w, b, conv_param, (out_h, out_w))
        return out, (x.shape, w, b, conv_param, padded)
    if _runs_by_bands(x.shape[1], F, kh, kw, N * out_h * out_w, conv_param):
        pad = conv_param["pad"]
        saved = padded_channels_first(x, pad, pad)
        rows = correlate_by_bands(saved, w.reshape(F, -1), groups, kh, kw, conv_param["stride"],
                                  conv_param["dilation"], np.empty((F, out_h, out_w, N), dtype=x.dtype))
        rows = rows.reshape(F, -1)  # (F, H' W' N)
    else:
        saved = _columns(x, kh, kw, conv_param)
        rows = _stacked_matmul(blocks(w.reshape(F, -1), groups), blocks(saved, groups)).reshape(F, -1)
    if b is not None:
        elementwise(np.add, rows, rows, np.broadcast_to(b[:, None], rows.shape))
    return rows.reshape(F, out_h, out_w, N).transpose(3, 0, 1, 2), (x.shape, w, b, conv_param, saved)


def conv_backward_fast(dout, cache):
    """Backward pass of :func:`conv_forward_fast`.

    - dout: upstream derivative of shape (N, F, H', W')
    - cache: (x_shape, w, b, conv_param, xp or the pointwise columns) from :func:`conv_forward_fast`

    With dout_rows = dout as (F, H' W' N) (columns in the order of cols; a free view
    when dout is channel-major, a copy otherwise), group by group:

    - dw = dout_rows @ cols.T: by bands, summed band by band over columns made again from xp
      (:func:`~tallynet.layers.conv_bands.weight_grad_by_bands`);
    - dx: by bands, with stride 1 and 16 input channels or more per group, dout correlated with
      the flipped filters (:func:`~tallynet.layers.conv_bands.input_grad_by_correlation`);
      otherwise col2im(dcols), dcols = w.reshape(F, K / g).T @ dout_rows; pointwise, dcols is dx;
    - db = sum of dout over N, H', W' (None when b is None).

    Returns ``(dx, dw, db)`` like :func:`conv_backward_naive`, dx channel-major. A depthwise
    convolution's dx and dw come from :func:`~tallynet.layers.depthwise.depthwise_backward`.
    """
    x_shape, w, b, conv_param, saved = check_cache("cache", cache, 5, "conv_forward_fast")
    dout_rows = _dout_rows(dout, cache)
    if is_depthwise(x_shape[1], w.shape[0], conv_param["groups"]):  # saved is the padded input
        return (*depthwise_backward(dout, saved, w, conv_param), _bias_grad(dout_rows, b))
    dw = _weight_grad(dout_rows, saved, w, conv_param, x_shape)
    dx = _input_grad(dout_rows, w, conv_param, x_shape, saved.ndim == 4).astype(saved.dtype, copy=False)
    return dx, dw, _bias_grad(dout_rows, b)


def conv_param_grads_fast(dout, cache):
    """``(dw, db)`` of :func:`conv_backward_fast` without dx."""
    x_shape, w, b, conv_param, saved = check_cache("cache", cache, 5, "conv_forward_fast")
    dout_rows = _dout_rows(dout, cache)
    if is_depthwise(x_shape[1], w.shape[0], conv_param["groups"]):
        return depthwise_param_grads(dout, saved, w, conv_param), _bias_grad(dout_rows, b)
    return _weight_grad(dout_rows, saved, w, conv_param, x_shape), _bias_grad(dout_rows, b)


def _dout_rows(dout, cache):
    """dout checked against the cache and seen as (F, H' W' N) (a view when channel-major)."""
    x_shape, w, _, conv_param, _ = cache
    check_shape("dout", dout, (x_shape[0], w.shape[0], *_output_size(x_shape, w, conv_param)))
    return as_rows(dout)


def _weight_grad(dout_rows, saved, w, conv_param, x_shape):
    """dW from the whole columns (a pointwise convolution's are x) or, by bands, from the padded input."""
    groups = conv_param["groups"]
    if saved.ndim == 2:  # the columns
        # dw = dout_rows @ cols.T per group, computed as (cols @ dout_rows.T).T: the same products,
        # but OpenBLAS runs this orientation of a small (F, K) result summed over a long M 10-30 %
        # faster (measured, 2 cores)
        dw_t = _stacked_matmul(blocks(saved, groups), blocks(dout_rows, groups).transpose(0, 2, 1))
        dw = np.ascontiguousarray(dw_t.transpose(0, 2, 1)).reshape(w.shape)
    else:
        dw = weight_grad_by_bands(saved, dout_rows, w.shape, groups, conv_param["stride"], conv_param["dilation"],
                                  _output_size(x_shape, w, conv_param))
    return dw.astype(w.dtype, copy=False)


def _input_grad(dout_rows, w, conv_param, x_shape, banded):
    """dx (see :func:`conv_backward_fast`)."""
    N, C, H, W = x_shape
    F, _, kh, kw = w.shape
    groups, stride, pad, dilation = (conv_param[k] for k in ("groups", "stride", "pad", "dilation"))
    out_hw = _output_size(x_shape, w, conv_param)
    if banded and dx_by_correlation(kh, kw, conv_param, w.shape[1]):
        return input_grad_by_correlation(dout_rows, w, groups, dilation, pad, x_shape, out_hw)
    # dcols = w.T @ dout_rows per group: each column's gradient; col2im sums them onto dx
    dcols = _stacked_matmul(blocks(w.reshape(F, -1), groups).transpose(0, 2, 1),
                            blocks(dout_rows, groups)).reshape(-1, dout_rows.shape[1])
    if is_pointwise(kh, kw, stride, pad):
        return dcols.reshape(C, H, W, N).transpose(3, 0, 1, 2)
    return col2im(dcols, x_shape, kh, kw, stride, pad, dilation)


def _bias_grad(dout_rows, b):
    return None if b is None else dout_rows.sum(axis=1).astype(b.dtype, copy=False)


class OneDNNTwin:
    """What the PyTorch twins of the convolutions share (``nn.Conv2d``, ``nn.ConvTranspose2d``):
    on the CPU in float32 they run oneDNN's kernels, which work in a blocked channel layout.

    Measured with the profiler (PyTorch 2.13): the forward pass reorders the input and the
    weight into that layout, computes the output in it and copies that out (:meth:`_torch_forward`);
    the backward pass reorders dout and the input, computes dW in the blocked layout and
    copies it out beside dx. The blocked layout pads the channels to a multiple of 8 or 16,
    which is taken at the plain size (small channel counts, 3 to 24, hold more).
    """

    def torch_saved(self, input_shape, dtype):
        """``convolution`` saves its input and its weight."""
        dtype = np.dtype(dtype).name
        return [Saved("input", tuple(input_shape), dtype), Saved("W", self.param_shapes(input_shape)["W"], dtype)]

    def torch_footprint(self, input_shape, itemsize):
        x, y = int(np.prod(input_shape)), int(np.prod(self.output_shape(input_shape)))
        sizes = {k: int(np.prod(v)) for k, v in self.param_shapes(input_shape).items()}
        w, grads = sizes["W"], sum(sizes.values())
        temporaries = y + x + w  # dout, x and dW in the blocked layout
        return Footprint(forward_peak=self._torch_forward(x, y, w) * itemsize,
                         backward_peak=(x + temporaries + grads) * itemsize,
                              param_backward_peak=(temporaries + grads) * itemsize)


class Conv2d(OneDNNTwin, Layer):
    """Convolution with ``filters`` output channels and a ``kernel`` (int or (kh, kw)) window.

    ``bias=False`` drops the bias (then the only parameter is ``W`` and no bias
    add is executed), as in networks followed by batchnorm or in counts that
    leave biases out. ``groups`` splits channels and filters into that many
    independent convolutions (``groups`` = the input channels: depthwise), W then
    being (F, C / groups, kh, kw); ``dilation`` spaces the kernel's taps that far apart.
    """

    kind = "conv"
    regularized = ("W",)
    display_name = "Conv"
    group = "Convolution"
    title = "Convolutional Layer"
    gradient_text = (
        r"$\frac{\partial \mathcal{L}}{\partial W}$ correlates the input with the upstream gradient (shape of $W$); "
        r"$\frac{\partial \mathcal{L}}{\partial b}$ sums it over $N, H_{out}, W_{out}$; "
        r"$\frac{\partial \mathcal{L}}{\partial x}$ is the full convolution of the upstream gradient with the "
        r"filters (in tallynet, with stride 1: dout zero-padded and correlated with the flipped filters; "
        r"otherwise $W^T \cdot dout$ on the im2col columns, then col2im).")
    # the rules as seed 001 states them; with g groups, C_in reads C_in / g (each output's dot
    # product spans its group's channels), as the walkthrough's Given lines say for such a layer
    rules = {"walkthrough": ("$2 C_{in} k_h k_w$ per output (bias not counted)",
                             "twice the forward: input and weight gradients"),
             "exact": ("im2col GEMM by bands of output rows (depthwise: one multiply-add pass per kernel tap): "
                       "$C_{in} k_h k_w$ mul and $C_{in} k_h k_w - 1$ add per output, 1 bias add",
                       "dW by bands; dx by the flipped filters (stride 1) or a GEMM and col2im additions; the bias "
                       "sum (depthwise: the same products, tap by tap)")}

    def __init__(self, filters, kernel, stride=1, pad=0, bias=True, groups=1, dilation=1, name=None):
        super().__init__(name)
        self.filters = check_int("filters", filters, 1)
        self.kh, self.kw = kernel_pair("kernel", kernel)
        self.stride = check_int("stride", stride, 1)
        self.groups = check_int("groups", groups, 1)
        if self.filters % self.groups:
            raise ValueError(f"groups={self.groups} must divide filters ({self.filters})")
        self.dilation = check_int("dilation", dilation, 1)
        # the window a pad is measured against spans d (k - 1) + 1 pixels
        self.pad = check_pad(check_int("pad", pad, 0), self.dilation * (self.kh - 1) + 1,
                             self.dilation * (self.kw - 1) + 1)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        self.bias = bias
        self.param_names = ("W", "b") if bias else ("W",)

    @property
    def pointwise(self):
        """Whether the kernels take x as its own columns (1x1, stride 1, no padding; :func:`is_pointwise`)."""
        return is_pointwise(self.kh, self.kw, self.stride, self.pad)

    def depthwise(self, input_shape):
        """Whether the kernels run the depthwise path (one filter per channel, :func:`is_depthwise`)."""
        return is_depthwise(image_shape(self.kind, input_shape)[1], self.filters, self.groups)

    def by_bands(self, input_shape):
        """Whether the kernels make the im2col columns by bands (:func:`_runs_by_bands`)."""
        _, _, M, _ = self._gemm_sizes(input_shape)
        C = image_shape(self.kind, input_shape)[1]
        return _runs_by_bands(C, self.filters, self.kh, self.kw, M, self.conv_param)

    def dx_by_correlation(self, input_shape):
        """Whether the kernels compute dx as the padded dout correlated with the flipped filters
        (by bands, :func:`~tallynet.layers.conv_bands.dx_by_correlation`)."""
        group_channels = image_shape(self.kind, input_shape)[1] // self.groups
        return self.by_bands(input_shape) and dx_by_correlation(self.kh, self.kw, self.conv_param, group_channels)

    @property
    def conv_param(self):
        return {"stride": self.stride, "pad": self.pad, "groups": self.groups, "dilation": self.dilation}

    def output_shape(self, input_shape):
        N, C, H, W = image_shape(self.kind, input_shape)
        _check_groups(C, self.filters, self.groups)
        d = self.dilation
        out_h, out_w = output_hw("input", H, W, dilated(self.kh, d), dilated(self.kw, d), self.stride, self.pad)
        return (N, self.filters, out_h, out_w)

    def param_shapes(self, input_shape):
        C = image_shape(self.kind, input_shape)[1]
        _check_groups(C, self.filters, self.groups)
        shapes = {"W": (self.filters, C // self.groups, self.kh, self.kw), "b": (self.filters,)}
        return {k: shapes[k] for k in self.param_names}

    def init_params(self, input_shape, rng, weight_scale, dtype):
        shapes = self.param_shapes(input_shape)
        Cg = shapes["W"][1]  # a filter's fan-in is its group's channels
        params = {"W": he_or_scaled_normal(rng, shapes["W"], Cg * self.kh * self.kw, weight_scale, dtype)}
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

    # --- cost, from shapes alone -------------------------------------------------------
    def _gemm_sizes(self, input_shape):
        """``(F, K, M, g)`` of the forward GEMM: w.reshape(F, K / g) @ cols (K, M), group by group,
        K = C kh kw, M = N H' W'; each output is a dot product of length K / g."""
        N, C = image_shape(self.kind, input_shape)[:2]
        _, F, out_h, out_w = self.output_shape(input_shape)
        return F, C * self.kh * self.kw, N * out_h * out_w, self.groups

    def _sizes(self, input_shape):
        N, C = image_shape(self.kind, input_shape)[:2]
        _, F, out_h, out_w = self.output_shape(input_shape)
        return N, C, F, out_h, out_w

    def _group_symbols(self):
        """How the terms write a group's sizes: C_in k_h k_w, or (C_in / g) k_h k_w with groups."""
        return (r"C_{in}", r"C_{out}") if self.groups == 1 else (r"(C_{in} / g)", r"(C_{out} / g)")

    def exact_terms(self, input_shape):
        # the fast kernels above, line by line; Kg = K / g is a filter's fan-in (its dot products' length)
        N, C, F, Ho, Wo = self._sizes(input_shape)
        F, K, M, g = self._gemm_sizes(input_shape)
        Kg, Fg = K // g, F // g
        cin, cout = self._group_symbols()
        fan_in = cin + " k_h k_w"
        out, cols = r"N \times C_{out} \times H_{out} \times W_{out}", r"(C_{in} k_h k_w) \times (N H_{out} W_{out})"
        # w (F, K/g) @ cols (K, M) group by group, then one bias add per output
        forward = [term(f"multiplications, ${fan_in}$ per output (each output is one dot product)",
                        out + rf" \times ({fan_in})", (N, F, Ho, Wo, Kg), "mul"),
                   term(f"additions inside the dot products, ${fan_in} - 1$ per output",
                        out + rf" \times ({fan_in} - 1)", (N, F, Ho, Wo, Kg - 1), "add")]
        # dw = dout_rows (F/g, M) @ cols.T (M, K/g) per group; db = dout summed over its M = N H' W' positions
        backward_params = [term(r"$dW = dout \cdot cols^T$, multiplications",
                                rf"C_{{out}} \times ({fan_in}) \times (N H_{{out}} W_{{out}})", (F, Kg, M), "mul"),
                           term("additions", rf"C_{{out}} \times ({fan_in}) \times (N H_{{out}} W_{{out}} - 1)",
                                (F, Kg, M - 1), "add")]
        if self.bias:
            forward.append(term("bias additions, 1 per output", out, (N, F, Ho, Wo), "add"))
            backward_params.append(term("$db$: sum of dout over $N, H_{out}, W_{out}$",
                                        r"C_{out} \times (N H_{out} W_{out} - 1)", (F, M - 1), "add"))
        if self.depthwise(input_shape):
            # tap by tap (tallynet.layers.depthwise): w[c, i, j] * dout, added into dx under the tap
            backward_input = [term(r"$W \cdot dout$ per kernel tap, multiplications", cols, (K, M), "mul"),
                              term("each product added into dx under its tap", cols, (K, M), "add")]
            return {"forward": forward, "backward_input": backward_input, "backward_params": backward_params}
        if self.dx_by_correlation(input_shape):
            # dout padded, correlated with the flipped filters: each dx element one dot product of
            # (F/g) kh kw terms (tallynet.layers.conv_bands.input_grad_by_correlation)
            dx, flipped = r"N \times C_{in} \times H_{in} \times W_{in}", cout + " k_h k_w"
            H, W = image_shape(self.kind, input_shape)[2:]
            backward_input = [
                term(rf"$dx$ = dout correlated with the flipped filters, multiplications, ${flipped}$ per input",
                     dx + rf" \times ({flipped})", (N, C, H, W, Fg * self.kh * self.kw), "mul"),
                term(f"additions, ${flipped} - 1$ per input", dx + rf" \times ({flipped} - 1)",
                     (N, C, H, W, Fg * self.kh * self.kw - 1), "add")]
            return {"forward": forward, "backward_input": backward_input, "backward_params": backward_params}
        # dcols = w.T (K/g, F/g) @ dout_rows (F/g, M) per group: each entry a dot product of
        # length F/g; col2im adds each of the K M entries of dcols into dx
        backward_input = [
            term(r"$dcols = W^T \cdot dout$, multiplications", cols + rf" \times {cout}", (K, M, Fg), "mul"),
            term("additions", cols + rf" \times ({cout} - 1)", (K, M, Fg - 1), "add")]
        if not self.pointwise:  # a pointwise convolution's dcols is dx itself
            backward_input.append(term("col2im, each column entry added into dx", cols, (K, M), "add"))
        return {"forward": forward, "backward_input": backward_input, "backward_params": backward_params}

    def walkthrough_terms(self, input_shape):
        # Seed 001: 2 (C / g) kh kw per output (a multiply and an add per weight; the bias add is
        # not counted); backward twice the forward, once for dx and once for dW (db not counted).
        N, C, F, Ho, Wo = self._sizes(input_shape)
        Kg = C // self.groups * self.kh * self.kw
        cin = self._group_symbols()[0]
        product = Ops(mul=N * F * Ho * Wo * Kg, add=N * F * Ho * Wo * Kg)
        symbol = rf"N \times H_{{out}} \times W_{{out}} \times C_{{out}} \times (2 \times {cin} \times k_h \times k_w)"
        factors = (N, Ho, Wo, F, 2 * Kg)
        channels = f"{C}" if self.groups == 1 else f"({C} / {self.groups})"
        per_output = (f"For each output position, ${cin} \\times k_h \\times k_w = {channels} \\times {self.kh} "
                      f"\\times {self.kw} = {Kg}$ multiplications and {Kg} additions (accumulation; the bias addition "
                      f"is not counted): $2 \\times {Kg} = {2 * Kg}$ per output")
        return {"forward": [term(per_output, symbol, factors, product)],
                "backward_input": [term("input gradient (a full convolution of dout with the filters, as the forward)",
                                        symbol, factors, product)],
                "backward_params": [term("weight gradient (a convolution of the input with dout, as the forward)",
                                         symbol, factors, product)]}

    def mac_terms(self, input_shape):
        # N F H' W' (C / g) kh kw: what torchvision's published GFLOPS and fvcore count
        N, C, F, Ho, Wo = self._sizes(input_shape)
        cin = self._group_symbols()[0]
        return [term("a multiply-accumulate per weight and output",
                     rf"N \times C_{{out}} \times H_{{out}} \times W_{{out}} \times {cin} \times k_h \times k_w",
                     (N, F, Ho, Wo, C // self.groups * self.kh * self.kw), "mac")]

    def _padded_elements(self, input_shape):
        N, C, H, W = image_shape(self.kind, input_shape)
        return N * C * (H + 2 * self.pad) * (W + 2 * self.pad)

    def cache_bytes(self, input_shape, itemsize):
        # by bands, the zero-padded input, from which backward makes the columns again (a
        # depthwise convolution keeps it too); otherwise the whole im2col columns (K, M), kept as
        # backward's stand-in for x; a pointwise convolution's are a view of x, which activations
        # are (channel-major)
        if self.by_bands(input_shape) or self.depthwise(input_shape):
            return self._padded_elements(input_shape) * itemsize
        _, K, M, _ = self._gemm_sizes(input_shape)
        return 0 if self.pointwise else K * M * itemsize

    def _band_elements(self, input_shape, channels, out_h, out_w):
        """Elements of the band buffer of columns over ``channels`` on one thread (:func:`band_buffer_elements`)."""
        return band_buffer_elements(channels * self.kh * self.kw, out_h, out_w, input_shape[0])

    def footprint(self, input_shape, itemsize):
        # one thread's (the profiler measures on one): each further thread holds a band buffer
        # and, for dW, a partial sum of its own
        F, K, M, g = self._gemm_sizes(input_shape)
        N, C, H, W = image_shape(self.kind, input_shape)
        out_h, out_w = self.output_shape(input_shape)[2:]
        weights, bias = F * K // g, (F if self.bias else 0)
        padded = self._padded_elements(input_shape)
        if self.depthwise(input_shape):
            # forward: the padded input (the cache) beside the output and one tap's products;
            # backward: dx's padded buffer, one tap's products, dW and db
            return Footprint(forward_peak=(padded + 2 * F * M) * itemsize,
                             backward_peak=(padded + F * M + weights + bias) * itemsize,
                             param_backward_peak=(weights + bias) * itemsize)
        if self.pointwise:
            # forward: the output (the columns are x); backward: dW, dcols, which is dx, and db
            return Footprint(forward_peak=F * M * itemsize, backward_peak=(weights + K * M + bias) * itemsize,
                             keeps_input=True, param_backward_peak=2 * weights * itemsize)
        if not self.by_bands(input_shape):
            # forward: the padded input beside the whole columns while im2col runs, then the columns
            # beside the GEMM result, which is the output (channel-major, no reorder); backward: dW,
            # dcols (K, M) and col2im's padded buffer, db; without dx, dW.T beside its copy
            return Footprint(forward_peak=(K * M + max(padded, F * M)) * itemsize,
                             backward_peak=(weights + K * M + padded + bias) * itemsize,
                             param_backward_peak=2 * weights * itemsize)
        band = self._band_elements(input_shape, C, out_h, out_w)
        # forward: the padded input (the cache), the output (channel-major, no reorder) and a band
        forward = padded + F * M + band
        # dW (tallynet.layers.conv_bands.weight_grad_by_bands): the bands' buffer beside dW.T and,
        # with more than one band, each band's product; then dW.T beside its transposed copy
        several = band_rows(K, out_w, N) < out_h
        weight_grad = max(band + weights * (1 + several), 2 * weights)
        if self.dx_by_correlation(input_shape):
            # dx: dout padded by d (k - 1) - pad, the flipped filters, dx and a band of the
            # correlation's columns (over F channels), beside dW
            reach_h, reach_w = (self.dilation * (k - 1) - self.pad for k in (self.kh, self.kw))
            dout_padded = F * (out_h + 2 * reach_h) * (out_w + 2 * reach_w) * N
            input_grad = weights + dout_padded + weights + C * H * W * N + self._band_elements(
                input_shape, F, H, W)
        else:
            input_grad = weights + K * M + padded  # dcols and col2im's padded buffer, beside dW
        return Footprint(forward_peak=forward * itemsize,
                         backward_peak=(max(weight_grad, input_grad) + bias) * itemsize,
                         param_backward_peak=(weight_grad + bias) * itemsize)

    @staticmethod
    def _torch_forward(x, y, w):
        """Elements oneDNN's forward holds at once: the blocked output beside the reordered input
        and weight, then beside the output copied out."""
        return y + max(x + w, y)

    # --- the walkthrough's prose ----------------------------------------------------------
    def _extras(self):
        """The non-default groups and dilation, as ``describe`` and ``config`` name them."""
        return {k: v for k, v in (("groups", self.groups), ("dilation", self.dilation)) if v != 1}

    def describe(self, input_shape):
        C = image_shape(self.kind, input_shape)[1]
        extras = "".join(f", {k[0]}={v}" for k, v in self._extras().items())
        return (f"Conv({C}→{self.filters}, k={fmt_kernel(self.kh, self.kw)}, s={self.stride}, p={self.pad}"
                f"{extras}{'' if self.bias else ', no bias'})")

    def given_lines(self, input_shape):
        extras = []
        if self.groups != 1:
            extras.append(f"- **Groups**: $g = {self.groups}$ (each filter reads $C_{{in}} / g$ channels)")
        if self.dilation != 1:
            extras.append(f"- **Dilation**: $d = {self.dilation}$ (a window spans $d (k - 1) + 1$ pixels)")
        return ([f"- **Filters**: $\\textcolor{{green}}{{C_{{out}}}} = {self.filters}$"]
                + window_given(self.kh, self.kw, self.stride, self.pad) + extras
                + [f"- **Bias**: {'yes' if self.bias else 'no (bias=False)'}"])

    def dims_lines(self, input_shape):
        # a dilated window enters the output-size formula with its span d (k - 1) + 1
        d = self.dilation
        return window_dims(input_shape, self.output_shape(input_shape), dilated(self.kh, d), dilated(self.kw, d),
                           self.stride, self.pad)

    def param_lines(self, input_shape, itemsize):
        C, F, kh, kw = image_shape(self.kind, input_shape)[1], self.filters, self.kh, self.kw
        Cg = C // self.groups
        weights = F * Cg * kh * kw
        total = weights + (F if self.bias else 0)
        cin = r"\textcolor{blue}{C_{in}}" + ("" if self.groups == 1 else " / g")
        channels = f"{C}" if self.groups == 1 else f"({C} / {self.groups})"
        lines = [f"- **Weights**: $\\textcolor{{green}}{{C_{{out}}}} \\times {cin} \\times "
                 f"\\textcolor{{purple}}{{k_h}} \\times \\textcolor{{purple}}{{k_w}} = {F} \\times {channels} \\times "
                 f"{kh} \\times {kw} = {_n(weights)}$"]
        if self.bias:
            lines.append(f"- **Bias**: $\\textcolor{{green}}{{C_{{out}}}} = {F}$")
            total_text = f"${_n(weights)} + {F} = {_n(total)}$"
        else:
            lines.append("- **Bias**: none")
            total_text = f"${_n(total)}$"
        return lines + [f"- **Total**: {total_text} parameters = **{_n(total * itemsize)} bytes**"]

    def to_torch(self, input_shape, params, nn):
        m = nn.Conv2d(input_shape[1], self.filters, (self.kh, self.kw), stride=self.stride, padding=self.pad,
                      dilation=self.dilation, groups=self.groups, bias=self.bias)
        m.weight.data = params["W"]
        if self.bias:
            m.bias.data = params["b"]
        return [m]

    def config(self):
        config = {"filters": self.filters, "kernel": kernel_spec(self.kh, self.kw),
                  "stride": self.stride, "pad": self.pad, **self._extras()}
        if not self.bias:
            config["bias"] = False
        return config
