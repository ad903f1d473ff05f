"""Elementwise activations: ReLU and the logistic sigmoid."""

import numpy as np

from ..counts import LayerFlops, Ops
from ._checks import check_float_array, check_shape
from ._threads import elementwise
from .base import Footprint, Layer


def relu_forward(x):
    """out = max(x, 0), any shape, laid out like x. Returns ``(out, cache)`` with cache = x.

    Large inputs are split over threads (:func:`._threads.elementwise`).
    """
    check_float_array("x", x)
    return elementwise(np.maximum, np.empty_like(x), x, 0), x


def _masked(dout, x, out):
    np.multiply(dout, x > 0, out=out)


def relu_backward(dout, cache):
    """dx = dout * (x > 0), laid out like x; the subgradient at exactly 0 is taken as 0.

    Multiplying by the boolean mask is exact and about 6x faster than np.where.
    """
    x = cache
    check_shape("dout", dout, x.shape)
    return elementwise(_masked, np.empty_like(x), dout, x)


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)), any shape. Returns ``(out, cache)`` with cache = out.

    For x below about -88 (float32) exp(-x) overflows to inf and 1 / (1 + inf) is
    exactly 0, the correct limit, so the overflow warning is silenced.
    """
    check_float_array("x", x)
    with np.errstate(over="ignore"):
        out = 1 / (1 + np.exp(-x))
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout * s * (1 - s), where s is the forward output."""
    s = cache
    check_shape("dout", dout, s.shape)
    return (dout * s * (1 - s)).astype(s.dtype, copy=False)


def _elements(shape):
    return int(np.prod(shape))


class ReLU(Layer):
    kind = "relu"

    def exact_flops(self, input_shape):
        # forward: max(x, 0), one comparison; backward: the mask x > 0 and dout * mask
        n = _elements(input_shape)
        return LayerFlops(forward=Ops(cmp=n), backward_input=Ops(cmp=n, mul=n))

    def walkthrough_flops(self, input_shape):
        # Seed 001: one comparison forward, one multiplication by the indicator backward.
        n = _elements(input_shape)
        return LayerFlops(forward=Ops(cmp=n), backward_input=Ops(mul=n))

    def footprint(self, input_shape, itemsize):
        # forward: the output; backward: the boolean mask x > 0 (1 byte each) and dx. The cache is x.
        n = _elements(input_shape)
        return Footprint(forward_peak=n * itemsize, backward_peak=n * (itemsize + 1), keeps_input=True)

    def forward(self, x, params, mode="train"):
        return relu_forward(x)

    def backward(self, dout, cache):
        return relu_backward(dout, cache), {}


class Sigmoid(Layer):
    kind = "sigmoid"

    def exact_flops(self, input_shape):
        # forward: -x, exp, 1 + e, 1 / (.); backward: 1 - s, dout * s, (.) * (1 - s)
        n = _elements(input_shape)
        return LayerFlops(forward=Ops(add=2 * n, special=n, div=n), backward_input=Ops(mul=2 * n, add=n))

    walkthrough_flops = exact_flops  # seed 001 has no sigmoid; its exact count stands in

    def footprint(self, input_shape, itemsize):
        # forward: -x beside exp(-x), then 1 + e (reusing it) beside the output; backward: dout * s
        # beside 1 - s, their product reusing the first as dx. The cache is the output.
        n = _elements(input_shape)
        return Footprint(forward_peak=2 * n * itemsize, backward_peak=2 * n * itemsize, keeps_output=True)

    def forward(self, x, params, mode="train"):
        return sigmoid_forward(x)

    def backward(self, dout, cache):
        return sigmoid_backward(dout, cache), {}
