"""Affine (fully connected) layer: out = x.reshape(N, D) @ w + b."""

import numpy as np

from ..counts import LayerFlops, Ops, matmul_ops, sum_ops
from ._checks import as_float_param, check_float_array, check_int, check_shape
from .base import Footprint, Layer, he_or_scaled_normal


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
    """Fully connected layer with ``units`` outputs; flattens its input."""

    kind = "affine"
    param_names = ("W", "b")

    def __init__(self, units, name=None):
        super().__init__(name)
        self.units = check_int("units", units, 1)

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"affine: input must have a batch and a feature dimension, got shape {tuple(input_shape)}")
        return (input_shape[0], self.units)

    def param_shapes(self, input_shape):
        D = int(np.prod(input_shape[1:]))
        return {"W": (D, self.units), "b": (self.units,)}

    def init_params(self, input_shape, rng, weight_scale, dtype):
        shapes = self.param_shapes(input_shape)
        D = shapes["W"][0]
        return {
            "W": he_or_scaled_normal(rng, shapes["W"], D, weight_scale, dtype),
            "b": np.zeros(shapes["b"], dtype=dtype),
        }

    def forward(self, x, params, mode="train"):
        return affine_forward(x, params["W"], params["b"])

    def backward(self, dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, {"W": dw, "b": db}

    def param_grads(self, dout, cache):
        dw, db = affine_param_grads(dout, cache)
        return {"W": dw, "b": db}

    # cost: x (N, D) @ W (D, M) + b, then dout @ W.T, x.T @ dout and a sum over the batch
    def exact_flops(self, input_shape):
        N, D, M = input_shape[0], int(np.prod(input_shape[1:])), self.units
        return LayerFlops(
            forward=matmul_ops(N, D, M) + Ops(add=N * M),
            backward_input=matmul_ops(N, M, D),
            backward_params=matmul_ops(D, N, M) + sum_ops(M, N),
        )

    def walkthrough_flops(self, input_shape):
        # Seed 001: 2 * in per output forward; backward both products at 2 per MAC plus 1 per dout for db.
        N, D, M = input_shape[0], int(np.prod(input_shape[1:])), self.units
        product = Ops(mul=N * D * M, add=N * D * M)
        return LayerFlops(forward=product, backward_input=product, backward_params=product + Ops(add=N * M))

    def macs(self, input_shape):
        return input_shape[0] * int(np.prod(input_shape[1:])) * self.units

    def footprint(self, input_shape, itemsize):
        # forward: the product x @ W beside the output (adding the broadcast bias cannot reuse
        # the product); backward: dx, dW and db (without dx: dW and db). The cache is x.
        N, D, M = input_shape[0], int(np.prod(input_shape[1:])), self.units
        return Footprint(forward_peak=2 * N * M * itemsize, backward_peak=(N * D + D * M + M) * itemsize,
                         keeps_input=True, param_backward_peak=(D * M + M) * itemsize)

    def config(self):
        return {"units": self.units}
