"""Attention: ``softmax`` over the last axis, ``matmul``, the batched product of two activations,
and ``multihead_attention``, a transformer's self-attention with PyTorch's parameters.

Multi-head self-attention on tokens x (N, L, D) with h heads of d = D / h features
(Vaswani et al. 2017; ``nn.MultiheadAttention(D, h, batch_first=True)(x, x, x)``)::

    [q k v] = x W_in^T + b_in           W_in = in_proj_weight (3D, D), b_in = in_proj_bias (3D,)
    q, k, v split into h heads          (N, h, L, d) each: head j is features j d ... (j + 1) d - 1
    P = softmax(q k^T / sqrt(d))        (N, h, L, L), over the last axis
    c = P v, heads side by side again   (N, L, D)
    y = c W_out^T + b_out               W_out = out_proj.weight (D, D), b_out = out_proj.bias

The weights keep PyTorch's layout and names, so that a torchvision model's
``encoder.layers.encoder_layer_0.self_attention.in_proj_weight`` is this layer's
parameter of the same name. The query is scaled in place (N L D multiplications,
fewer than the scores' N h L^2) and the scores become P in their own buffer.
Backward, with g = dL/dy, written out product by product::

    dW_out = g^T c,  db_out = sum g,  dc = g W_out
    dv = P^T dc,  dP = dc v^T,  dS = P (dP - rowsum(dP P))      (S the scaled scores)
    dq = dS k / sqrt(d),  dk = dS^T (q / sqrt(d))
    dW_in = d[q k v]^T x,  db_in = sum d[q k v],  dx = d[q k v] W_in

Only dx is the input gradient: every other product is needed for the weights' gradients.
"""

import math

import numpy as np

from ..counts import term
from ._checks import check_float_array, check_int, check_shape
from ._text import elements, n, per_element
from .base import Footprint, Layer, Saved, he_or_scaled_normal, no_bytes, no_macs, saves_output, torch_output_then_dx

__all__ = ["Softmax", "Matmul", "MultiheadAttention", "softmax_forward", "softmax_backward", "matmul_forward",
           "matmul_backward", "multihead_attention_forward", "multihead_attention_backward"]


# --- softmax over the last axis -------------------------------------------------------------
def _exp_normalized(z):
    """In place: z, already shifted by its row maxima, becomes exp(z) / sum(exp(z)) along the last axis."""
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _rowwise_dot(a, b):
    """sum(a * b) over the last axis, kept as an axis of size 1, with no product array (einsum)."""
    letters = "abcdefgh"[:a.ndim]
    return np.einsum(f"{letters},{letters}->{letters[:-1]}", a, b)[..., None]


def softmax_forward(x):
    """out = exp(x - max) / sum(exp(x - max)) along the last axis (the maximum subtracted, so that
    exp cannot overflow), any rank >= 2. Returns ``(out, cache)``, cache = out."""
    check_float_array("x", x, min_ndim=2)
    out = _exp_normalized(x - x.max(axis=-1, keepdims=True))
    return out, out


def softmax_backward(dout, cache):
    """dx = y (dout - sum(dout y)), sums along the last axis, y = softmax(x)."""
    y = cache
    check_shape("dout", dout, y.shape)
    dx = dout - _rowwise_dot(dout, y)
    dx *= y
    return dx


def _softmax_terms(shape, rows_symbol, width_symbol, label=""):
    """The forward count of a softmax over the last axis of ``shape``."""
    rows, width = elements(shape[:-1]), shape[-1]
    each = rf"{rows_symbol} \times {width_symbol}"
    return [term(f"{label}row maxima", rf"{rows_symbol} \times ({width_symbol} - 1)", (rows, width - 1), "cmp"),
            term(f"{label}minus the maximum", each, shape, "add"),
            term(f"{label}exp", each, shape, "special"),
            term(f"{label}row sums", rf"{rows_symbol} \times ({width_symbol} - 1)", (rows, width - 1), "add"),
            term(f"{label}divisions by the sum", each, shape, "div")]


