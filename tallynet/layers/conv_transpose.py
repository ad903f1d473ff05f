"""Transposed convolution (a "deconvolution"): the adjoint of :mod:`.conv`'s convolution.

For x (N, C, H, W), filters w (C, F, kh, kw) (PyTorch's layout: input channels first),
biases b (F,), stride s and pad p, every input pixel scatters a weighted copy of its
filters into the output::

    out_pad[n, f, s h + i, s w + j] += x[n, c, h, w] * w[c, f, i, j],   out = out_pad cropped by p, + b[f]

so out has shape (N, F, H', W') with H' = (H - 1) s - 2 p + kh, W' likewise
(PyTorch's ``ConvTranspose2d`` with ``output_padding=0`` and ``dilation=1``). It is the
input gradient of a convolution of out's shape by the same w: tallynet computes it
as that convolution's backward does, ``cols = w.reshape(C, F kh kw)^T @ x_rows`` then
col2im, and its backward as that convolution's forward, im2col of dout and one
matrix product (see :mod:`tallynet.layers.im2col` for the layouts, all channel-major).

``conv_transpose_*_naive`` loop over every input element (the readable reference).
"""

from itertools import product

import numpy as np

from ..counts import Ops, term
from ._checks import check_float_array, check_int, check_shape
from ._text import fmt_kernel, per_axis, window_given
from .base import Footprint, Layer, he_or_scaled_normal
from .conv import OneDNNTwin
from .im2col import as_rows, col2im, im2col, image_shape, kernel_pair, kernel_spec, window_at, window_param

__all__ = ["ConvTranspose2d", "conv_transpose_forward_naive", "conv_transpose_backward_naive",
           "conv_transpose_forward_fast", "conv_transpose_backward_fast", "conv_transpose_param_grads_fast"]


def _transposed_size(name, size, k, stride, pad):
    """(size - 1) stride - 2 pad + k, which must be >= 1."""
    out = (size - 1) * stride - 2 * pad + k
    if out < 1:
        raise ValueError(f"{name}: pad {pad} leaves no output ((size - 1) stride - 2 pad + k = {out})")
    return out


def _output_hw(x_shape, w_shape, conv_param, name="x"):
    return tuple(_transposed_size(f"{name} {axis}", size, k, conv_param["stride"], conv_param["pad"])
                 for axis, size, k in (("height", x_shape[2], w_shape[2]), ("width", x_shape[3], w_shape[3])))


def _check_args(x, w, b, conv_param):
    """Validate the forward arguments; returns ``(conv_param, H', W')`` with conv_param normalised."""
    check_float_array("x", x, ndim=4)
    check_float_array("w", w, ndim=4)
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w has {w.shape[0]} input channels (w.shape[0]) but x has {x.shape[1]} (x.shape[1]); "
                         f"a transposed convolution's w is (C_in, C_out, kh, kw)")
    if b is not None:
        check_float_array("b", b, ndim=1)
        check_shape("b", b, (w.shape[1],))
    conv_param = {"stride": window_param(conv_param, "conv_param", "stride", 1),
                  "pad": window_param(conv_param, "conv_param", "pad", 0)}
    return conv_param, *_output_hw(x.shape, w.shape, conv_param)


def conv_transpose_forward_naive(x, w, b, conv_param):
    """Reference forward pass, one input element at a time (the scatter of the module docstring).

    - x: (N, C, H, W); w: (C, F, kh, kw); b: (F,) or None
    - conv_param: ``{'stride': int >= 1, 'pad': int >= 0}``

    Returns ``(out, cache)``: out (N, F, H', W') in x's dtype; cache = (x, w, b, conv_param).
    """
    conv_param, out_h, out_w = _check_args(x, w, b, conv_param)
    (N, C, H, W), (_, F, kh, kw), pad = x.shape, w.shape, conv_param["pad"]
    out_pad = np.zeros((N, F, out_h + 2 * pad, out_w + 2 * pad), dtype=x.dtype)
    for n, c, h, v in product(range(N), range(C), range(H), range(W)):
        rows, cols = window_at(h, v, kh, kw, conv_param["stride"])
        out_pad[n, :, rows, cols] += x[n, c, h, v] * w[c]
    out = out_pad[:, :, pad:pad + out_h, pad:pad + out_w]
    return (out if b is None else out + b[None, :, None, None]), (x, w, b, conv_param)


