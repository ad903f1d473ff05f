"""Sliding-window helpers shared by convolution and pooling: reading window
hyperparameters, zero padding, and the im2col / col2im pair.

Column layout
-------------
``im2col`` returns ``cols`` of shape ``(C * kh * kw, H' * W' * N)``: one row per
(channel, kernel row, kernel column), in that order, and one column per
(output row, output column, sample), in that order. It is built as a buffer of
shape ``(C, kh, kw, H', W', N)`` and reshaped for free.

Why this layout: the row order (c, i, j) is exactly ``w.reshape(F, C * kh * kw)``,
so a convolution is the single GEMM ``w.reshape(F, -1) @ cols`` of shape
(F, K) x (K, M) with K = C kh kw and M = H' W' N: one large, contiguous matrix
product, the shape BLAS is fastest on (a batched product over N would run N
small ones instead). Filling it is one copy of x into a zero-padded
(C, H + 2 pad, W + 2 pad, N) buffer, then kh * kw slice copies, one per kernel
offset (i, j). With the samples innermost, a slice of rows of a stride-1 window
is a run of W' N contiguous values, not W' (8 for the last block of seed 001's
CNN), so NumPy's inner loops are long and the copies run at memory speed.
col2im adds back in that same layout. Both split the channels over threads
(:mod:`._threads`). Convolutions make the same columns a band of output rows at a
time and multiply each band while it is in cache (:mod:`.conv_bands`); pooling and
transposed convolutions use the whole columns.

Channel-major memory
--------------------
The GEMM's result (F, H' W' N) already holds the output (N, F, H', W'):
``result.reshape(F, H', W', N).transpose(3, 0, 1, 2)`` is the output with no
copy. Every 4-D activation and gradient in a model is kept that way: shape
(N, C, H, W), memory of a contiguous (C, H, W, N) array (:func:`channel_major`;
cuda-convnet's layout), as PyTorch tensors keep a logical NCHW shape over other
memory formats. Elementwise layers, batchnorm and pooling follow the layout of
their input; convolutions and the layers that make 4-D arrays from scratch
(pooling on im2col columns, global average pooling's gradient) make them
channel-major; flattening one is a view, and affine's gradient comes back in
the same order. So a convolution's forward needs no transpose of its output, its
backward reads dout as (F, H' W' N) with no copy, and col2im returns a view of
its buffer. Each channel is one contiguous block, which batchnorm needs and the
threads split; pooling's strided windows read runs of N contiguous values.
Kernels accept any layout; only their speed and temporaries depend on it.

Windows that do not tile the padded input exactly are handled as in PyTorch:
the last ``(H + 2 pad - kh) % stride`` rows (and likewise columns) are never
covered by a window, so they do not affect the output and get zero gradient.
"""

import numpy as np

from ._checks import check_int, window_output_size
from ._threads import split


def window_param(params, params_name, key, minimum):
    """``params[key]`` as an integer >= ``minimum``; errors name ``key`` (and ``params_name`` if missing)."""
    if not isinstance(params, dict):
        raise TypeError(f"{params_name} must be a dict, got {type(params).__name__}")
    if key not in params:
        raise ValueError(f"{params_name} is missing the key {key!r}")
    return check_int(key, params[key], minimum)


def kernel_pair(name, kernel):
    """A kernel size given as an int ``k`` or a pair ``(kh, kw)``, returned as ``(kh, kw)``."""
    if isinstance(kernel, (list, tuple)):
        if len(kernel) != 2:
            raise ValueError(f"{name} must be an integer or a (height, width) pair, got {kernel!r}")
        return check_int(f"{name} height", kernel[0], 1), check_int(f"{name} width", kernel[1], 1)
    k = check_int(name, kernel, 1)
    return k, k


def kernel_spec(kh, kw):
    """The spec form of a kernel size: ``k`` when square, ``[kh, kw]`` otherwise."""
    return kh if kh == kw else [kh, kw]


