"""Affine (fully connected) layer: out = x.reshape(N, D) @ w + b; or, with ``flatten: false``, over
the last axis of (N, L, D) tokens as PyTorch's ``nn.Linear``: out = x @ w + b for every token."""

import numpy as np

from ..counts import Ops, term
from ._checks import as_float_param, check_float_array, check_int, check_shape
from ._text import n
from .base import Footprint, Layer, Saved, he_or_scaled_normal, no_bytes

__all__ = ["Affine", "affine_forward", "affine_backward", "affine_param_grads"]


def affine_forward(x, w, b):
    """Forward pass of an affine layer.

    - x: input of shape (N, d_1, ..., d_k), flattened to (N, D) with D = d_1 * ... * d_k
    - w: weights of shape (D, M)
    - b: biases of shape (M,)

    Returns ``(out, cache)``: out of shape (N, M), out = x_flat @ w + b; cache = (x, w, b).
    x_flat is a view of x, for a C-ordered x and for a channel-major one.
    """
    check_float_array("x", x, min_ndim=2)
    w, b = as_float_param("w", w, x), as_float_param("b", b, x)
    check_float_array("w", w, ndim=2)
    check_float_array("b", b, ndim=1)
    D = int(np.prod(x.shape[1:]))
    check_shape("w", w, (D, None))
    check_shape("b", b, (w.shape[1],))
    out = (x.reshape(x.shape[0], D) @ w + b).astype(x.dtype, copy=False)
    return out, (x, w, b)


def affine_backward(dout, cache):
    """Backward pass of an affine layer.

    - dout: upstream derivative of shape (N, M)
    - cache: (x, w, b) from :func:`affine_forward`

    Returns ``(dx, dw, db)`` of shapes x.shape, (D, M) and (M,):
    dx = dout @ w.T, dw = x_flat.T @ dout, db = sum of dout over the batch.
    dx is laid out like x: for a channel-major image batch (x_flat stored column by
    column) it is computed as (w @ dout.T).T, the same products, so that reshaping it
    back to x's shape is free.
    """
    x, w, b = cache
    dw, db = affine_param_grads(dout, cache)
    x_flat = x.reshape(x.shape[0], w.shape[0])
    if x_flat.flags.f_contiguous and not x_flat.flags.c_contiguous:
        # a flattened channel-major image batch: make dx column by column too, as (D, N)
        dx_flat = (w @ dout.T).T
    else:
        dx_flat = dout @ w.T
    return dx_flat.reshape(x.shape).astype(x.dtype, copy=False), dw, db


def affine_param_grads(dout, cache):
    """``(dw, db)`` of :func:`affine_backward` without dx: dw = x_flat.T @ dout, db = sum of dout."""
    x, w, b = cache
    check_shape("dout", dout, (x.shape[0], w.shape[1]))
    dw = (x.reshape(x.shape[0], w.shape[0]).T @ dout).astype(w.dtype, copy=False)
    return dw, dout.sum(axis=0).astype(b.dtype, copy=False)


