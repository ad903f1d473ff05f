"""Sliding-window helpers shared by convolution and pooling: reading window
hyperparameters, zero padding, and the im2col / col2im pair.

Column layout
-------------
``im2col`` returns ``cols`` of shape ``(C * kh * kw, N * H' * W')``: one row per
(channel, kernel row, kernel column), in that order, and one column per
(sample, output row, output column), in that order. It is built as a buffer of
shape ``(C, kh, kw, N, H', W')`` and reshaped for free.

Why this layout: the row order (c, i, j) is exactly ``w.reshape(F, C * kh * kw)``,
so a convolution is the single GEMM ``w.reshape(F, -1) @ cols`` of shape
(F, K) x (K, M) with K = C kh kw and M = N H' W': one large, contiguous matrix
product, the shape BLAS is fastest on (a batched product over N would run N
small ones instead). Filling it is one transposing copy of x into a padded
(C, N, H, W) buffer, then kh * kw strided slice copies, each writing one
contiguous (N, H', W') block per channel; col2im accumulates in that same
channels-first layout and transposes once at the end. The price is one transpose of the
(F, N, H', W') result into (N, F, H', W'), which costs O(F M) against the
GEMM's O(F K M).

Windows that do not tile the padded input exactly are handled as in PyTorch:
the last ``(H + 2 pad - kh) % stride`` rows (and likewise columns) are never
covered by a window, so they do not affect the output and get zero gradient.
"""

import numpy as np

from ._checks import check_int, window_output_size


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


def _padded_channels_first(x, pad):
    """x (N, C, H, W) as a contiguous (C, N, H + 2 pad, W + 2 pad) array, zero-padded.

    One transposing copy here lets each of im2col's kh kw slice copies move whole
    contiguous (N, H', W') blocks per channel instead of transposing every time.
    """
    N, C, H, W = x.shape
    xp = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + H, pad:pad + W] = x.transpose(1, 0, 2, 3)
    return xp


def window_at(p, q, kh, kw, stride):
    """The (row, column) slices of the (padded) input under the window of output (p, q)."""
    return slice(p * stride, p * stride + kh), slice(q * stride, q * stride + kw)


def image_shape(kind, input_shape):
    """``input_shape`` as ``(N, C, H, W)``; a layer of type ``kind`` raises ValueError otherwise."""
    if len(input_shape) != 4:
        raise ValueError(f"{kind}: input must have shape (N, C, H, W), got {tuple(input_shape)}")
    return tuple(input_shape)


def _offset_slices(kh, kw, stride, out_h, out_w):
    """For each kernel offset (i, j), the slices of the padded input that it touches.

    Offset (i, j) of the window at output (p, q) reads padded pixel
    (i + stride p, j + stride q), so over all outputs it reads one strided slice.
    """
    for i in range(kh):
        for j in range(kw):
            yield i, j, slice(i, i + stride * (out_h - 1) + 1, stride), slice(j, j + stride * (out_w - 1) + 1, stride)


def im2col(x, kh, kw, stride, pad):
    """Unfold the ``kh x kw`` windows of ``x`` into columns.

    - x: (N, C, H, W); stride, pad: ints (pad zeros on each side of H and W)

    Returns ``cols`` of shape (C * kh * kw, N * H' * W') with
    cols[(c, i, j), (n, p, q)] = x_padded[n, c, stride p + i, stride q + j]
    (see the module docstring for the layout). Costs kh * kw slice copies.
    """
    N, C, H, W = x.shape
    check_int("pad", pad, 0)
    check_int("stride", stride, 1)
    out_h, out_w = output_hw("x", H, W, kh, kw, stride, pad)
    xp = _padded_channels_first(x, pad)
    cols = np.empty((C, kh, kw, N, out_h, out_w), dtype=x.dtype)
    for i, j, rows, columns in _offset_slices(kh, kw, stride, out_h, out_w):
        cols[:, i, j] = xp[:, :, rows, columns]
    return cols.reshape(C * kh * kw, N * out_h * out_w)


def col2im(cols, x_shape, kh, kw, stride, pad):
    """Adjoint of :func:`im2col`: scatter-add columns back onto the input.

    - cols: (C * kh * kw, N * H' * W'), laid out as :func:`im2col` returns
    - x_shape: (N, C, H, W) of the original, unpadded input

    Returns dx of shape ``x_shape`` and the dtype of ``cols``:
    dx[n, c, h, w] = sum of every cols entry that im2col copied from x[n, c, h, w]
    (overlapping windows add up; pixels under no window get 0). Costs kh * kw
    strided slice additions.
    """
    N, C, H, W = x_shape
    out_h, out_w = output_hw("x", H, W, kh, kw, stride, pad)
    blocks = cols.reshape(C, kh, kw, N, out_h, out_w)
    # Accumulate channels first, as the columns are laid out, and transpose once at the end.
    dxp = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for i, j, rows, columns in _offset_slices(kh, kw, stride, out_h, out_w):
        dxp[:, :, rows, columns] += blocks[:, i, j]
    return np.ascontiguousarray(dxp[:, :, pad:pad + H, pad:pad + W].transpose(1, 0, 2, 3))