def output_hw(name, H, W, kh, kw, stride, pad):
    """``(H', W')`` of a ``kh x kw`` window sliding over an (H, W) input; see ``window_output_size``."""
    return (window_output_size(f"{name} height", H, kh, stride, pad),
            window_output_size(f"{name} width", W, kw, stride, pad))


def pad_hw(x, pad):
    """``x`` (N, C, H, W) with ``pad`` zeros on each side of H and W: (N, C, H + 2 pad, W + 2 pad)."""
    if pad == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + H, pad:pad + W] = x
    return xp


def channel_major(shape, dtype):
    """An uninitialised array of ``shape`` (N, C, H, W) stored channel-major: a transposed
    view of a contiguous (C, H, W, N) array (see the module docstring)."""
    N, C, H, W = shape
    return np.empty((C, H, W, N), dtype=dtype).transpose(3, 0, 1, 2)


def as_rows(a):
    """(N, C, H, W) as (C, H W N), the columns' order: a view when ``a`` is channel-major."""
    return a.transpose(1, 2, 3, 0).reshape(a.shape[1], -1)


def window_at(p, q, kh, kw, stride, dilation=1):
    """The (row, column) slices of the (padded) input under the window of output (p, q):
    kernel element i of output row p reads row stride p + dilation i."""
    span_h, span_w = dilated(kh, dilation), dilated(kw, dilation)
    return (slice(p * stride, p * stride + span_h, dilation), slice(q * stride, q * stride + span_w, dilation))


def dilated(k, dilation):
    """The span of a k-tap window with ``dilation - 1`` holes between taps: dilation (k - 1) + 1."""
    return dilation * (k - 1) + 1


def image_shape(kind, input_shape):
    """``input_shape`` as ``(N, C, H, W)``; a layer of type ``kind`` raises ValueError otherwise."""
    if len(input_shape) != 4:
        raise ValueError(f"{kind}: input must have shape (N, C, H, W), got {tuple(input_shape)}")
    return tuple(input_shape)


def offset_slices(kh, kw, stride, out_h, out_w, dilation=1):
    """For each kernel offset (i, j), the slices of the padded input that it touches.

    Offset (i, j) of the window at output (p, q) reads padded pixel
    (dilation i + stride p, dilation j + stride q), so over all outputs it reads one strided slice.
    """
    for i in range(kh):
        for j in range(kw):
            r, c = dilation * i, dilation * j
            yield i, j, slice(r, r + stride * (out_h - 1) + 1, stride), slice(c, c + stride * (out_w - 1) + 1, stride)


def window_geometry(H, W, kh, kw, stride, pad, dilation, out_hw):
    """``(H', W', padded height, padded width)``: H' W' as given (pooling's ceil mode) or from
    the floor formula; the padded buffer is H + 2 pad high, or higher when the last window of
    an out_hw runs past the bottom padding (likewise for the width)."""
    span_h, span_w = dilated(kh, dilation), dilated(kw, dilation)
    out_h, out_w = out_hw if out_hw is not None else output_hw("x", H, W, span_h, span_w, stride, pad)
    return (out_h, out_w, max(H + 2 * pad, (out_h - 1) * stride + span_h),
            max(W + 2 * pad, (out_w - 1) * stride + span_w))