def _softmax_backward_terms(shape, rows_symbol, width_symbol, label=""):
    """The count of :func:`softmax_backward` (and of attention's, on the scores)."""
    rows, width = elements(shape[:-1]), shape[-1]
    each = rf"{rows_symbol} \times {width_symbol}"
    return [term(f"{label}row dot products $dout \\cdot y$: multiplications", each, shape, "mul"),
            term(f"{label}their sums", rf"{rows_symbol} \times ({width_symbol} - 1)", (rows, width - 1), "add"),
            term(f"{label}minus the dot product", each, shape, "add"),
            term(f"{label}times $y$", each, shape, "mul")]


class Softmax(Layer):
    """softmax over the last axis (a layer, not the loss: attention's weights), any rank >= 2."""

    kind = "softmax"
    display_name = "Softmax"
    group = "Softmax"
    title = "Softmax over the last axis"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = y \odot \left(\frac{\partial \mathcal{L}}{\partial y}"
                     r" - \sum_j \frac{\partial \mathcal{L}}{\partial y_j} y_j\right)$, sums along the last axis.")
    rules = {"walkthrough": ("as `exact`", "as `exact`"),
             "exact": ("row maxima, the shift, exp, row sums, the division", "a row dot product, a subtraction, "
                       "a multiplication per element")}
    mac_terms = no_macs
    cache_bytes = no_bytes  # the cache is the output

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"softmax: input must have a batch and a feature dimension, got {tuple(input_shape)}")
        return tuple(input_shape)

    def exact_terms(self, input_shape):
        s = self.output_shape(input_shape)
        return {"forward": _softmax_terms(s, "R", "K"), "backward_input": _softmax_backward_terms(s, "R", "K")}

    walkthrough_terms = exact_terms

    def footprint(self, input_shape, itemsize):
        # forward: x - max, made into the output in place, beside the row maxima or sums; backward: dx
        # beside the row dot products (a row's values may be few: 4 scores)
        size = (elements(input_shape) + elements(input_shape[:-1])) * itemsize
        return Footprint(forward_peak=size, backward_peak=size, keeps_output=True)

    torch_saved = saves_output  # SoftmaxBackward0: y (dout - sum(dout y)) from the result
    torch_footprint = torch_output_then_dx

    def given_lines(self, input_shape):
        return [f"- **Operation**: softmax over the last axis: $R = {n(elements(input_shape[:-1]))}$ rows of "
                f"$K = {n(input_shape[-1])}$ values"]

    def to_torch(self, input_shape, params, nn):
        return [nn.Softmax(dim=-1)]

    def forward(self, x, params, mode="train"):
        return softmax_forward(x)

    def backward(self, dout, cache):
        return softmax_backward(dout, cache), {}


# --- matmul: the product of two activations ----------------------------------------------------
def _check_pair(a_shape, b_shape):
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    if len(a_shape) < 3 or len(a_shape) != len(b_shape) or a_shape[:-2] != b_shape[:-2] or a_shape[-1] != b_shape[-2]:
        raise ValueError(f"matmul: shapes {a_shape} and {b_shape} do not multiply: expected (N, ..., M, K) and "
                         "(N, ..., K, P), the same leading axes")
    return a_shape, b_shape


def matmul_forward(xs):
    """out = a @ b for inputs [a (N, ..., M, K), b (N, ..., K, P)]: (N, ..., M, P), one matrix
    product per leading index. Returns ``(out, cache)``, cache = (a, b)."""
    if not isinstance(xs, (list, tuple)) or len(xs) != 2:
        raise ValueError(f"matmul: expected a list of 2 inputs, got {type(xs).__name__}")
    a, b = (check_float_array(f"inputs[{i}]", x) for i, x in enumerate(xs))
    _check_pair(a.shape, b.shape)
    return a @ b, (a, b)