class Affine(Layer):
    """Fully connected layer with ``units`` outputs. It flattens its input (N, d_1, ..., d_k) to
    (N, D); with ``flatten=False`` it applies to the last axis of (N, D) or (N, L, D) instead
    (``nn.Linear`` on tokens): the L N rows share the weights, computed as one (L N, D) product."""

    kind = "affine"
    param_names = ("W", "b")
    regularized = ("W",)
    display_name = "FC"
    group = "Fully Connected"
    title = "Fully Connected Layer"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial W} = x^T \cdot \frac{\partial \mathcal{L}}{\partial y}$; "
                     r"$\frac{\partial \mathcal{L}}{\partial b} = \sum_{i=1}^{N} \frac{\partial \mathcal{L}}{\partial y_i}$; "
                     r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot W^T$.")
    rules = {"walkthrough": (r"$2 D_{in}$ per output",
                             "both matrix products at 2 per MAC, plus the bias sum (1 per output gradient)"),
             "exact": (r"$D_{in}$ mul, $D_{in} - 1$ add, 1 bias add per output", "two matrix products and the bias sum")}

    def __init__(self, units, flatten=True, name=None):
        super().__init__(name)
        self.units = check_int("units", units, 1)
        if not isinstance(flatten, bool):
            raise TypeError(f"flatten must be true or false, got {flatten!r}")
        self.flatten = flatten

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"affine: input must have a batch and a feature dimension, got shape {tuple(input_shape)}")
        if self.flatten:
            return (input_shape[0], self.units)
        if len(input_shape) > 3:  # a channel-major image would be copied to rows: flatten it, or make tokens
            raise ValueError(f"affine with flatten: false takes (N, D) or (N, L, D), got shape {tuple(input_shape)}")
        return tuple(input_shape[:-1]) + (self.units,)

    def param_shapes(self, input_shape):
        D = self._sizes(input_shape)[1]
        return {"W": (D, self.units), "b": (self.units,)}

    def init_params(self, input_shape, rng, weight_scale, dtype):
        shapes = self.param_shapes(input_shape)
        D = shapes["W"][0]
        return {
            "W": he_or_scaled_normal(rng, shapes["W"], D, weight_scale, dtype),
            "b": np.zeros(shapes["b"], dtype=dtype),
        }

    def forward(self, x, params, mode="train"):
        if self.flatten:
            return affine_forward(x, params["W"], params["b"])
        check_float_array("x", x, min_ndim=2)
        out, cache = affine_forward(x.reshape(-1, x.shape[-1]), params["W"], params["b"])  # tokens as rows
        return out.reshape(x.shape[:-1] + (self.units,)), cache

    def _rows(self, dout):
        """dout as the (rows, M) matrix the kernels take (tokens as rows without flatten)."""
        return dout if self.flatten else dout.reshape(-1, dout.shape[-1])

    def backward(self, dout, cache):
        dx, dw, db = affine_backward(self._rows(dout), cache)
        return (dx if self.flatten else dx.reshape(dout.shape[:-1] + (-1,))), {"W": dw, "b": db}

    def param_grads(self, dout, cache):
        dw, db = affine_param_grads(self._rows(dout), cache)
        return {"W": dw, "b": db}

    # --- cost, from shapes alone: x (N, D) @ W (D, M) + b, then dout @ W.T, x.T @ dout and
    # a sum over the batch; without flatten, the rows are the N L tokens (N below)
    def _sizes(self, input_shape):
        self.output_shape(input_shape)  # checks the rank
        if self.flatten:
            return input_shape[0], int(np.prod(input_shape[1:])), self.units
        return int(np.prod(input_shape[:-1])), input_shape[-1], self.units

    def exact_terms(self, input_shape):
        N, D, M = self._sizes(input_shape)
        return {"forward": [term(r"$x W$, multiplications", r"N \times D_{out} \times D_{in}", (N, M, D), "mul"),
                            term("additions", r"N \times D_{out} \times (D_{in} - 1)", (N, M, D - 1), "add"),
                            term("bias additions", r"N \times D_{out}", (N, M), "add")],
                "backward_input": [
                    term(r"$dx = dout \cdot W^T$, multiplications", r"N \times D_{in} \times D_{out}", (N, D, M), "mul"),
                    term("additions", r"N \times D_{in} \times (D_{out} - 1)", (N, D, M - 1), "add")],
                "backward_params": [
                    term(r"$dW = x^T \cdot dout$, multiplications", r"D_{in} \times D_{out} \times N", (D, M, N), "mul"),
                    term("additions", r"D_{in} \times D_{out} \times (N - 1)", (D, M, N - 1), "add"),
                    term("$db$: sum of dout over the batch", r"D_{out} \times (N - 1)", (M, N - 1), "add")]}

    def walkthrough_terms(self, input_shape):
        # Seed 001: 2 * in per output forward; backward both products at 2 per MAC plus 1 per dout for db.
        N, D, M = self._sizes(input_shape)
        two = Ops(mul=N * D * M, add=N * D * M)
        per_output = (f"For each output, ${n(D)}$ multiplications and ${n(D)}$ additions (the dot product; the bias "
                      "addition is not counted)")
        return {"forward": [term(per_output, r"N \times D_{out} \times (2 \times D_{in})", (N, M, 2 * D), two)],
                "backward_input": [term(r"input gradient $dout \cdot W^T$", r"N \times D_{in} \times 2 \times D_{out}",
                                        (N, D, 2 * M), two)],
                "backward_params": [term(r"weight gradient $x^T \cdot dout$",
                                         r"D_{in} \times D_{out} \times 2 \times N", (D, M, 2 * N), two),
                                    term("bias gradient, a sum over the batch", r"D_{out} \times N", (M, N), "add")]}

    def mac_terms(self, input_shape):
        N, D, M = self._sizes(input_shape)
        return [term("a multiply-accumulate per weight and output", r"N \times D_{out} \times D_{in}", (N, M, D),
                     "mac")]

    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the product x @ W beside the output (adding the broadcast bias cannot reuse
        # the product); backward: dx, dW and db (without dx: dW and db). The cache is x.
        N, D, M = self._sizes(input_shape)
        return Footprint(forward_peak=2 * N * M * itemsize, backward_peak=(N * D + D * M + M) * itemsize,
                         keeps_input=True, param_backward_peak=(D * M + M) * itemsize)

    def torch_saved(self, input_shape, dtype):
        """Linear is ``addmm(b, x, W^T)``: it saves x (a flattened view of the input) and the weight."""
        dtype = np.dtype(dtype).name
        return [Saved("input", tuple(input_shape), dtype), Saved("W", self.param_shapes(input_shape)["W"], dtype)]

    def torch_footprint(self, input_shape, itemsize):
        # forward: the output (addmm writes the bias and the product into it); backward: dx = dout W,
        # dW = x^T dout, taken as the weight's .grad without a copy, and db
        N, D, M = self._sizes(input_shape)
        return Footprint(forward_peak=N * M * itemsize, backward_peak=(N * D + D * M + M) * itemsize,
                         param_backward_peak=(D * M + M) * itemsize)

    # --- the walkthrough's prose ----------------------------------------------------------
    def describe(self, input_shape):
        per_token = "" if self.flatten or len(input_shape) == 2 else ", per token"
        return f"Fully Connected ({n(self._sizes(input_shape)[1])} → {n(self.units)}{per_token})"

    def given_lines(self, input_shape):
        N, D, M = self._sizes(input_shape)
        flat = "" if len(input_shape) == 2 else (f" (flattened to $({N}, {D})$)" if self.flatten else
                                                 f" (each of the $N L = {n(N)}$ tokens, as the rows $N$)")
        return [f"- **Input features**: $D_{{in}} = {n(D)}${flat}", f"- **Output features**: $D_{{out}} = {n(M)}$",
                "- **Operation**: $y = xW + b$"]

    def param_lines(self, input_shape, itemsize):
        N, D, M = self._sizes(input_shape)
        total = D * M + M
        return [f"- **Weights**: $D_{{in}} \\times D_{{out}} = {n(D)} \\times {n(M)} = {n(D * M)}$",
                f"- **Bias**: $D_{{out}} = {n(M)}$",
                f"- **Total**: ${n(D * M)} + {n(M)} = {n(total)}$ parameters = **{n(total * itemsize)} bytes**"]

    def to_torch(self, input_shape, params, nn):
        # tallynet keeps W as (D, M) for x @ W; Linear's weight is (M, D)
        m = nn.Linear(self._sizes(input_shape)[1], self.units)
        m.weight.data, m.bias.data = params["W"].T.contiguous(), params["b"]
        return [nn.Flatten(), m] if self.flatten else [m]

    def config(self):
        # flatten appears only when false: the canonical specs of existing models (and checkpoints) stay as they were
        return {"units": self.units} if self.flatten else {"units": self.units, "flatten": False}