def im2col(x, kh, kw, stride, pad, dilation=1, fill=0, out_hw=None):
    """Unfold the ``kh x kw`` windows of ``x`` into columns.

    - x: (N, C, H, W), any memory layout; stride, pad: ints (pad zeros on each side of H and W);
      dilation: int >= 1, the step between a window's taps (1: adjacent)
    - fill: the padding's value (max pooling pads with -inf); out_hw: (H', W') when not the
      floor formula's (pooling's ceil mode: the last windows may run past the padding, into more fill)

    Returns ``cols`` of shape (C * kh * kw, H' * W' * N) with
    cols[(c, i, j), (p, q, n)] = x_padded[n, c, stride p + dilation i, stride q + dilation j]
    (see the module docstring for the layout), H' and W' those of a window of span
    dilation (k - 1) + 1. Costs kh * kw slice copies, whatever the dilation.
    """
    N, C, H, W = x.shape
    check_int("pad", pad, 0)
    check_int("stride", stride, 1)
    check_int("dilation", dilation, 1)
    out_h, out_w, Hp, Wp = window_geometry(H, W, kh, kw, stride, pad, dilation, out_hw)
    xp = np.zeros((C, Hp, Wp, N), dtype=x.dtype) if fill == 0 else np.full((C, Hp, Wp, N), fill, dtype=x.dtype)
    cols = np.empty((C, kh, kw, out_h, out_w, N), dtype=x.dtype)

    def channels(s):
        xp[s, pad:pad + H, pad:pad + W] = x[:, s].transpose(1, 2, 3, 0)
        for i, j, rows, columns in offset_slices(kh, kw, stride, out_h, out_w, dilation):
            cols[s, i, j] = xp[s, rows, columns]
    split(channels, C, x, cols)
    return cols.reshape(C * kh * kw, out_h * out_w * N)


def col2im(cols, x_shape, kh, kw, stride, pad, dilation=1, out_hw=None):
    """Adjoint of :func:`im2col`: scatter-add columns back onto the input.

    - cols: (C * kh * kw, H' * W' * N), laid out as :func:`im2col` returns (with the same
      kh, kw, stride, pad, dilation and out_hw)
    - x_shape: (N, C, H, W) of the original, unpadded input

    Returns dx of shape ``x_shape`` and the dtype of ``cols``:
    dx[n, c, h, w] = sum of every cols entry that im2col copied from x[n, c, h, w]
    (overlapping windows add up; pixels under no window get 0). Costs kh * kw
    slice additions into a zero-padded (C, H + 2 pad, W + 2 pad, N) buffer; dx is
    a channel-major view of that buffer's interior, with no copy.
    """
    N, C, H, W = x_shape
    out_h, out_w, Hp, Wp = window_geometry(H, W, kh, kw, stride, pad, dilation, out_hw)
    blocks = cols.reshape(C, kh, kw, out_h, out_w, N)
    dxp = np.zeros((C, Hp, Wp, N), dtype=cols.dtype)

    def channels(s):
        for i, j, rows, columns in offset_slices(kh, kw, stride, out_h, out_w, dilation):
            dxp[s, rows, columns] += blocks[s, i, j]
    split(channels, C, cols)
    return dxp[:, pad:pad + H, pad:pad + W].transpose(3, 0, 1, 2)


def get_im2col_indices(x_shape, field_height, field_width, padding=1, stride=1):
    """The course's index arrays ``(k, i, j)`` of im2col by fancy indexing: for x_padded, x
    of ``x_shape`` (N, C, H, W) zero-padded by ``padding``, ``x_padded[:, k, i, j]`` has shape
    (N, C field_height field_width, H' W'), its rows in :func:`im2col`'s order (channel, kernel
    row, kernel column) and its columns (output row, output column).

    k is (K, 1), i and j are (K, H' W'); windows past the last full one are dropped.
    """
    _, C, H, W = x_shape
    out_h, out_w = output_hw("x", H, W, field_height, field_width, stride, padding)
    rows_in_kernel = np.tile(np.repeat(np.arange(field_height), field_width), C)
    cols_in_kernel = np.tile(np.arange(field_width), field_height * C)
    i = rows_in_kernel[:, None] + stride * np.repeat(np.arange(out_h), out_w)[None, :]
    j = cols_in_kernel[:, None] + stride * np.tile(np.arange(out_w), out_h)[None, :]
    k = np.repeat(np.arange(C), field_height * field_width)[:, None]
    return k, i, j
