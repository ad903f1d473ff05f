"""Average pooling to a given output size: global (to 1 x 1, flattened) and adaptive.

Adaptive average pooling to (H', W') averages, for output (i, j), the rows
floor(i H / H') <= h < ceil((i + 1) H / H') and the columns likewise (PyTorch's window
rule; windows overlap when H' does not divide H). It is linear and separable: with
A_H (H', H) the 0/1 matrix of the row windows and A_W (W', W) that of the columns,

    out[n, c] = (A_H @ x[n, c] @ A_W^T) / (r_i c_j),   dx[n, c] = A_H^T @ (dout[n, c] / (r_i c_j)) @ A_W,

r_i and c_j the windows' lengths: two batched matrix products each way, on the
channel-major memory (C, H, W, N) of the activations, with no copy and no loop.
"""

import numpy as np

from ..counts import Ops, term
from ._checks import check_cache, check_float_array, check_shape
from ._text import per_element
from .base import Footprint, Layer, no_bytes, no_macs, saves_input, saves_nothing, torch_output_then_dx
from .im2col import channel_major, image_shape, kernel_pair, kernel_spec

__all__ = ["GlobalAvgPool", "AdaptiveAvgPool2d", "global_avg_pool_forward", "global_avg_pool_backward",
           "adaptive_avg_pool_forward", "adaptive_avg_pool_backward"]


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


class GlobalAvgPool(Layer):
    """Mean over H and W: (N, C, H, W) -> (N, C)."""

    kind = "global_avgpool"
    display_name = "GAP"
    group = "Pooling"
    title = "Global Average Pooling"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x_{c,h,w}} = \frac{1}{H \times W} \cdot "
                     r"\frac{\partial \mathcal{L}}{\partial y_c}$: the gradient is broadcast over $H \times W$ and "
                     r"scaled.")
    rules = {"walkthrough": ("1 per input element", "1 per input element"),
             "exact": ("$HW - 1$ additions and 1 division per output", "1 division per output")}

    def output_shape(self, input_shape):
        return image_shape(self.kind, input_shape)[:2]

    def exact_terms(self, input_shape):
        # forward: x.mean over H W, HW - 1 additions and 1 division per output;
        # backward: dout / (H W), 1 division per output (the broadcast is a copy)
        N, C, H, W = image_shape(self.kind, input_shape)
        return {"forward": [term("sums over $H \\times W$", r"N \times C \times (H W - 1)", (N, C, H * W - 1), "add"),
                            term("division by $H W$", r"N \times C", (N, C), "div")],
                "backward_input": [term("$dout / (H W)$", r"N \times C", (N, C), "div")]}

    def walkthrough_terms(self, input_shape):
        # Seed 001: 1 per input element (HW - 1 additions and a division per channel);
        # backward 1 per input element (broadcasting and scaling by 1 / (H W)).
        N, C, H, W = image_shape(self.kind, input_shape)
        return {"forward": [term("FLOPs, 1 per input element ($HW - 1$ additions and a division per channel)",
                                 r"N \times C \times H \times W", (N, C, H, W),
                                 Ops(add=N * C * (H * W - 1), div=N * C))],
                "backward_input": [per_element("broadcasting and scaling, 1 per input element", input_shape, "mul")]}

    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the output; backward: dout / (H W) and dx, its broadcast copied out
        N, C, H, W = image_shape(self.kind, input_shape)
        return Footprint(forward_peak=N * C * itemsize, backward_peak=(N * C + N * C * H * W) * itemsize)

    # the twin's AdaptiveAvgPool2d(1) is x.mean((-2, -1)), whose backward needs only the input's sizes
    torch_saved = saves_nothing
    torch_footprint = torch_output_then_dx

    def describe(self, input_shape):
        return "Global Average Pooling"

    def given_lines(self, input_shape):
        return ["- **Operation**: average each channel across spatial dimensions, "
                r"$y_c = \frac{1}{H \times W} \sum_{h,w} x_{c,h,w}$"]

    def to_torch(self, input_shape, params, nn):
        return [nn.AdaptiveAvgPool2d(1), nn.Flatten()]

    def forward(self, x, params, mode="train"):
        return global_avg_pool_forward(x)

    def backward(self, dout, cache):
        return global_avg_pool_backward(dout, cache), {}


