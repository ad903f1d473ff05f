"""Elementwise activations: ReLU, leaky ReLU, the logistic sigmoid and tanh."""

import numpy as np

from ._checks import check_float_array, check_shape
from ._text import elements, per_element
from ._threads import elementwise
from .base import Footprint, Layer, no_bytes, no_macs

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "relu_forward", "relu_backward", "leaky_relu_forward",
           "leaky_relu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward"]


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


def _check_slope(negative_slope):
    """A slope in [0, 1): there max(x, slope x) is the leaky ReLU."""
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float, np.integer, np.floating)):
        raise TypeError(f"negative_slope must be a real number, got {negative_slope!r}")
    if not 0 <= negative_slope < 1:
        raise ValueError(f"negative_slope must lie in [0, 1), got {negative_slope}")
    return float(negative_slope)


def leaky_relu_forward(x, negative_slope=0.01):
    """out = x for x > 0, else negative_slope * x; computed as max(x, negative_slope * x), which
    is the same for a slope in [0, 1). Returns ``(out, cache)`` with cache = (x, negative_slope)."""
    check_float_array("x", x)
    slope = _check_slope(negative_slope)
    out = np.multiply(x, x.dtype.type(slope))
    return np.maximum(x, out, out=out), (x, slope)


def leaky_relu_backward(dout, cache):
    """dx = dout where x > 0, else negative_slope * dout (the subgradient at 0 is the slope)."""
    x, slope = cache
    check_shape("dout", dout, x.shape)
    return np.where(x > 0, dout, dout * x.dtype.type(slope))


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


def tanh_forward(x):
    """out = tanh(x), any shape. Returns ``(out, cache)`` with cache = out."""
    check_float_array("x", x)
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """dx = dout * (1 - t^2), where t is the forward output; computed in one array."""
    t = cache
    check_shape("dout", dout, t.shape)
    dx = np.multiply(t, t)
    np.subtract(1, dx, out=dx)
    dx *= dout
    return dx


class ReLU(Layer):
    kind = "relu"
    display_name = "ReLU"
    group = "Activation (ReLU)"
    title = "Activation Function"
    rule_label = "ReLU"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot "
                     r"\mathbb{1}_{x > 0}$.")
    rules = {"walkthrough": ("1 per element", "1 per element"),
             "exact": ("1 comparison per element", "1 comparison and 1 multiplication per element")}

    def exact_terms(self, input_shape):
        return {"forward": [per_element(r"$\max(x, 0)$, 1 comparison per element", input_shape, "cmp")],
                "backward_input": [per_element("the mask $x > 0$, 1 comparison per element", input_shape, "cmp"),
                                   per_element("$dout \\times$ mask, 1 multiplication per element", input_shape,
                                               "mul")]}

    def walkthrough_terms(self, input_shape):
        # Seed 001: one comparison forward, one multiplication by the indicator backward.
        return {"forward": [per_element("one comparison per element", input_shape, "cmp")],
                "backward_input": [per_element("multiplication by the indicator, 1 per element", input_shape, "mul")]}

    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the output; backward: the boolean mask x > 0 (1 byte each) and dx. The cache is x.
        n = elements(input_shape)
        return Footprint(forward_peak=n * itemsize, backward_peak=n * (itemsize + 1), keeps_input=True)

    def given_lines(self, input_shape):
        return [r"- **Function**: $\text{ReLU}(x) = \max(0, x)$"]

    def to_torch(self, input_shape, params, nn):
        return [nn.ReLU()]

    def forward(self, x, params, mode="train"):
        return relu_forward(x)

    def backward(self, dout, cache):
        return relu_backward(dout, cache), {}


