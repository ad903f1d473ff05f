"""Elementwise activations: ReLU, leaky ReLU, the logistic sigmoid, tanh, and the piecewise
linear ones of mobile networks, ReLU6, hard sigmoid and hard swish (SiLU and GELU are in
:mod:`.smooth_activations`)."""

import numpy as np

from ._checks import check_float_array, check_shape
from ..counts import term
from ._text import dims_symbol, elements, per_element, times
from ._threads import elementwise
from .base import Footprint, Layer, no_bytes, no_macs, saves_input, saves_output, torch_output_then_dx

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "ReLU6", "Hardsigmoid", "Hardswish", "relu_forward",
           "relu_backward", "leaky_relu_forward", "leaky_relu_backward", "sigmoid_forward", "sigmoid_backward",
           "tanh_forward", "tanh_backward", "relu6_forward", "relu6_backward", "hardsigmoid_forward",
           "hardsigmoid_backward", "hardswish_forward", "hardswish_backward"]


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


# --- piecewise linear: ReLU6, hard sigmoid, hard swish (MobileNetV2 / V3) ---------------------
# All three clamp x + shift to [0, 6]; their gradients are PyTorch's, whose masks are strict
# inequalities (at a kink the gradient is the outer piece's: 0 for ReLU6 and the hard sigmoid).

def _clamp_0_6(t):
    """t clamped to [0, 6] in place (2 comparisons per element); returns t."""
    np.maximum(t, 0, out=t)
    return np.minimum(t, 6, out=t)


def _inside(x, low, high):
    """The boolean mask low < x < high: 2 comparisons per element (the & is boolean, not a FLOP)."""
    return (x > low) & (x < high)


def _relu6(x, out):
    np.maximum(x, 0, out=out)
    np.minimum(out, 6, out=out)


def relu6_forward(x):
    """out = min(max(x, 0), 6), any shape, in x's dtype. Returns ``(out, cache)`` with cache = x.
    Large inputs are split over threads, as ReLU's."""
    check_float_array("x", x)
    return elementwise(_relu6, np.empty_like(x), x), x


def _masked_inside_0_6(dout, x, out):
    np.multiply(dout, _inside(x, 0, 6), out=out)


def relu6_backward(dout, cache):
    """dx = dout where 0 < x < 6, else 0 (dout and x of one shape), in x's dtype."""
    x = cache
    check_shape("dout", dout, x.shape)
    return elementwise(_masked_inside_0_6, np.empty_like(x), dout, x)


def hardsigmoid_forward(x):
    """out = relu6(x + 3) / 6, any shape, in x's dtype. Returns ``(out, cache)`` with cache = x."""
    check_float_array("x", x)
    out = _clamp_0_6(np.add(x, 3))
    out /= 6
    return out, x


#: PyTorch's hard sigmoid gradient multiplies by 1/6 rounded to float32 (``1.0f / 6.0f`` in its
#: CPU kernel, also for float64), 3e-8 away from 1/6; the same factor here matches it bitwise
_ONE_SIXTH_FLOAT32 = float(np.float32(1 / 6))


def hardsigmoid_backward(dout, cache):
    """dx = dout / 6 where -3 < x < 3, else 0 (dout and x of one shape); the 1/6 is PyTorch's
    float32 constant (:data:`_ONE_SIXTH_FLOAT32`)."""
    x = cache
    check_shape("dout", dout, x.shape)
    dx = np.multiply(dout, _inside(x, -3, 3))
    dx *= _ONE_SIXTH_FLOAT32
    return dx


def hardswish_forward(x):
    """out = x relu6(x + 3) / 6, any shape, in x's dtype. Returns ``(out, cache)`` with cache = x."""
    check_float_array("x", x)
    out = _clamp_0_6(np.add(x, 3))
    out *= x
    out /= 6
    return out, x


def hardswish_backward(dout, cache):
    """dx = dout * (x / 3 + 1/2) for -3 < x < 3, 0 for x <= -3, dout for x >= 3 (PyTorch's pieces,
    the kinks included)."""
    x = cache
    check_shape("dout", dout, x.shape)
    slope = np.divide(x, 3)
    slope += 0.5
    # copyto(where=) writes through any layout (putmask copies a non-contiguous array)
    np.copyto(slope, 0, where=x <= -3)
    np.copyto(slope, 1, where=x >= 3)
    slope *= dout
    return slope


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

    torch_saved = saves_output  # ReluBackward0 thresholds dout on the result
    torch_footprint = torch_output_then_dx

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

    torch_saved = saves_input  # LeakyReluBackward0 saves self
    torch_footprint = torch_output_then_dx

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

    torch_saved = saves_output  # SigmoidBackward0: dout * s (1 - s) from the result
    torch_footprint = torch_output_then_dx

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

    torch_saved = saves_output  # TanhBackward0: dout (1 - t^2) from the result
    torch_footprint = torch_output_then_dx

    def given_lines(self, input_shape):
        return [r"- **Function**: $\tanh(x) = \frac{e^x - e^{-x}}{e^x + e^{-x}}$"]

    def to_torch(self, input_shape, params, nn):
        return [nn.Tanh()]

    def forward(self, x, params, mode="train"):
        return tanh_forward(x)

    def backward(self, dout, cache):
        return tanh_backward(dout, cache), {}


