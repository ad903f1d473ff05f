"""Depthwise convolution (one filter per channel: groups = C = F) by shifted multiply-adds.

With one filter per channel, each output is a dot product of only kh kw values,
so the im2col path does little arithmetic per byte it moves: it writes kh kw
copies of the input as columns, and its batched product has an inner length of
kh kw (forward) or 1 (dcols). Here each kernel tap (i, j) is instead one pass
over a shifted (strided) view of the zero-padded input xp (C, Hp, Wp, N)::

    out[c]  = sum_{i, j} w[c, i, j] * xp[c, rows_i, columns_j]          (forward)
    dW[c, i, j] = sum_{p, q, n} dout[c, p, q, n] * xp[c, rows_i, columns_j, n]
    dxp[c, rows_i, columns_j] += w[c, i, j] * dout[c]                   (dx: the interior of dxp)

where rows_i = d i, d i + s, ..., d i + s (H' - 1) (stride s, dilation d), and
likewise the columns. Measured at batch 32 (2 cores): at 32 channels of 32x32, the
forward 4.2 -> 2.9 ms and the backward 9.2 -> 4.4 ms; at 144 channels of 16x16,
5.3 -> 2.7 and 10.7 -> 5.8 ms.

The arithmetic is exactly that of the im2col kernels, term for term (see
``Conv2d.exact_terms``): kh kw multiplications and kh kw - 1 additions per output
(the first tap is a multiplication alone); per weight, M multiplications and
M - 1 additions (``np.einsum``, one dot product per channel and tap, M = N H' W');
for dx, K M multiplications (K = C kh kw) and K M additions into the zeroed dxp,
which col2im makes too. The cache keeps xp, 1 / (kh kw) of the columns' memory.
Every pass splits the channels over threads (:mod:`._threads`).
"""

import numpy as np

from ._threads import split
from .conv_bands import padded_channels_first
from .im2col import offset_slices

__all__ = ["is_depthwise", "depthwise_forward", "depthwise_backward", "depthwise_param_grads"]


def is_depthwise(channels, filters, groups):
    """Whether a convolution of ``channels`` inputs has one filter per channel (groups = C = F > 1)."""
    return groups > 1 and groups == channels == filters


def _taps(w_shape, out_hw, conv_param):
    """Each kernel tap (i, j) with the (rows, columns) slices of the padded input it reads: im2col's."""
    return offset_slices(*w_shape[2:], conv_param["stride"], *out_hw, conv_param["dilation"])


def _per_channel(w, i, j, part):
    """Tap (i, j) of the filters of channels ``part``, shaped to broadcast over (c, H', W', N)."""
    return w[part, 0, i, j][:, None, None, None]


def depthwise_forward(x, w, b, conv_param, out_hw):
    """out (N, C, H', W'), channel-major, and the padded input xp (C, Hp, Wp, N) that backward needs.

    x (N, C, H, W), w (C, 1, kh, kw), b (C,) or None; conv_param normalised (stride, pad, dilation).
    """
    N, C = x.shape[:2]
    xp = padded_channels_first(x, conv_param["pad"], conv_param["pad"])
    out = np.empty((C, *out_hw, N), dtype=x.dtype)

    def channels(part):
        o, product = out[part], None
        for i, j, rows, columns in _taps(w.shape, out_hw, conv_param):
            if product is None:  # the first tap starts the sum
                product = np.empty_like(o)
                np.multiply(xp[part, rows, columns], _per_channel(w, i, j, part), out=o)
            else:
                np.multiply(xp[part, rows, columns], _per_channel(w, i, j, part), out=product)
                np.add(o, product, out=o)
        if b is not None:
            np.add(o, b[part, None, None, None], out=o)
    split(channels, C, x, out)
    return out.transpose(3, 0, 1, 2), xp


def _weight_grad_part(dw, dout_c, xp, w_shape, conv_param, part):
    """dW of channels ``part``: one dot product per channel and tap."""
    for i, j, rows, columns in _taps(w_shape, dout_c.shape[1:3], conv_param):
        dw[part, 0, i, j] = np.einsum("chwn,chwn->c", dout_c[part], xp[part, rows, columns])


def depthwise_backward(dout, xp, w, conv_param):
    """``(dx, dw)`` of :func:`depthwise_forward`: dout (N, C, H', W'), xp from the forward."""
    dout_c = dout.transpose(1, 2, 3, 0)  # (C, H', W', N): a view when dout is channel-major
    C, Hp, Wp, N = xp.shape
    pad = conv_param["pad"]
    dw, dxp = np.empty(w.shape, dtype=w.dtype), np.zeros_like(xp)

    def channels(part):
        _weight_grad_part(dw, dout_c, xp, w.shape, conv_param, part)
        g = dout_c[part]
        product = np.empty_like(g)
        for i, j, rows, columns in _taps(w.shape, g.shape[1:3], conv_param):
            np.multiply(g, _per_channel(w, i, j, part), out=product)
            dxp[part, rows, columns] += product
    split(channels, C, xp, dxp)
    return dxp[:, pad:Hp - pad, pad:Wp - pad].transpose(3, 0, 1, 2), dw


def depthwise_param_grads(dout, xp, w, conv_param):
    """dW of :func:`depthwise_backward` alone (no dx)."""
    dout_c = dout.transpose(1, 2, 3, 0)
    dw = np.empty(w.shape, dtype=w.dtype)
    split(lambda part: _weight_grad_part(dw, dout_c, xp, w.shape, conv_param, part), xp.shape[0], xp)
    return dw