class LeakyReLU(Layer):
    """max(x, negative_slope * x), as PyTorch's ``nn.LeakyReLU`` (slopes in [0, 1))."""

    kind = "leaky_relu"
    display_name = "LeakyReLU"
    group = "Activation (leaky ReLU)"
    title = "Activation Function"
    rule_label = "LeakyReLU"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y}$ where "
                     r"$x > 0$, else $\alpha \frac{\partial \mathcal{L}}{\partial y}$.")
    rules = {"walkthrough": ("as `exact`: 2 per element", "as `exact`: 2 per element"),
             "exact": (r"$\alpha x$ and a comparison per element", "a comparison and $\\alpha \\cdot dout$ per element")}

    def __init__(self, negative_slope=0.01, name=None):
        super().__init__(name)
        self.negative_slope = _check_slope(negative_slope)

    def exact_terms(self, input_shape):
        s = input_shape
        return {"forward": [per_element(r"$\alpha x$", s, "mul"), per_element(r"$\max(x, \alpha x)$", s, "cmp")],
                "backward_input": [per_element("the mask $x > 0$", s, "cmp"),
                                   per_element(r"$\alpha \cdot dout$", s, "mul")]}

    walkthrough_terms = exact_terms  # seed 001 has no leaky ReLU; its exact count stands in
    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: alpha x, maxed in place into the output; backward: the boolean mask x > 0
        # (1 byte each), alpha * dout and dx. The cache is x.
        n = elements(input_shape)
        return Footprint(forward_peak=n * itemsize, backward_peak=n * (2 * itemsize + 1), keeps_input=True)

    def given_lines(self, input_shape):
        return [f"- **Function**: $\\max(x, \\alpha x)$, $\\alpha = {self.negative_slope:g}$"]

    def describe(self, input_shape):
        return f"LeakyReLU({self.negative_slope:g})"

    def to_torch(self, input_shape, params, nn):
        return [nn.LeakyReLU(self.negative_slope)]

    def forward(self, x, params, mode="train"):
        return leaky_relu_forward(x, self.negative_slope)

    def backward(self, dout, cache):
        return leaky_relu_backward(dout, cache), {}

    def config(self):
        return {"negative_slope": self.negative_slope}


class Sigmoid(Layer):
    kind = "sigmoid"
    display_name = "Sigmoid"
    group = "Activation (sigmoid)"
    title = "Activation Function"
    rule_label = "Sigmoid"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot "
                     r"s (1 - s)$, $s$ the forward output.")
    rules = {"walkthrough": ("as `exact`: 4 per element", "as `exact`: 3 per element"),
             "exact": ("negation, exp, addition, division per element", "3 per element")}

    def exact_terms(self, input_shape):
        # forward: -x, exp, 1 + e, 1 / (.); backward: 1 - s, dout * s, (.) * (1 - s)
        s = input_shape
        return {"forward": [per_element("$-x$", s, "add"), per_element(r"$e^{-x}$", s, "special"),
                            per_element(r"$1 + e^{-x}$", s, "add"), per_element(r"$1 / (\cdot)$", s, "div")],
                "backward_input": [per_element("$1 - s$", s, "add"), per_element(r"$dout \cdot s$", s, "mul"),
                                   per_element(r"$(\cdot)(1 - s)$", s, "mul")]}

    walkthrough_terms = exact_terms  # seed 001 has no sigmoid; its exact count stands in
    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: -x beside exp(-x), then 1 + e (reusing it) beside the output; backward: dout * s
        # beside 1 - s, their product reusing the first as dx. The cache is the output.
        n = elements(input_shape)
        return Footprint(forward_peak=2 * n * itemsize, backward_peak=2 * n * itemsize, keeps_output=True)

    def given_lines(self, input_shape):
        return [r"- **Function**: $\sigma(x) = \frac{1}{1 + e^{-x}}$"]

    def to_torch(self, input_shape, params, nn):
        return [nn.Sigmoid()]

    def forward(self, x, params, mode="train"):
        return sigmoid_forward(x)

    def backward(self, dout, cache):
        return sigmoid_backward(dout, cache), {}


class Tanh(Layer):
    kind = "tanh"
    display_name = "Tanh"
    group = "Activation (tanh)"
    title = "Activation Function"
    rule_label = "Tanh"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot "
                     r"(1 - t^2)$, $t$ the forward output.")
    rules = {"walkthrough": ("as `exact`: 1 per element", "as `exact`: 3 per element"),
             "exact": ("tanh, 1 per element", "$t^2$, $1 - t^2$, $dout \\cdot (1 - t^2)$: 3 per element")}

    def exact_terms(self, input_shape):
        s = input_shape
        return {"forward": [per_element(r"$t = \tanh(x)$", s, "special")],
                "backward_input": [per_element("$t^2$", s, "mul"), per_element("$1 - t^2$", s, "add"),
                                   per_element(r"$dout \cdot (1 - t^2)$", s, "mul")]}

    walkthrough_terms = exact_terms  # seed 001 has no tanh; its exact count stands in
    mac_terms = no_macs
    cache_bytes = no_bytes

    def footprint(self, input_shape, itemsize):
        # forward: the output; backward: one array, t * t turned into dx in place. The cache is the output.
        n = elements(input_shape)
        return Footprint(forward_peak=n * itemsize, backward_peak=n * itemsize, keeps_output=True)

    def given_lines(self, input_shape):
        return [r"- **Function**: $\tanh(x) = \frac{e^x - e^{-x}}{e^x + e^{-x}}$"]

    def to_torch(self, input_shape, params, nn):
        return [nn.Tanh()]

    def forward(self, x, params, mode="train"):
        return tanh_forward(x)

    def backward(self, dout, cache):
        return tanh_backward(dout, cache), {}