def conv_transpose_backward_naive(dout, cache):
    """Reference backward pass: dx[n, c, h, w] = sum(dout_pad under the window of (h, w) * w[c]),
    dw[c] += x[n, c, h, w] * (that window), db = dout summed over N, H', W'. Returns ``(dx, dw, db)``."""
    x, w, b, conv_param = cache
    (N, C, H, W), (_, F, kh, kw), pad = x.shape, w.shape, conv_param["pad"]
    out_h, out_w = _output_hw(x.shape, w.shape, conv_param)
    check_shape("dout", dout, (N, F, out_h, out_w))
    dout_pad = np.zeros((N, F, out_h + 2 * pad, out_w + 2 * pad), dtype=dout.dtype)
    dout_pad[:, :, pad:pad + out_h, pad:pad + out_w] = dout
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for n, c, h, v in product(range(N), range(C), range(H), range(W)):
        rows, cols = window_at(h, v, kh, kw, conv_param["stride"])
        window = dout_pad[n, :, rows, cols]
        dx[n, c, h, v] = np.sum(window * w[c])
        dw[c] += x[n, c, h, v] * window
    return dx, dw, (None if b is None else dout.sum(axis=(0, 2, 3)))


def conv_transpose_forward_fast(x, w, b, conv_param):
    """Forward pass as W^T x and col2im; same arguments and output as the naive one, out
    channel-major (a view of col2im's buffer). cols = w.reshape(C, K)^T @ x_rows has shape
    (K, H W N), K = F kh kw; col2im adds them into out (the adjoint of im2col over out's shape).

    Returns ``(out, cache)`` with cache = (x, w, b, conv_param): x is what backward needs.
    """
    conv_param, out_h, out_w = _check_args(x, w, b, conv_param)
    N, (C, F, kh, kw) = x.shape[0], w.shape
    cols = w.reshape(C, -1).T @ as_rows(x)  # (K, H W N): the one GEMM
    out = col2im(cols, (N, F, out_h, out_w), kh, kw, conv_param["stride"], conv_param["pad"])
    if b is not None:
        out += b[None, :, None, None]
    return out, (x, w, b, conv_param)


def _dout_columns(dout, cache):
    """dout checked against the cache and unfolded by im2col: (K, H W N), the forward's cols layout."""
    x, w, _, conv_param = cache
    check_shape("dout", dout, (x.shape[0], w.shape[1], *_output_hw(x.shape, w.shape, conv_param)))
    return im2col(dout, w.shape[2], w.shape[3], conv_param["stride"], conv_param["pad"])


def _param_grads(dout, dcols, cache):
    x, w, b, _ = cache
    dw = (as_rows(x) @ dcols.T).reshape(w.shape).astype(w.dtype, copy=False)  # (C, M) @ (M, K)
    return dw, (None if b is None else as_rows(dout).sum(axis=1).astype(b.dtype, copy=False))


def conv_transpose_backward_fast(dout, cache):
    """Backward pass: dcols = im2col(dout) (K, H W N); dx_rows = w.reshape(C, K) @ dcols (a
    convolution of dout by w); dw = x_rows @ dcols^T; db = dout summed over N, H', W'.
    Returns ``(dx, dw, db)`` (dx channel-major, db None without bias)."""
    x, w, _, _ = cache
    dcols = _dout_columns(dout, cache)
    dw, db = _param_grads(dout, dcols, cache)
    N, C, H, W = x.shape
    dx = (w.reshape(C, -1) @ dcols).astype(x.dtype, copy=False).reshape(C, H, W, N).transpose(3, 0, 1, 2)
    return dx, dw, db


def conv_transpose_param_grads_fast(dout, cache):
    """``(dw, db)`` of :func:`conv_transpose_backward_fast` without dx's product."""
    return _param_grads(dout, _dout_columns(dout, cache), cache)


