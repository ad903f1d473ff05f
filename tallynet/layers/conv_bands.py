"""Convolution by bands of output rows: im2col's columns made a few rows at a time.

The im2col product ``w (F, K) @ cols (K, H' W' N)`` (see :mod:`.im2col`) writes kh kw
copies of the input to memory and reads them back, and its GEMM has only F rows
(16 for a CIFAR ResNet's first stage): both are limited by memory, not arithmetic.
Here the columns of a band of output rows (about :data:`BAND_ELEMENTS`, one row for
a CIFAR ResNet at batch 128) are made in a buffer that stays in the core's cache and
multiplied at once, the output rows split over threads that each run their own
products on one BLAS thread (:func:`~._threads.split_products`). The same products,
summed the same way::

    out[:, rows]  = w_rows @ cols[:, rows]                        (forward, one band at a time)
    dW            = sum over bands of dout[:, rows] @ cols[:, rows].T
    dx            = dout, zero-padded by d (k - 1) - pad, correlated with the flipped
                    filters (stride 1: a convolution of its own, by bands too)

Measured on 2 cores (AMD EPYC, AVX2), batch 128, 3x3 kernels, against im2col and one
GEMM: the forward at 16 channels of 32x32 29 -> 14 ms, at 64 of 8x8 14 -> 7 ms; dW
16 -> 14 and 10 -> 7 ms; dx 23 -> 15 and 14 -> 7 ms.

Only columns of :data:`MIN_BAND_COLUMNS` entries or more are made by bands: smaller ones fit
in the last-level cache whole, where one product over them, kept for dW, and col2im for dx are
as fast or faster (seed-cnn at batch 32, alternated in fresh processes: a step of 27.6 ms with
the whole columns, 28.7 with bands for forward and dW only, 30.9 with dx by correlation too).

The cache keeps the padded input xp (C, Hp, Wp, N), 1 / (kh kw) of the columns, and
the backward makes each band's columns again from it. Bands split the products'
contracted length M = N H' W' for dW: a band's product adds its own M_b - 1 terms and
its sum into dW one more, so every entry of dW still costs M multiplications and M - 1
additions, as one GEMM would. Each thread beyond the first holds its own band buffer
and partial dW; the memory model (``Conv2d.footprint``) counts one thread's, as the
profiler measures.
"""

import numpy as np

from ._threads import split, split_products
from .im2col import offset_slices

__all__ = ["BAND_ELEMENTS", "MIN_BAND_COLUMNS", "by_bands", "blocks", "band_rows", "band_buffer_elements",
           "padded_channels_first", "correlate_by_bands", "weight_grad_by_bands", "dx_by_correlation",
           "input_grad_by_correlation"]

#: the elements of a band's columns (2 MiB of float32): a few of them fit beside the output rows in a core's cache
BAND_ELEMENTS = 1 << 19


#: the fewest im2col column entries (K M, 16 MB of float32) for which a convolution runs by
#: bands (seed-cnn's largest at batch 32 have 2.4 M; resnet20's smallest at batch 128, 4.7 M)
MIN_BAND_COLUMNS = 1 << 22


def by_bands(K, M):
    """Whether a convolution with im2col columns (K, M) runs by bands (see :data:`MIN_BAND_COLUMNS`)."""
    return K * M >= MIN_BAND_COLUMNS