class _Activation(Layer):
    """What an activation defined by a kernel pair shares: ``_forward(x) -> (out, cache)`` and
    ``_backward(dout, cache) -> dx``, its ``function`` for the walkthrough, no multiply-accumulates,
    the ``exact`` count standing in for seed 001's (which has none of these), and the PyTorch
    module of the same name as its ``display_name`` (``nn.ReLU6``, ``nn.SiLU``, ...)."""

    title = "Activation Function"
    mac_terms = no_macs
    # hardtanh (ReLU6), hardsigmoid, hardswish, silu and gelu all save their input (self)
    torch_saved = saves_input
    torch_footprint = torch_output_then_dx

    def walkthrough_terms(self, input_shape):
        return self.exact_terms(input_shape)

    def given_lines(self, input_shape):
        return [f"- **Function**: {self.function}"]

    def to_torch(self, input_shape, params, nn):
        return [getattr(nn, self.display_name)()]

    def forward(self, x, params, mode="train"):
        return self._forward(x)

    def backward(self, dout, cache):
        return self._backward(dout, cache), {}


class _Piecewise(_Activation):
    """The hard activations' shared shape: the cache is x; forward holds its output, backward dx
    beside ``masks_beside_dx`` boolean masks (1 byte per element each)."""

    cache_bytes = no_bytes
    #: one: the mask low < x < high is made (its two comparisons at once) before dx is allocated
    masks_beside_dx = 1

    def footprint(self, input_shape, itemsize):
        n = elements(input_shape)
        return Footprint(forward_peak=n * itemsize, backward_peak=n * (itemsize + self.masks_beside_dx),
                         keeps_input=True)


def _clamp_terms(shape):
    return [per_element(r"$\max(\cdot, 0)$", shape, "cmp"), per_element(r"$\min(\cdot, 6)$", shape, "cmp")]


def _two_comparisons(label, shape):
    return term(label + ", 2 comparisons per element", r"2 \times " + times(dims_symbol(shape)), (2, *shape), "cmp")


def _mask_terms(shape, low, high):
    return [_two_comparisons(f"the mask ${low} < x < {high}$", shape)]


class ReLU6(_Piecewise):
    """min(max(x, 0), 6), as PyTorch's ``nn.ReLU6``."""

    kind = "relu6"
    display_name = "ReLU6"
    group = "Activation (ReLU6)"
    function = r"$\min(\max(x, 0), 6)$"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot "
                     r"\mathbb{1}_{0 < x < 6}$.")
    rules = {"walkthrough": ("as `exact`: 2 per element", "as `exact`: 3 per element"),
             "exact": ("2 comparisons per element", "2 comparisons and 1 multiplication per element")}
    _forward = staticmethod(relu6_forward)
    _backward = staticmethod(relu6_backward)
    # its backward allocates dx first and fills it part by part (threads): each part's two
    # comparisons x > 0 and x < 6 are alive beside it
    masks_beside_dx = 2

    def exact_terms(self, input_shape):
        s = input_shape
        return {"forward": [per_element(r"$\max(x, 0)$", s, "cmp"), per_element(r"$\min(\cdot, 6)$", s, "cmp")],
                "backward_input": _mask_terms(s, 0, 6) + [per_element(r"$dout \times$ mask", s, "mul")]}


class Hardsigmoid(_Piecewise):
    """relu6(x + 3) / 6, as PyTorch's ``nn.Hardsigmoid``."""

    kind = "hardsigmoid"
    display_name = "Hardsigmoid"
    group = "Activation (hard sigmoid)"
    function = r"$\min(\max(x + 3, 0), 6) / 6$"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{1}{6} \frac{\partial \mathcal{L}}"
                     r"{\partial y} \cdot \mathbb{1}_{-3 < x < 3}$.")
    rules = {"walkthrough": ("as `exact`: 4 per element", "as `exact`: 4 per element"),
             "exact": ("$x + 3$, 2 comparisons, a division per element",
                       "2 comparisons, multiplications by the mask and by 1/6 per element")}
    _forward = staticmethod(hardsigmoid_forward)
    _backward = staticmethod(hardsigmoid_backward)

    def exact_terms(self, input_shape):
        s = input_shape
        return {"forward": [per_element("$x + 3$", s, "add")] + _clamp_terms(s) + [per_element("$/ 6$", s, "div")],
                "backward_input": _mask_terms(s, -3, 3) + [per_element(r"$dout \times$ mask", s, "mul"),
                                                           per_element(r"$\times 1/6$ (PyTorch's float32 constant)",
                                                                       s, "mul")]}


class Hardswish(_Piecewise):
    """x relu6(x + 3) / 6, as PyTorch's ``nn.Hardswish`` (MobileNetV3)."""

    kind = "hardswish"
    display_name = "Hardswish"
    group = "Activation (hard swish)"
    function = r"$x \min(\max(x + 3, 0), 6) / 6$"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot "
                     r"(x / 3 + 1/2)$ for $-3 < x < 3$, 0 below, $\frac{\partial \mathcal{L}}{\partial y}$ above.")
    rules = {"walkthrough": ("as `exact`: 5 per element", "as `exact`: 5 per element"),
             "exact": ("$x + 3$, 2 comparisons, $\times x$, $/ 6$ per element",
                       "$x / 3 + 1/2$, 2 comparisons for the outer pieces, $\times dout$ per element")}
    _forward = staticmethod(hardswish_forward)
    _backward = staticmethod(hardswish_backward)

    def exact_terms(self, input_shape):
        s = input_shape
        return {"forward": [per_element("$x + 3$", s, "add")] + _clamp_terms(s)
                + [per_element(r"$\times x$", s, "mul"), per_element("$/ 6$", s, "div")],
                "backward_input": [per_element("$x / 3$", s, "div"), per_element("$+ 1/2$", s, "add"),
                                   _two_comparisons(r"the masks $x \le -3$ and $x \ge 3$", s),
                                   per_element(r"$\times dout$", s, "mul")]}