# --- adaptive average pooling --------------------------------------------------------------

def _windows(size, out):
    """PyTorch's adaptive windows of one axis: (0/1 matrix (out, size) as booleans, lengths (out,))."""
    i = np.arange(out)
    starts, ends = (i * size) // out, -((-(i + 1) * size) // out)
    h = np.arange(size)
    return (h >= starts[:, None]) & (h < ends[:, None]), ends - starts


def _adaptive_operators(x_shape, output_size, dtype):
    """A_H (H', H), A_W (W', W) in ``dtype`` and the windows' sizes r_i c_j, (H', W', 1) in ``dtype``."""
    (rows, r), (cols, c) = _windows(x_shape[2], output_size[0]), _windows(x_shape[3], output_size[1])
    return rows.astype(dtype), cols.astype(dtype), (r[:, None] * c[None, :])[:, :, None].astype(dtype)


def _check_output_size(output_size):
    return kernel_pair("output_size", output_size)


def adaptive_avg_pool_forward(x, output_size):
    """Adaptive average pooling (PyTorch's ``adaptive_avg_pool2d``).

    - x: input of shape (N, C, H, W), any layout (channel-major is read with no copy)
    - output_size: int or (H', W'), each >= 1

    Returns ``(out, cache)``: out (N, C, H', W') in x's dtype, channel-major, out[n, c, i, j] the
    mean of x[n, c] over the window of (i, j) (module docstring); cache = (x.shape, (H', W')).
    """
    check_float_array("x", x, ndim=4)
    out_h, out_w = _check_output_size(output_size)
    N, C, H, W = x.shape
    a_h, a_w, sizes = _adaptive_operators(x.shape, (out_h, out_w), x.dtype)
    # (C, H, W, N): A_W (W', W) contracts W, giving (C, H, W', N); A_H (H', H) contracts H of
    # its (C, H, W' N) view, giving (C, H', W' N), the output's channel-major memory
    along_w = a_w @ x.transpose(1, 2, 3, 0)
    rows = (a_h @ along_w.reshape(C, H, out_w * N)).reshape(C, out_h, out_w, N)
    rows /= sizes
    return rows.transpose(3, 0, 1, 2), (x.shape, (out_h, out_w))


def adaptive_avg_pool_backward(dout, cache):
    """The adjoint: dx[n, c] = A_H^T (dout[n, c] / sizes) A_W; dout (N, C, H', W'), dx (N, C, H, W)
    in dout's dtype, channel-major."""
    x_shape, (out_h, out_w) = cache
    N, C, H, W = x_shape
    check_shape("dout", dout, (N, C, out_h, out_w))
    a_h, a_w, sizes = _adaptive_operators(x_shape, (out_h, out_w), dout.dtype)
    share = dout.transpose(1, 2, 3, 0) / sizes  # (C, H', W', N)
    along_w = a_w.T @ share  # (C, H', W, N)
    dx = a_h.T @ along_w.reshape(C, out_h, W * N)  # (C, H, W N)
    return dx.reshape(C, H, W, N).transpose(3, 0, 1, 2)