class ConvTranspose2d(OneDNNTwin, Layer):
    """Transposed convolution to ``filters`` output channels with a ``kernel`` (int or (kh, kw)),
    ``stride`` and ``pad``, as PyTorch's ``nn.ConvTranspose2d`` (W of shape (C_in, C_out, kh, kw))."""

    kind = "conv_transpose"
    regularized = ("W",)
    display_name = "ConvT"
    group = "Convolution"
    title = "Transposed Convolutional Layer"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x}$ is the convolution of the upstream gradient by the "
                     r"filters (im2col of dout, then $W \cdot dcols$); $\frac{\partial \mathcal{L}}{\partial W} = "
                     r"x \cdot dcols^T$; $\frac{\partial \mathcal{L}}{\partial b}$ sums dout over "
                     r"$N, H_{out}, W_{out}$.")
    rules = {"walkthrough": ("$2 C_{out} k_h k_w$ per input element (bias not counted)",
                             "twice the forward: input and weight gradients"),
             "exact": ("$W^T x$ GEMM ($C_{in}$ mul, $C_{in} - 1$ add per column entry), col2im additions, "
                       "1 bias add per output", "two GEMMs on im2col of dout, the bias sum")}

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
        return (N, self.filters, *_output_hw(input_shape, (None, None, self.kh, self.kw), self.conv_param, "input"))

    def param_shapes(self, input_shape):
        C = image_shape(self.kind, input_shape)[1]
        shapes = {"W": (C, self.filters, self.kh, self.kw), "b": (self.filters,)}
        return {k: shapes[k] for k in self.param_names}

    def init_params(self, input_shape, rng, weight_scale, dtype):
        # He's fan-in: an output pixel sums about C kh kw / s^2 weighted inputs; C kh kw is used
        shapes = self.param_shapes(input_shape)
        params = {"W": he_or_scaled_normal(rng, shapes["W"], shapes["W"][0] * self.kh * self.kw, weight_scale,
                                           dtype)}
        if self.bias:
            params["b"] = np.zeros(shapes["b"], dtype=dtype)
        return params

    def forward(self, x, params, mode="train"):
        return conv_transpose_forward_fast(x, params["W"], params["b"] if self.bias else None, self.conv_param)

    def _grads(self, dw, db):
        return {"W": dw, "b": db} if self.bias else {"W": dw}

    def backward(self, dout, cache):
        dx, dw, db = conv_transpose_backward_fast(dout, cache)
        return dx, self._grads(dw, db)

    def param_grads(self, dout, cache):
        return self._grads(*conv_transpose_param_grads_fast(dout, cache))

    # --- cost, from shapes alone -------------------------------------------------------
    def _sizes(self, input_shape):
        """``(N, C, F, H', W', K, M)``: K = F kh kw rows of the columns, M = N H W of them."""
        N, C, H, W = image_shape(self.kind, input_shape)
        _, F, out_h, out_w = self.output_shape(input_shape)
        return N, C, F, out_h, out_w, F * self.kh * self.kw, N * H * W

    def exact_terms(self, input_shape):
        # the fast kernels above, line by line
        N, C, F, Ho, Wo, K, M = self._sizes(input_shape)
        cols, out = r"(C_{out} k_h k_w) \times (N H W)", r"N \times C_{out} \times H_{out} \times W_{out}"
        # cols = w.T (K, C) @ x_rows (C, M); col2im adds each of the K M entries into out
        forward = [term(r"$cols = W^T x$, multiplications", cols + r" \times C_{in}", (K, M, C), "mul"),
                   term("additions", cols + r" \times (C_{in} - 1)", (K, M, C - 1), "add"),
                   term("col2im, each column entry added into the output", cols, (K, M), "add")]
        # dw = x_rows (C, M) @ dcols.T (M, K); db = dout summed over N H' W'
        backward_params = [term(r"$dW = x \cdot dcols^T$, multiplications", r"C_{in} \times " + cols, (C, K, M), "mul"),
                           term("additions", r"C_{in} \times (C_{out} k_h k_w) \times (N H W - 1)", (C, K, M - 1),
                                "add")]
        if self.bias:
            forward.append(term("bias additions, 1 per output", out, (N, F, Ho, Wo), "add"))
            backward_params.append(term("$db$: sum of dout over $N, H_{out}, W_{out}$",
                                        r"C_{out} \times (N H_{out} W_{out} - 1)", (F, N * Ho * Wo - 1), "add"))
        # dx_rows = w (C, K) @ dcols (K, M): each of the C M entries a dot product of length K
        return {"forward": forward,
                "backward_input": [term(r"$dx = W \cdot dcols$, multiplications", r"C_{in} \times (N H W) \times "
                                        r"(C_{out} k_h k_w)", (C, M, K), "mul"),
                                   term("additions", r"C_{in} \times (N H W) \times (C_{out} k_h k_w - 1)",
                                        (C, M, K - 1), "add")],
                "backward_params": backward_params}

    def walkthrough_terms(self, input_shape):
        # as the convolution's convention: a multiply and an add per weight and input element
        # (the bias not counted); backward twice the forward
        N, C, F, Ho, Wo, K, M = self._sizes(input_shape)
        product = Ops(mul=M * C * K, add=M * C * K)
        symbol = r"N \times H \times W \times C_{in} \times (2 \times C_{out} \times k_h \times k_w)"
        factors = (N, M // N, C, 2 * K)
        return {"forward": [term(f"for each input element, $C_{{out}} k_h k_w = {K}$ multiplications and {K} "
                                 "additions (scattered into the output)", symbol, factors, product)],
                "backward_input": [term("input gradient (a convolution of dout by the filters)", symbol, factors,
                                        product)],
                "backward_params": [term("weight gradient", symbol, factors, product)]}

    def mac_terms(self, input_shape):
        # fvcore / thop: N C_in H W C_out kh kw, a multiply-accumulate per weight and input element
        N, C, F, Ho, Wo, K, M = self._sizes(input_shape)
        return [term("a multiply-accumulate per weight and input element",
                     r"N \times H \times W \times C_{in} \times C_{out} \times k_h \times k_w", (N, M // N, C, K),
                     "mac")]

    def cache_bytes(self, input_shape, itemsize):
        # the cache is x itself and the parameters; but the output is a view of col2im's padded
        # buffer, whose border of pad pixels stays allocated with it
        return (self._padded_output(input_shape) - int(np.prod(self.output_shape(input_shape)))) * itemsize

    def _padded_output(self, input_shape):
        N, _, F, Ho, Wo, _, _ = self._sizes(input_shape)
        return N * F * (Ho + 2 * self.pad) * (Wo + 2 * self.pad)

    def footprint(self, input_shape, itemsize):
        N, C, F, Ho, Wo, K, M = self._sizes(input_shape)
        padded = self._padded_output(input_shape)  # col2im's buffer (the output is a view of it), im2col's
        grads = C * K + (F if self.bias else 0)
        # forward: the columns beside col2im's buffer; backward: dcols beside im2col's padded dout,
        # then dcols, dW, db and dx
        return Footprint(forward_peak=(K * M + padded) * itemsize,
                         backward_peak=(K * M + max(padded, grads + C * M)) * itemsize, keeps_input=True,
                         param_backward_peak=(K * M + max(padded, grads)) * itemsize)

    @staticmethod
    def _torch_forward(x, y, w):
        """Elements oneDNN's forward holds at once (measured): three of the output's size (as in the
        convolution, one more) and the reordered weight."""
        return 3 * y + w

    # --- the walkthrough's prose ----------------------------------------------------------
    def describe(self, input_shape):
        C = image_shape(self.kind, input_shape)[1]
        return (f"ConvT({C}→{self.filters}, k={fmt_kernel(self.kh, self.kw)}, s={self.stride}, p={self.pad}"
                f"{'' if self.bias else ', no bias'})")

    def given_lines(self, input_shape):
        return ([f"- **Filters**: $C_{{out}} = {self.filters}$"] + window_given(self.kh, self.kw, self.stride, self.pad)
                + [f"- **Bias**: {'yes' if self.bias else 'no (bias=False)'}"])

    def dims_lines(self, input_shape):
        out = self.output_shape(input_shape)
        return [f"$${axis}_{{out}} = ({size} - 1) \\times {self.stride} - 2({self.pad}) + {k} = {o}$$"
                for axis, size, k, o in per_axis(input_shape, out, self.kh, self.kw)]

    def to_torch(self, input_shape, params, nn):
        m = nn.ConvTranspose2d(input_shape[1], self.filters, (self.kh, self.kw), stride=self.stride,
                               padding=self.pad, bias=self.bias)
        m.weight.data = params["W"]
        if self.bias:
            m.bias.data = params["b"]
        return [m]

    def config(self):
        config = {"filters": self.filters, "kernel": kernel_spec(self.kh, self.kw), "stride": self.stride,
                  "pad": self.pad}
        if not self.bias:
            config["bias"] = False
        return config