def blocks(a, groups):
    """(g P, Q) as the stack (g, P, Q) of its g row blocks (a view)."""
    return a.reshape(groups, a.shape[0] // groups, a.shape[1])


def band_rows(K, out_w, N):
    """Output rows per band: as many as keep a band's (K, rows W' N) columns within BAND_ELEMENTS, at least 1."""
    return max(1, BAND_ELEMENTS // (K * out_w * N))


def band_buffer_elements(K, rows, out_w, N):
    """The elements of the buffer that holds the bands of ``rows`` output rows: BAND_ELEMENTS, or
    one row's columns when larger, or all ``rows`` rows' when smaller. (Not the band's own size,
    which is not monotonic in N: a model's peak memory must not fall as its batch grows.)"""
    return min(K * rows * out_w * N, max(BAND_ELEMENTS, K * out_w * N))


def padded_channels_first(x, pad_h, pad_w):
    """x (N, C, H, W), any layout, as a zero-padded (C, H + 2 pad_h, W + 2 pad_w, N) array, channels
    split over threads. Only the border is zeroed: one pass over memory, not two."""
    N, C, H, W = x.shape
    xp = np.empty((C, H + 2 * pad_h, W + 2 * pad_w, N), dtype=x.dtype)

    def channels(part):
        xp[part, :pad_h], xp[part, pad_h + H:] = 0, 0
        xp[part, pad_h:pad_h + H, :pad_w], xp[part, pad_h:pad_h + H, pad_w + W:] = 0, 0
        xp[part, pad_h:pad_h + H, pad_w:pad_w + W] = x[:, part].transpose(1, 2, 3, 0)
    split(channels, C, x, xp)
    return xp


def _bands(part, rows):
    """(first, last + 1) of each band of ``rows`` output rows in the slice ``part``."""
    return [(p0, min(p0 + rows, part.stop)) for p0 in range(part.start, part.stop, rows)]


def _band_columns(buffer, src, kh, kw, stride, dilation, p0, p1, out_w):
    """im2col's columns (K, (p1 - p0) W' N) of output rows p0..p1 of the padded ``src``, written into ``buffer``."""
    C, N, n = src.shape[0], src.shape[3], p1 - p0
    cols = buffer[:C * kh * kw * n * out_w * N].reshape(C, kh, kw, n, out_w, N)
    for i, j, rows, columns in offset_slices(kh, kw, stride, n, out_w, dilation):
        shift = stride * p0  # output row p0 reads padded row stride p0 + dilation i
        cols[:, i, j] = src[:, rows.start + shift:rows.stop + shift:stride, columns]
    return cols.reshape(C * kh * kw, -1)


def _matmul_into(a, b, out):
    """(g, P, Q) @ (g, Q, R) into ``out`` (g, P, R): the plain GEMM for one group."""
    if a.shape[0] == 1:
        np.matmul(a[0], b[0], out=out[0])
    else:
        np.matmul(a, b, out=out)


def correlate_by_bands(src, w_rows, groups, kh, kw, stride, dilation, out):
    """Fill ``out`` (F, H', W', N) with w_rows (F, K / g) @ im2col(src), group by group, band by band.

    src is the padded input (C, Hp, Wp, N); out[f, p, q, n] = sum over the window of output
    (p, q) of filter f's weights times src, as im2col and one product would give.
    """
    C, N = src.shape[0], src.shape[3]
    F, out_h, out_w = out.shape[:3]
    K = C * kh * kw
    rows = band_rows(K, out_w, N)
    w_blocks = blocks(w_rows, groups)

    def band_products(part):
        buffer = np.empty(band_buffer_elements(K, part.stop - part.start, out_w, N), dtype=src.dtype)
        for p0, p1 in _bands(part, rows):
            cols = _band_columns(buffer, src, kh, kw, stride, dilation, p0, p1, out_w)
            _matmul_into(w_blocks, blocks(cols, groups), blocks(out[:, p0:p1].reshape(F, -1), groups))
    split_products(band_products, out_h, K * out_h * out_w * N, src, out)
    return out


def weight_grad_by_bands(src, dout_rows, w_shape, groups, stride, dilation, out_hw):
    """dW (F, C / g, kh, kw) = dout_rows (F, H' W' N) @ im2col(src).T, group by group, summed band by band."""
    C, N = src.shape[0], src.shape[3]
    F, kh, kw = w_shape[0], w_shape[2], w_shape[3]
    (out_h, out_w), K = out_hw, C * kh * kw
    rows = band_rows(K, out_w, N)
    dout_bands = dout_rows.reshape(F, out_h, out_w * N)

    def band_sums(part):
        # dW.T per group, (g, K/g, F/g): cols @ dout.T, the orientation OpenBLAS runs 10-30 %
        # faster for a small result summed over a long M (measured, 2 cores)
        buffer = np.empty(band_buffer_elements(K, part.stop - part.start, out_w, N), dtype=src.dtype)
        bands = _bands(part, rows)
        total = np.empty((groups, K // groups, F // groups), dtype=src.dtype)
        product = np.empty_like(total) if len(bands) > 1 else None
        for k, (p0, p1) in enumerate(bands):
            cols = blocks(_band_columns(buffer, src, kh, kw, stride, dilation, p0, p1, out_w), groups)
            douts = blocks(dout_bands[:, p0:p1].reshape(F, -1), groups).transpose(0, 2, 1)
            _matmul_into(cols, douts, product if k else total)  # the first band starts the sum
            if k:
                total += product
        return total

    partial = split_products(band_sums, out_h, K * out_h * out_w * N, src, dout_rows)
    total = partial[0]
    for other in partial[1:]:
        total += other
    return np.ascontiguousarray(total.transpose(0, 2, 1)).reshape(w_shape)


#: the fewest input channels per group for which dx is a correlation: its products have that
#: many rows, too few for BLAS below (batch 32, 32 filters at 32x32, 2 cores: 3 channels 7.2 ms
#: against 2.7 for dcols and col2im, 8 channels 7.3 against 6.2, 16 channels 7.9 against 11.1)
MIN_CORRELATION_CHANNELS = 16


def dx_by_correlation(kh, kw, conv_param, group_channels):
    """Whether dx is the correlation of the padded dout with the flipped filters: stride 1, a pad
    no wider than the window's reach (d (k - 1) - pad >= 0 on both axes), and at least
    :data:`MIN_CORRELATION_CHANNELS` input channels per group."""
    d, pad = conv_param["dilation"], conv_param["pad"]
    return (conv_param["stride"] == 1 and pad <= d * (min(kh, kw) - 1)
            and group_channels >= MIN_CORRELATION_CHANNELS)


def input_grad_by_correlation(dout_rows, w, groups, dilation, pad, x_shape, out_hw):
    """dx (N, C, H, W), channel-major, of a stride-1 convolution (see :func:`dx_by_correlation`).

    x[h] enters output p = h + pad - d i through tap i, so dx[h] = sum_i w[i] dout[h + pad - d i]:
    dout zero-padded by q = d (k - 1) - pad, correlated with the filters flipped (tap k - 1 - i)
    and transposed (each group's C / g channels as filters, its F / g filters as channels).
    """
    N, C, H, W = x_shape
    F, Cg, kh, kw = w.shape
    qh, qw = dilation * (kh - 1) - pad, dilation * (kw - 1) - pad
    doutp = padded_channels_first(dout_rows.reshape(F, *out_hw, N).transpose(3, 0, 1, 2), qh, qw)
    flipped = w.reshape(groups, F // groups, Cg, kh, kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    dx = np.empty((C, H, W, N), dtype=dout_rows.dtype)
    correlate_by_bands(doutp, flipped.reshape(C, -1), groups, kh, kw, 1, dilation, dx)
    return dx.transpose(3, 0, 1, 2)
