"""Smooth gated activations: SiLU (swish) and GELU in PyTorch's default, exact erf form.

NumPy has no erf, so :func:`_erf` evaluates W. J. Cody's rational Chebyshev
approximations ("Rational Chebyshev approximations for the error function", Math.
Comp. 23, 1969, pp. 631-638; the coefficients of netlib's specfun CALERF), vectorized:

- |z| <= 0.46875: erf(z) = z P(z^2) / Q(z^2), P of degree 4, Q monic of degree 4
- 0.46875 < |z| <= 4: erfc(|z|) = exp(-z^2) P(|z|) / Q(|z|), degrees 8 and 8
- |z| > 4: erfc(|z|) = exp(-z^2) / |z| (1/sqrt(pi) - w P(w) / Q(w)), w = 1 / z^2, degrees 5 and 5

and erf(z) = sign(z) (1 - erfc(|z|)) outside the first interval. Every element goes
through all three rational functions and the right one is selected (np.where), so the
count of operations depends on the shape alone, as the ``exact`` convention needs.
Cody's approximations are accurate to about 18 significant digits; in float64 the
result's relative error is a few units in the last place (below 1e-15 against
``math.erf``, see tests/test_smooth_activations.py). Cody's split of exp(-z^2) into
exp(-a^2) exp(-(z - a)(z + a)) (a = z rounded to 1/16) only matters for erfc's
relative accuracy far out; for erf = 1 - erfc it is not needed and not done.
"""

import math

import numpy as np

from ..counts import Ops, term
from ._checks import check_float_array, check_shape
from ._text import dims_symbol, elements, per_element, times
from .activations import _Activation, sigmoid_forward
from .base import Footprint

__all__ = ["SiLU", "GELU", "silu_forward", "silu_backward", "gelu_forward", "gelu_backward"]

# Cody's coefficients, highest degree first as Horner's rule reads them; the denominators
# are monic (leading coefficient 1, not listed).
_SMALL_P = (1.85777706184603153e-1, 3.16112374387056560e0, 1.13864154151050156e2, 3.77485237685302021e2,
            3.20937758913846947e3)
_SMALL_Q = (2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3, 2.84423683343917062e3)
_MID_P = (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e0, 6.61191906371416295e1,
          2.98635138197400131e2, 8.81952221241769090e2, 1.71204761263407058e3, 2.05107837782607147e3,
          1.23033935479799725e3)
_MID_Q = (1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3,
          3.29079923573345963e3, 4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3)
_FAR_P = (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4)
_FAR_Q = (2.56852019228982242e0, 1.87295284992346047e0, 5.27905102951428412e-1, 6.05183413124413191e-2,
          2.33520497626869185e-3)
_SMALL_END, _MID_END = 0.46875, 4.0
_INV_SQRT_PI = 1 / math.sqrt(math.pi)


def _polynomial(t, coefficients):
    """sum_i c_i t^(L-1-i) by Horner's rule, into a new array: L - 1 mul and L - 1 add per element."""
    out = np.multiply(t, coefficients[0])
    for c in coefficients[1:-1]:
        out += c
        out *= t
    out += coefficients[-1]
    return out


def _monic(t, coefficients):
    """t^M + sum_i c_i t^(M-1-i) by Horner's rule (M coefficients): M - 1 mul and M add per element."""
    out = np.add(t, coefficients[0])
    for c in coefficients[1:]:
        out *= t
        out += c
    return out


def _ratio(t, p, q):
    """P(t) / Q(t), Q monic, in P's buffer."""
    num = _polynomial(t, p)
    num /= _monic(t, q)
    return num


def _rational_ops(p, q):
    """Per element: P (L - 1 mul, L - 1 add), monic Q (M - 1 mul, M add) and their division."""
    return Ops(mul=len(p) - 1 + len(q) - 1, add=len(p) - 1 + len(q), div=1)


def _erf(z):
    """erf(z) elementwise, same shape and dtype (Cody's approximations, see the module docstring)."""
    # infinite z: the unused pieces see inf / inf; their NaN is never selected
    with np.errstate(invalid="ignore", over="ignore"):
        return _erf_pieces(z)