def matmul_backward(dout, cache):
    """[da, db] = [dout @ b^T, a^T @ dout], transposes of the last two axes."""
    a, b = cache
    check_shape("dout", dout, a.shape[:-1] + b.shape[-1:])
    return [dout @ b.swapaxes(-1, -2), a.swapaxes(-1, -2) @ dout]


class Matmul(Layer):
    """The batched product of two activations, as ``torch.matmul`` on inputs of one rank:
    [a (N, ..., M, K), b (N, ..., K, P)] to (N, ..., M, P). No parameters."""

    kind = "matmul"
    display_name = "MatMul"
    group = "Matrix product"
    title = "Matrix product of two activations"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial a} = \frac{\partial \mathcal{L}}{\partial y} b^T$; "
                     r"$\frac{\partial \mathcal{L}}{\partial b} = a^T \frac{\partial \mathcal{L}}{\partial y}$.")
    rules = {"walkthrough": ("as `exact`", "as `exact`"),
             "exact": ("$K$ mul, $K - 1$ add per output", "the two input gradients' products")}

    def _sizes(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) != 2:
            raise ValueError(f"matmul takes 2 inputs, got {input_shape!r}")
        a, b = _check_pair(*input_shape)
        return elements(a[:-2]), a[-2], a[-1], b[-1]

    def output_shape(self, input_shape):
        self._sizes(input_shape)
        a, b = input_shape
        return tuple(a[:-1]) + tuple(b[-1:])

    def exact_terms(self, input_shape):
        B, M, K, P = self._sizes(input_shape)
        return {"forward": [term("$a b$, multiplications", r"B \times M \times P \times K", (B, M, P, K), "mul"),
                            term("additions", r"B \times M \times P \times (K - 1)", (B, M, P, K - 1), "add")],
                "backward_input": [
                    term(r"$da = dout \cdot b^T$, multiplications", r"B \times M \times K \times P", (B, M, K, P), "mul"),
                    term("additions", r"B \times M \times K \times (P - 1)", (B, M, K, P - 1), "add"),
                    term(r"$db = a^T \cdot dout$, multiplications", r"B \times K \times P \times M", (B, K, P, M), "mul"),
                    term("additions", r"B \times K \times P \times (M - 1)", (B, K, P, M - 1), "add")]}

    walkthrough_terms = exact_terms

    def mac_terms(self, input_shape):
        B, M, K, P = self._sizes(input_shape)
        return [term("a multiply-accumulate per output and contracted index", r"B \times M \times P \times K",
                     (B, M, P, K), "mac")]

    def backward_mac_terms(self, input_shape):
        B, M, K, P = self._sizes(input_shape)
        return {"backward_input": [term(r"$da = dout \cdot b^T$", r"B \times M \times K \times P", (B, M, K, P), "mac"),
                                   term(r"$db = a^T \cdot dout$", r"B \times K \times P \times M", (B, K, P, M), "mac")]}

    cache_bytes = no_bytes  # the cache is the two inputs

    def footprint(self, input_shape, itemsize):
        # forward: the product; backward: da and db. The cache keeps both inputs.
        a, b = _check_pair(*input_shape)
        return Footprint(forward_peak=elements(self.output_shape(input_shape)) * itemsize,
                         backward_peak=(elements(a) + elements(b)) * itemsize, keeps_input=True)

    def torch_saved(self, input_shape, dtype):
        """``a @ b`` saves both factors."""
        return [Saved(f"input{k}", tuple(shape), np.dtype(dtype).name) for k, shape in enumerate(input_shape)]

    def torch_footprint(self, input_shape, itemsize):
        # forward: the product; backward: da and db
        a, b = _check_pair(*input_shape)
        return Footprint(forward_peak=elements(self.output_shape(input_shape)) * itemsize,
                         backward_peak=(elements(a) + elements(b)) * itemsize)

    def describe(self, input_shape):
        B, M, K, P = self._sizes(input_shape)
        return f"MatMul(({n(M)}×{n(K)}) · ({n(K)}×{n(P)}))"

    def given_lines(self, input_shape):
        B, M, K, P = self._sizes(input_shape)
        return [f"- **Products**: $B = {n(B)}$ (every leading index, the batch included) of "
                f"$({n(M)} \\times {n(K)}) \\cdot ({n(K)} \\times {n(P)})$"]

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import function_module
        return [function_module("MatMul", lambda xs: xs[0] @ xs[1])]

    def forward(self, x, params, mode="train"):
        return matmul_forward(x)

    def backward(self, dout, cache):
        return matmul_backward(dout, cache), {}