class AdaptiveAvgPool2d(Layer):
    """Average pooling to ``output_size`` (int or (h, w)) whatever the input's size, as PyTorch's
    ``nn.AdaptiveAvgPool2d``."""

    kind = "adaptive_avgpool"
    display_name = "AdaptiveAvgPool"
    group = "Pooling"
    title = "Adaptive Average Pooling"
    gradient_text = (r"Each element of a window receives $\frac{1}{r_i c_j} \frac{\partial \mathcal{L}}"
                     r"{\partial y_{i,j}}$, summed over the windows that cover it.")
    rules = {"walkthrough": ("window sums and 1 division per output", "1 division per output, the shares' sums"),
             "exact": ("two matrix products by the 0/1 window matrices, 1 division per output",
                       "1 division per output, two matrix products by their transposes")}

    def __init__(self, output_size, name=None):
        super().__init__(name)
        self.out_h, self.out_w = _check_output_size(output_size)

    def output_shape(self, input_shape):
        N, C = image_shape(self.kind, input_shape)[:2]
        return (N, C, self.out_h, self.out_w)

    def _sizes(self, input_shape):
        return (*image_shape(self.kind, input_shape), self.out_h, self.out_w)

    def exact_terms(self, input_shape):
        N, C, H, W, Ho, Wo = self._sizes(input_shape)
        return {"forward": [term(r"$A_W$ over the columns, $W$ mul per result", r"N C H W_{out} \times W",
                                 (N, C, H, Wo, W), "mul"),
                            term("and $W - 1$ add", r"N C H W_{out} \times (W - 1)", (N, C, H, Wo, W - 1), "add"),
                            term(r"$A_H$ over the rows, $H$ mul per output", r"N C H_{out} W_{out} \times H",
                                 (N, C, Ho, Wo, H), "mul"),
                            term("and $H - 1$ add", r"N C H_{out} W_{out} \times (H - 1)", (N, C, Ho, Wo, H - 1),
                                 "add"),
                            term("division by the window's size", r"N C H_{out} W_{out}", (N, C, Ho, Wo), "div")],
                "backward_input": [
                    term("$dout$ / the window's size", r"N C H_{out} W_{out}", (N, C, Ho, Wo), "div"),
                    term(r"$A_W^T$, $W_{out}$ mul per result", r"N C H_{out} W \times W_{out}", (N, C, Ho, W, Wo),
                         "mul"),
                    term("and $W_{out} - 1$ add", r"N C H_{out} W \times (W_{out} - 1)", (N, C, Ho, W, Wo - 1), "add"),
                    term(r"$A_H^T$, $H_{out}$ mul per element of dx", r"N C H W \times H_{out}", (N, C, H, W, Ho),
                         "mul"),
                    term("and $H_{out} - 1$ add", r"N C H W \times (H_{out} - 1)", (N, C, H, W, Ho - 1), "add")]}

    def walkthrough_terms(self, input_shape):
        # by hand: a window of r c elements costs r c - 1 additions and a division; the window
        # sizes add up to (sum r)(sum c) = S_H S_W. Backward: the division, then each input
        # element sums the shares of the windows covering it, S_H S_W shares over H W elements.
        N, C, H, W, Ho, Wo = self._sizes(input_shape)
        s_h, s_w = int(_windows(H, Ho)[1].sum()), int(_windows(W, Wo)[1].sum())
        return {"forward": [term("window sums", r"N C (S_H S_W - H_{out} W_{out})", (N, C, s_h * s_w - Ho * Wo),
                                 "add"),
                            term("division by the window's size", r"N C H_{out} W_{out}", (N, C, Ho, Wo), "div")],
                "backward_input": [term("$dout$ / the window's size", r"N C H_{out} W_{out}", (N, C, Ho, Wo), "div"),
                                   term("summing the shares", r"N C (S_H S_W - H W)", (N, C, s_h * s_w - H * W),
                                        "add")]}

    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the product over the columns (C, H, W', N) beside the output; backward:
        # dout / sizes (the output's size), the product over the columns (C, H', W, N) and dx
        N, C, H, W, Ho, Wo = self._sizes(input_shape)
        return Footprint(forward_peak=N * C * Wo * (H + Ho) * itemsize,
                         backward_peak=N * C * (Ho * Wo + Ho * W + H * W) * itemsize)

    def torch_saved(self, input_shape, dtype):
        """``_adaptive_avg_pool2d`` saves its input; to 1 x 1 PyTorch takes the mean instead, which saves nothing."""
        return [] if (self.out_h, self.out_w) == (1, 1) else saves_input(self, input_shape, dtype)

    torch_footprint = torch_output_then_dx

    def describe(self, input_shape):
        return f"AdaptiveAvgPool({self.out_h}×{self.out_w})"

    def given_lines(self, input_shape):
        return [f"- **Output size**: $H_{{out}} = {self.out_h}, W_{{out}} = {self.out_w}$; the window of $i$ "
                r"covers rows $\lfloor i H / H_{out} \rfloor$ to $\lceil (i + 1) H / H_{out} \rceil - 1$"]

    def to_torch(self, input_shape, params, nn):
        return [nn.AdaptiveAvgPool2d((self.out_h, self.out_w))]

    def forward(self, x, params, mode="train"):
        return adaptive_avg_pool_forward(x, (self.out_h, self.out_w))

    def backward(self, dout, cache):
        return adaptive_avg_pool_backward(dout, cache), {}

    def config(self):
        return {"output_size": kernel_spec(self.out_h, self.out_w)}