def _erf_pieces(z):
    y = np.abs(z)
    ysq = np.multiply(y, y)
    small = _ratio(ysq, _SMALL_P, _SMALL_Q)
    small *= z  # z P(z^2) / Q(z^2), odd in z
    gauss = np.negative(ysq, out=ysq)
    np.exp(gauss, out=gauss)  # exp(-z^2) in z^2's buffer, shared by both erfc pieces
    erfc = _ratio(y, _MID_P, _MID_Q)
    far_y = np.maximum(y, _MID_END)  # the far piece on |z| clamped to >= 4: no 1 / 0 where it is not used
    w = np.multiply(far_y, far_y)
    np.divide(1, w, out=w)
    far = _ratio(w, _FAR_P, _FAR_Q)
    far *= w
    np.subtract(_INV_SQRT_PI, far, out=far)
    far /= far_y
    np.copyto(erfc, far, where=y > _MID_END)
    erfc *= gauss
    np.subtract(1, erfc, out=erfc)  # erf(|z|)
    erfc *= np.sign(z)  # erf is odd (a product, not a masked negation: its count is the shape's)
    np.copyto(erfc, small, where=y <= _SMALL_END)
    return erfc


#: the operations of :func:`_erf` per element, kind by kind, line by line
_ERF_OPS = (Ops(cmp=1)  # |z|
            + Ops(mul=1) + _rational_ops(_SMALL_P, _SMALL_Q) + Ops(mul=1)  # z^2, the small piece, times z
            + Ops(add=1, special=1)  # exp(-z^2)
            + _rational_ops(_MID_P, _MID_Q)
            + Ops(cmp=1, mul=1, div=1) + _rational_ops(_FAR_P, _FAR_Q) + Ops(mul=1, add=1, div=1)  # far piece
            + Ops(cmp=1)  # where |z| > 4
            + Ops(mul=1, add=1)  # erfc times exp(-z^2), 1 - erfc
            + Ops(cmp=1, mul=1)  # times sign(z)
            + Ops(cmp=1))  # where |z| <= 0.46875


def _erf_terms(shape):
    """Terms of :data:`_ERF_OPS` per element of ``shape``, one per kind."""
    symbol = times(dims_symbol(shape))
    return [term(f"erf (Cody's rational approximations), {count} {kind} per element",
                 f"{symbol} \\times {count}", (*shape, count), kind)
            for kind, count in _ERF_OPS.as_dict().items() if count]


# --- SiLU ---------------------------------------------------------------------------------------

def silu_forward(x):
    """out = x sigmoid(x), any shape, in x's dtype. Returns ``(out, cache)`` with cache = (x, s),
    s = sigmoid(x) (kept for backward)."""
    check_float_array("x", x)
    s, _ = sigmoid_forward(x)
    return np.multiply(x, s), (x, s)


def silu_backward(dout, cache):
    """dx = dout s (1 + x (1 - s)), s = sigmoid(x); dout of x's shape. One array, built in place."""
    x, s = cache
    check_shape("dout", dout, x.shape)
    dx = np.subtract(1, s)
    dx *= x
    dx += 1
    dx *= s
    dx *= dout
    return dx


# --- GELU ---------------------------------------------------------------------------------------
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def gelu_forward(x):
    """out = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 the standard normal CDF (PyTorch's
    ``approximate='none'``), any shape, in x's dtype. Returns ``(out, cache)`` with cache = (x, Phi)."""
    check_float_array("x", x)
    phi = _erf(np.multiply(x, _SQRT_HALF))
    phi += 1
    phi *= 0.5
    return np.multiply(x, phi), (x, phi)


def gelu_backward(dout, cache):
    """dx = dout (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi); dout of x's shape."""
    x, cdf = cache
    check_shape("dout", dout, x.shape)
    dx = np.multiply(x, x)
    dx *= -0.5
    np.exp(dx, out=dx)
    dx *= _INV_SQRT_2PI
    dx *= x
    dx += cdf
    dx *= dout
    return dx