# --- multi-head self-attention ----------------------------------------------------------------
def _heads(qkv, N, L, heads):
    """q, k, v of the (N L, 3D) projections as (N, h, L, d) views, heads split as PyTorch splits them."""
    d = qkv.shape[1] // (3 * heads)
    return qkv.reshape(N, L, 3, heads, d).transpose(2, 0, 3, 1, 4)


def _check_attention(x, in_w, in_b, out_w, out_b, heads):
    check_float_array("x", x, ndim=3)
    D = x.shape[2]
    if D % heads:
        raise ValueError(f"multihead_attention: {heads} heads must divide the {D} features of x (x.shape[2])")
    for name, p, shape in (("in_proj_weight", in_w, (3 * D, D)), ("in_proj_bias", in_b, (3 * D,)),
                           ("out_proj.weight", out_w, (D, D)), ("out_proj.bias", out_b, (D,))):
        check_float_array(name, p)
        check_shape(name, p, shape)


def multihead_attention_forward(x, in_w, in_b, out_w, out_b, heads):
    """Multi-head self-attention of tokens x (N, L, D), as ``nn.MultiheadAttention(D, heads,
    batch_first=True)(x, x, x)`` with PyTorch's parameters (see the module docstring).
    Returns ``(out, cache)``, out (N, L, D)."""
    _check_attention(x, in_w, in_b, out_w, out_b, heads)
    N, L, D = x.shape
    x2 = x.reshape(N * L, D)
    qkv = x2 @ in_w.T
    qkv += in_b
    q, k, v = _heads(qkv, N, L, heads)
    q *= 1 / math.sqrt(D // heads)  # the scaled query, in qkv's buffer
    p = q @ k.swapaxes(-1, -2)
    p -= p.max(axis=-1, keepdims=True)
    _exp_normalized(p)
    context = (p @ v).transpose(0, 2, 1, 3).reshape(N * L, D)  # the heads side by side: a copy
    out = context @ out_w.T
    out += out_b
    return out.reshape(N, L, D), (x2, qkv, p, context, in_w, out_w, heads)


def multihead_attention_backward(dout, cache, input_grad=True):
    """Backward of :func:`multihead_attention_forward`: ``(dx, grads)``, grads keyed by parameter
    name; dx is None without ``input_grad`` (its product is skipped)."""
    x2, qkv, p, context, in_w, out_w, heads = cache
    NL, D = x2.shape
    N, L = p.shape[0], p.shape[2]
    check_shape("dout", dout, (N, L, D))
    g = dout.reshape(NL, D)
    grads = {"out_proj.weight": g.T @ context, "out_proj.bias": g.sum(axis=0)}
    dqkv = np.empty_like(qkv)
    dq, dk, dv = _heads(dqkv, N, L, heads)
    ds = _attention_weights_grad(g @ out_w, p, qkv, N, L, heads, dv)
    q, k, _ = _heads(qkv, N, L, heads)
    np.matmul(ds, k, out=dq)
    dq *= 1 / math.sqrt(D // heads)
    np.matmul(ds.swapaxes(-1, -2), q, out=dk)
    del ds
    grads.update({"in_proj_weight": dqkv.T @ x2, "in_proj_bias": dqkv.sum(axis=0)})
    dx = (dqkv @ in_w).reshape(N, L, D) if input_grad else None
    return dx, grads


def _attention_weights_grad(dcontext, p, qkv, N, L, heads, dv):
    """dv = P^T dc (into ``dv``) and the gradient of the scaled scores, dS = P (dP - rowsum(dP P)) with
    dP = dc v^T, in dP's buffer; dc (N L, D) is let go when this returns."""
    dc = dcontext.reshape(N, L, heads, -1).transpose(0, 2, 1, 3)
    v = _heads(qkv, N, L, heads)[2]
    np.matmul(p.swapaxes(-1, -2), dc, out=dv)
    ds = dc @ v.swapaxes(-1, -2)
    ds -= _rowwise_dot(ds, p)
    ds *= p
    return ds


class MultiheadAttention(Layer):
    """Multi-head self-attention of (N, L, D) tokens with ``heads`` heads, PyTorch's
    ``nn.MultiheadAttention(D, heads, batch_first=True)`` applied as ``(x, x, x)`` (no mask, no
    dropout), with its parameters' names and layouts."""

    kind = "multihead_attention"
    param_names = ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")
    regularized = ("in_proj_weight", "out_proj.weight")
    display_name = "Attention"
    group = "Self-attention"
    title = "Multi-head Self-attention"
    gradient_text = (r"Product by product: $dW_{out} = g^T c$, $dc = g W_{out}$; $dv = P^T dc$, $dP = dc\, v^T$, "
                     r"$dS = P \odot (dP - \mathrm{rowsum}(dP \odot P))$; $dq = dS\, k / \sqrt{d}$, "
                     r"$dk = dS^T q / \sqrt{d}$; $dW_{in} = d[q k v]^T x$, $dx = d[q k v]\, W_{in}$.")
    rules = {"walkthrough": ("as `exact`", "as `exact`"),
             "exact": ("the projections, the scores, softmax, the weighted sum, as implemented",
                       "every product of the backward, softmax's, the bias sums")}

    def __init__(self, heads, name=None):
        super().__init__(name)
        self.heads = check_int("heads", heads, 1)

    def _sizes(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"multihead_attention: input must be tokens of shape (N, L, D), got {tuple(input_shape)}")
        N, L, D = input_shape
        if D % self.heads:
            raise ValueError(f"multihead_attention: {self.heads} heads must divide the {D} features")
        return N, L, D, self.heads, D // self.heads

    def output_shape(self, input_shape):
        self._sizes(input_shape)
        return tuple(input_shape)

    def param_shapes(self, input_shape):
        D = self._sizes(input_shape)[2]
        return {"in_proj_weight": (3 * D, D), "in_proj_bias": (3 * D,), "out_proj.weight": (D, D),
                "out_proj.bias": (D,)}

    def init_params(self, input_shape, rng, weight_scale, dtype):
        shapes = self.param_shapes(input_shape)
        D = shapes["out_proj.bias"][0]
        return {k: he_or_scaled_normal(rng, s, D, weight_scale, dtype) if k.endswith("weight")
                else np.zeros(s, dtype=dtype) for k, s in shapes.items()}

    def forward(self, x, params, mode="train"):
        return multihead_attention_forward(x, *(params[k] for k in self.param_names), self.heads)

    def backward(self, dout, cache):
        return multihead_attention_backward(dout, cache)

    def param_grads(self, dout, cache):
        return multihead_attention_backward(dout, cache, input_grad=False)[1]

    # --- cost, from shapes alone: the kernels' products and elementwise passes, line by line.
    # T = N L tokens; the scores are N h L L, each head's products of d = D / h features.
    def _products(self, input_shape):
        """``{name: (label, symbol, outputs, contracted length)}`` of every matrix product."""
        N, L, D, h, d = self._sizes(input_shape)
        T = N * L
        return {"in": (r"$[q\,k\,v] = x W_{in}^T$", r"T \times 3D \times D", (T, 3 * D), D),
                "scores": (r"scores $q k^T$", r"N \times h \times L \times L \times d", (N, h, L, L), d),
                "context": (r"weighted sum $P v$", r"N \times h \times L \times d \times L", (N, h, L, d), L),
                "out": (r"$y = c W_{out}^T$", r"T \times D \times D", (T, D), D),
                "dW_out": (r"$dW_{out} = g^T c$", r"D \times D \times T", (D, D), T),
                "dc": (r"$dc = g W_{out}$", r"T \times D \times D", (T, D), D),
                "dv": (r"$dv = P^T dc$", r"N \times h \times L \times d \times L", (N, h, L, d), L),
                "dP": (r"$dP = dc\, v^T$", r"N \times h \times L \times L \times d", (N, h, L, L), d),
                "dq": (r"$dq = dS\, k$", r"N \times h \times L \times d \times L", (N, h, L, d), L),
                "dk": (r"$dk = dS^T q$", r"N \times h \times L \times d \times L", (N, h, L, d), L),
                "dW_in": (r"$dW_{in} = d[q k v]^T x$", r"3D \times D \times T", (3 * D, D), T),
                "dx": (r"$dx = d[q k v]\, W_{in}$", r"T \times D \times 3D", (T, D), 3 * D)}

    def _product_terms(self, input_shape, names):
        products, terms = self._products(input_shape), []
        for name in names:
            label, symbol, outputs, k = products[name]
            rest, length = symbol.rsplit(r" \times ", 1)  # the contracted length comes last
            terms += [term(f"{label}, multiplications", symbol, outputs + (k,), "mul"),
                      term("additions", rf"{rest} \times ({length} - 1)", outputs + (k - 1,), "add")]
        return terms

    def exact_terms(self, input_shape):
        N, L, D, h, d = self._sizes(input_shape)
        T, scores, tokens = N * L, (N, h, L, L), (N, L, D)
        forward = (self._product_terms(input_shape, ["in"])
                   + [term(r"$+ b_{in}$", r"T \times 3D", (T, 3 * D), "add"),
                      per_element(r"$q / \sqrt{d}$", tokens, "mul")]
                   + self._product_terms(input_shape, ["scores"])
                   + _softmax_terms(scores, r"N h L", "L", "softmax: ")
                   + self._product_terms(input_shape, ["context", "out"])
                   + [term(r"$+ b_{out}$", r"T \times D", (T, D), "add")])
        params = (self._product_terms(input_shape, ["dW_out"])
                  + [term(r"$db_{out}$: sums of g", r"D \times (T - 1)", (D, T - 1), "add")]
                  + self._product_terms(input_shape, ["dc", "dv", "dP"])
                  + _softmax_backward_terms(scores, r"N h L", "L", "softmax: ")
                  + self._product_terms(input_shape, ["dq"])
                  + [per_element(r"$dq / \sqrt{d}$", tokens, "mul")]
                  + self._product_terms(input_shape, ["dk", "dW_in"])
                  + [term(r"$db_{in}$: sums of $d[q k v]$", r"3D \times (T - 1)", (3 * D, T - 1), "add")])
        return {"forward": forward, "backward_input": self._product_terms(input_shape, ["dx"]),
                "backward_params": params}

    walkthrough_terms = exact_terms

    def _mac_terms(self, input_shape, names):
        products = self._products(input_shape)
        return [term(products[k][0], products[k][1], products[k][2] + (products[k][3],), "mac") for k in names]

    def mac_terms(self, input_shape):
        return self._mac_terms(input_shape, ["in", "scores", "context", "out"])

    def backward_mac_terms(self, input_shape):
        # every product but dx's serves the weights' gradients (FlopCounterMode, on PyTorch's math
        # attention, counts these same bmm and mm: two per forward product)
        return {"backward_input": self._mac_terms(input_shape, ["dx"]),
                "backward_params": self._mac_terms(input_shape, ["dW_out", "dc", "dv", "dP", "dq", "dk", "dW_in"])}

    def cache_bytes(self, input_shape, itemsize):
        # [q k v] (the query scaled), P and the heads' context side by side
        N, L, D, h, d = self._sizes(input_shape)
        return (4 * N * L * D + N * h * L * L) * itemsize

    def footprint(self, input_shape, itemsize):
        # forward: [q k v], P, and P v beside its copy with the heads side by side (or the context
        # beside the output); backward: dc, d[q k v] and dP at once, then d[q k v] and dx, and the
        # parameters' gradients. The cache keeps x (its (N L, D) view).
        N, L, D, h, d = self._sizes(input_shape)
        T, S = N * L * D, N * h * L * L
        return Footprint(forward_peak=(5 * T + S) * itemsize, backward_peak=(4 * T + S + 4 * D * D + 4 * D) * itemsize,
                         keeps_input=True)

    def torch_saved(self, input_shape, dtype):
        """``nn.MultiheadAttention`` (batch first, no weights returned) on the CPU: the input
        projection saves its input (a copy of x with the batch moved second, but for a batch
        of 1) and in_proj_weight; the fused attention kernel q, k, v (views of one projection),
        its output and each row's logsumexp; the output projection that output as (L N, D)
        rows (a view of it) and out_proj.weight."""
        dtype = np.dtype(dtype).name
        N, L, D, h, d = self._sizes(input_shape)
        heads = (N, h, L, d)
        x = Saved("input", tuple(input_shape), dtype) if N == 1 else Saved("x_copy", (L * N, D), dtype)
        return [x, Saved("in_proj_weight", (3 * D, D), dtype),
                *(Saved(name, heads, dtype) for name in ("q", "k", "v")),
                Saved("logsumexp", (N, h, L), dtype), Saved("attention", heads, dtype),
                Saved("attention_rows", (L * N, D), dtype, view_of="attention"),
                Saved("out_proj.weight", (D, D), dtype)]

    def torch_footprint(self, input_shape, itemsize):
        # forward (measured): the saved tensors, the output and three arrays of the logsumexp's
        # size beside them; backward: five of x's size at once (dx included) and the gradients
        N, L, D, h, d = self._sizes(input_shape)
        T, S = N * L * D, N * h * L
        saved = (3 + 1 + (N > 1)) * T + S
        params = sum(elements(s) for s in self.param_shapes(input_shape).values())
        return Footprint(forward_peak=(saved + T + 3 * S) * itemsize, backward_peak=(5 * T + params) * itemsize)

    # --- the walkthrough's prose --------------------------------------------------------------
    def describe(self, input_shape):
        N, L, D, h, d = self._sizes(input_shape)
        return f"Self-attention ({h} heads of {d}, {n(L)} tokens of {n(D)})"

    def given_lines(self, input_shape):
        N, L, D, h, d = self._sizes(input_shape)
        return [f"- **Tokens**: $L = {n(L)}$ of $D = {n(D)}$ features, $T = N L = {n(N * L)}$",
                f"- **Heads**: $h = {h}$ of $d = D / h = {d}$ features",
                r"- **Operation**: $y = \mathrm{softmax}(q k^T / \sqrt{d})\, v\, W_{out}^T + b_{out}$, "
                r"$[q\,k\,v] = x W_{in}^T + b_{in}$"]

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import function_module
        D = self._sizes(input_shape)[2]
        attention = nn.MultiheadAttention(D, self.heads, batch_first=True)
        for module, key in ((attention, "in_proj_weight"), (attention, "in_proj_bias"),
                            (attention.out_proj, "out_proj.weight"), (attention.out_proj, "out_proj.bias")):
            getattr(module, key.rsplit(".", 1)[-1]).data = params[key].clone()
        twin = function_module("SelfAttention", lambda x: attention(x, x, x, need_weights=False)[0])
        twin.attention = attention
        return [twin]

    def config(self):
        return {"heads": self.heads}