class _Smooth(_Activation):
    """SiLU and GELU: the cache holds x and one array of its size (sigmoid(x), Phi(x))."""

    def cache_bytes(self, input_shape, itemsize):
        return elements(input_shape) * itemsize

    def footprint(self, input_shape, itemsize):
        n = elements(input_shape)
        return Footprint(forward_peak=self.forward_arrays * n * itemsize + self.forward_masks * n,
                         backward_peak=n * itemsize, keeps_input=True)


class SiLU(_Smooth):
    """x sigmoid(x) (swish), as PyTorch's ``nn.SiLU``."""

    kind = "silu"
    display_name = "SiLU"
    group = "Activation (SiLU)"
    function = r"$x \sigma(x)$"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot "
                     r"\sigma(x) (1 + x (1 - \sigma(x)))$.")
    rules = {"walkthrough": ("as `exact`: 5 per element", "as `exact`: 5 per element"),
             "exact": ("the sigmoid's 4 and $x \\sigma$ per element", "5 per element")}
    _forward = staticmethod(silu_forward)
    _backward = staticmethod(silu_backward)
    # forward: sigmoid's -x beside exp(-x), then s beside the output
    forward_arrays, forward_masks = 2, 0

    def exact_terms(self, input_shape):
        s = input_shape
        return {"forward": [per_element("$-x$", s, "add"), per_element(r"$e^{-x}$", s, "special"),
                            per_element(r"$1 + e^{-x}$", s, "add"), per_element(r"$\sigma = 1 / (\cdot)$", s, "div"),
                            per_element(r"$x \sigma$", s, "mul")],
                "backward_input": [per_element(r"$1 - \sigma$", s, "add"), per_element(r"$x (1 - \sigma)$", s, "mul"),
                                   per_element("$1 + (\\cdot)$", s, "add"), per_element(r"$\sigma (\cdot)$", s, "mul"),
                                   per_element(r"$dout \cdot (\cdot)$", s, "mul")]}


class GELU(_Smooth):
    """x Phi(x), Phi the standard normal CDF by erf, as PyTorch's default ``nn.GELU()``."""

    kind = "gelu"
    display_name = "GELU"
    group = "Activation (GELU)"
    function = r"$x \Phi(x) = \frac{x}{2} (1 + \text{erf}(x / \sqrt{2}))$"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot "
                     r"(\Phi(x) + x \varphi(x))$, $\varphi(x) = e^{-x^2/2} / \sqrt{2 \pi}$.")
    rules = {"walkthrough": ("as `exact`", "as `exact`: 7 per element"),
             "exact": ("$x / \\sqrt 2$, erf by Cody's rational approximations, $(1 + \\cdot) / 2$, $\\times x$",
                       "$\\varphi(x)$, $x \\varphi$, $+ \\Phi$, $\\times dout$: 7 per element")}
    _forward = staticmethod(gelu_forward)
    _backward = staticmethod(gelu_backward)
    # forward, at erf's busiest (the far piece's Horner): z = x / sqrt 2, |z|, exp(-z^2), the small
    # piece, the mid erfc, the clamped |z|, w, and P's buffer beside Q's (the masks come later,
    # when the far piece's Q is gone)
    forward_arrays, forward_masks = 9, 0

    def exact_terms(self, input_shape):
        s = input_shape
        return {"forward": [per_element(r"$z = x / \sqrt{2}$", s, "mul")] + _erf_terms(s)
                + [per_element(r"$1 + \text{erf}$", s, "add"), per_element(r"$\times 1/2$", s, "mul"),
                   per_element(r"$x \Phi$", s, "mul")],
                "backward_input": [per_element("$x^2$", s, "mul"), per_element(r"$\times (-1/2)$", s, "mul"),
                                   per_element("exp", s, "special"), per_element(r"$/ \sqrt{2\pi}$", s, "mul"),
                                   per_element(r"$x \varphi$", s, "mul"), per_element(r"$+ \Phi$", s, "add"),
                                   per_element(r"$dout \cdot (\cdot)$", s, "mul")]}
