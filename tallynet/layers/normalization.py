"""Batch normalization and layer normalization, for (N, D) and (N, C, H, W) inputs.

All four variants compute the same thing over different axes:

    x_hat = (x - mean) / sqrt(var + eps),   out = gamma * x_hat + beta

with ``mean`` and the biased ``var`` taken over the *statistics axes*, and
``gamma``/``beta`` indexed by axis 1 (the feature D or the channel C):

- batchnorm, x (N, D): statistics over axis 0; gamma, beta (D,)
- spatial batchnorm, x (N, C, H, W): over axes (0, 2, 3); gamma, beta (C,)
- layernorm, x (N, D): over axis 1; gamma, beta (D,)
- spatial layernorm, x (N, C, H, W): over axes (1, 2, 3); gamma, beta (C,)
  (GroupNorm with a single group)

and layernorm of (N, L, D) tokens (a vision transformer's, ``nn.LayerNorm(D)``) is the
(N, D) one on the (N L, D) rows: each token over its D features, gamma and beta (D,).

so one private pair, :func:`_normalize_forward` / :func:`_normalize_backward`,
does the work for all of them. The spatial variants reduce over their axes in
place with ``keepdims`` and broadcast gamma as a (1, C, 1, 1) view, instead of
transposing to an (N*H*W, C) copy and back: the result is the same, and it
saves two full copies of the activations per pass.

Every kernel's cache is the same tuple, ``(x, mean, inv_std, x_hat, gamma, axes)``:

- x: the input (a reference, not a copy)
- mean: the mean used, shaped to broadcast against x (e.g. (1, D) or (1, C, 1, 1))
- inv_std: 1 / sqrt(var + eps), same shape as mean
- x_hat: the normalized input, shape of x
- gamma: the scale, (D,) or (C,)
- axes: the statistics axes, or ``None`` when the statistics were constants
  (batchnorm in test mode, which uses the running averages)

Batchnorm is in :mod:`tallynet.layers.batchnorm`; here the core, layer and group normalization.
"""

import math

import numpy as np

from ..counts import Ops, term
from ._checks import (as_float_param, check_cache, check_choice, check_float_array, check_int,
                      check_nonempty_batch, check_not_float16, check_param_dict, check_same_dtype, check_shape)
from ._text import dims_symbol, n as _n, per_element, times
from ._threads import along, split
from .base import MODES, Footprint, Layer, Saved, no_macs

__all__ = ["LayerNorm", "GroupNorm", "spatial_groupnorm_forward", "spatial_groupnorm_backward",
           "layernorm_forward", "layernorm_backward", "spatial_layernorm_forward",
           "spatial_layernorm_backward"]


# --- argument checks -----------------------------------------------------------
def _check_real(name, value, low, high, low_open):
    """Check that ``value`` is a real number in [low, high] (or (low, high] when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    below = value <= low if low_open else value < low
    if below or value > high or math.isnan(value):
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return float(value)


def _check_eps(eps):
    return _check_real("eps", eps, 0.0, math.inf, low_open=True)


def _check_scale_shift(gamma, beta, x):
    """gamma and beta: float vectors of the size of x's axis 1, same dtype; integer ones are
    converted to x's dtype. Returns ``(gamma, beta)``."""
    gamma, beta = as_float_param("gamma", gamma, x), as_float_param("beta", beta, x)
    for name, v in (("gamma", gamma), ("beta", beta)):
        check_float_array(name, v, ndim=1)
        check_shape(name, v, (x.shape[1],))
    check_same_dtype("beta", beta, "gamma", gamma)
    return gamma, beta


def _check_rank(kind, shape, tokens=False):
    """Normalization layers take (N, D) or (N, C, H, W); layernorm (``tokens``) also (N, L, D)."""
    if len(shape) not in ((2, 3, 4) if tokens else (2, 4)):
        tokens_too = ", (N, L, D)" if tokens else ""
        raise ValueError(
            f"{kind}: input x must have shape (N, D){tokens_too} or (N, C, H, W), "
            f"got shape {tuple(shape)} with {len(shape)} dimensions"
        )


# --- shared math ---------------------------------------------------------------
def _per_channel(v, ndim):
    """View a (C,) vector as (1, C) or (1, C, 1, 1) so that it broadcasts along axis 1."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _sum_of_products(a, b, axes):
    """sum(a * b) over ``axes``, kept as size-1 axes, in one pass with no temporary.

    ``np.einsum`` multiplies and adds as it reads (twice as fast as a product array
    and its sum). It accumulates in the arrays' dtype, not pairwise as ``np.sum`` does;
    on centred values (the variance, after the mean is subtracted) that costs about
    5e-6 relative error in float32 over 131,072 values (measured), no cancellation.
    """
    letters = "nchw"[:a.ndim]
    kept = "".join(letter for axis, letter in enumerate(letters) if axis not in axes)
    return np.einsum(f"{letters},{letters}->{kept}", a, b).reshape(
        tuple(1 if axis in axes else n for axis, n in enumerate(a.shape)))


def _normalize_forward(x, gamma, beta, eps, axes, stats=None):
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, gamma and beta along axis 1.

    - x: (N, D) or (N, C, H, W); gamma, beta: (x.shape[1],)
    - axes: the axes mean and the biased variance are taken over
    - stats: ``None`` to compute them from x, or a ``(mean, var)`` pair of
      (x.shape[1],) vectors to use as constants instead (``axes`` is then unused)

    Returns ``(out, cache, mean, var)``: out in x's dtype and layout, the module's
    cache tuple, and the statistics used, shaped to broadcast against x.

    When axis 1 is not a statistics axis (batchnorm) every channel is independent:
    the channels are split over threads (:mod:`._threads`), each part running the
    whole computation on its own contiguous block of a channel-major x.
    """
    if stats is not None:
        return _normalize_with_constants(x, gamma, beta, eps, stats)
    x_hat, out = np.empty_like(x), np.empty_like(x)
    stat_shape = tuple(1 if a in axes else n for a, n in enumerate(x.shape))
    mean, var, inv_std = (np.empty(stat_shape, dtype=x.dtype) for _ in range(3))

    def channels(s):
        part = along(1, s)
        m = x[part].mean(axis=axes, keepdims=True)
        # x - mean is computed in x_hat's buffer and normalized there in place, so a pass
        # allocates two arrays of x's size, not five (fresh pages cost as much as the math)
        xmu = np.subtract(x[part], m, out=x_hat[part])
        v = _sum_of_products(xmu, xmu, axes) / (xmu.size // m.size)
        inv = 1.0 / np.sqrt(v + eps)
        np.multiply(xmu, inv, out=xmu)
        np.multiply(xmu, _per_channel(gamma[s], x.ndim), out=out[part])
        out[part] += _per_channel(beta[s], x.ndim)
        mean[part], var[part], inv_std[part] = m, v, inv
    if 1 in axes:  # layernorm: the statistics span the channels
        channels(slice(None))
    else:
        split(channels, x.shape[1], x, out)
    return out, (x, mean, inv_std, x_hat, gamma, axes), mean, var


def _normalize_with_constants(x, gamma, beta, eps, stats):
    """Test-mode batchnorm: with constant statistics the whole layer is one per-channel
    affine map, out = x * scale + shift with scale = gamma / sqrt(var + eps) and
    shift = beta - mean * scale: two passes over x instead of four, split over
    threads. x_hat is not kept; a backward pass through test mode recomputes it from x."""
    mean, var = (_per_channel(s, x.ndim) for s in stats)
    inv_std = 1.0 / np.sqrt(var + eps)
    scale = _per_channel(gamma, x.ndim) * inv_std
    shift = _per_channel(beta, x.ndim) - mean * scale
    out = np.empty_like(x)

    def channels(s):
        part = along(1, s)
        np.multiply(x[part], scale[part], out=out[part])
        out[part] += shift[part]
    split(channels, x.shape[1], x, out)
    return out, (x, mean, inv_std, None, gamma, None), mean, var


def _scale_shift_grads(dout, cache):
    """dgamma = sum(dout * x_hat), dbeta = sum(dout), over every axis but axis 1."""
    x, mean, inv_std, x_hat, gamma, _ = cache
    check_float_array("dout", dout)
    check_shape("dout", dout, x.shape)
    if x_hat is None:  # test mode keeps no x_hat (see _normalize_with_constants)
        x_hat = (x - mean) * inv_std
    over = (0,) + tuple(range(2, x.ndim))
    dgamma = np.sum(dout * x_hat, axis=over).astype(gamma.dtype, copy=False)
    dbeta = np.sum(dout, axis=over).astype(gamma.dtype, copy=False)
    return dgamma, dbeta


def _normalize_backward(dout, cache):
    """Closed-form backward of :func:`_normalize_forward`.

    With g = dout * gamma and means over the statistics axes (M elements each),

        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))

    which is the course's (gamma / (M std)) (M dout - sum(dout) - x_hat sum(dout x_hat))
    with gamma moved inside. When the statistics were constants (axes is None)
    it reduces to dx = g * inv_std.

    Returns ``(dx, dgamma, dbeta)`` with shapes x.shape, (C,), (C,).
    """
    x, _, inv_std, x_hat, gamma, axes = check_cache("cache", cache, 6, "a normalization forward pass")
    if axes is not None and 1 not in axes:
        return _batchnorm_backward_fused(dout, cache)
    dgamma, dbeta = _scale_shift_grads(dout, cache)
    g = dout * _per_channel(gamma, x.ndim)
    dx = g * inv_std if axes is None else _closed_form_dx(g, x_hat, inv_std, axes)
    return dx.astype(x.dtype, copy=False), dgamma, dbeta


def _closed_form_dx(g, x_hat, inv_std, axes):
    """dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)), means over ``axes``, for the
    upstream gradient of x_hat, g = dout * gamma (layernorm's and groupnorm's input gradient)."""
    return inv_std * (g - g.mean(axis=axes, keepdims=True) - x_hat * np.mean(g * x_hat, axis=axes, keepdims=True))


def _batchnorm_backward_fused(dout, cache):
    """The closed form when gamma is constant over the statistics axes (batchnorm).

    Then mean(g) = gamma mean(dout) = gamma dbeta / M and mean(g x_hat) = gamma dgamma / M,
    so dx = (gamma inv_std) (dout - dbeta / M - x_hat dgamma / M): the parameter
    gradients are reused and dx's own buffer does all the work. Channels are
    independent, so they are split over threads as in the forward pass.
    """
    x, _, inv_std, x_hat, gamma, axes = cache
    check_float_array("dout", dout)
    check_shape("dout", dout, x.shape)
    M = x.size // x.shape[1]
    dx = np.empty_like(x)
    dgamma, dbeta = (np.empty(gamma.shape, dtype=gamma.dtype) for _ in range(2))

    def channels(s):
        part = along(1, s)
        dg = _sum_of_products(dout[part], x_hat[part], axes).reshape(-1)
        db = dout[part].sum(axis=axes)
        scratch = np.multiply(x_hat[part], _per_channel(dg / M, x.ndim), out=dx[part])
        scratch += _per_channel(db / M, x.ndim)
        np.subtract(dout[part], scratch, out=scratch)
        scratch *= _per_channel(gamma[s], x.ndim) * inv_std[part]
        dgamma[s], dbeta[s] = dg, db
    split(channels, x.shape[1], x, dout, dx)
    return dx, dgamma, dbeta


#: why the normalizations refuse float16
_FLOAT16_STATS = "loses the statistics' precision (x - mean rounds to 0 for inputs near 1000)"


# --- layer normalization -------------------------------------------------------
def _layernorm(x, gamma, beta, ln_param):
    """Shared body of the two layernorm kernels: statistics over every axis but the batch."""
    ln_param = check_param_dict("ln_param", ln_param, optional=True)
    check_not_float16("x", x, _FLOAT16_STATS)
    check_nonempty_batch("x", x, "layernorm")
    eps = _check_eps(ln_param.get("eps", 1e-5))
    gamma, beta = _check_scale_shift(gamma, beta, x)
    out, cache, _, _ = _normalize_forward(x, gamma, beta, eps, axes=tuple(range(1, x.ndim)))
    return out, cache


def layernorm_forward(x, gamma, beta, ln_param=None):
    """Forward pass of layer normalization: each sample normalized over its D features.

    - x: data of shape (N, D)
    - gamma, beta: scale and shift of shape (D,)
    - ln_param: dict with optional ``eps`` (default 1e-5)

    out = gamma * (x - mean) / sqrt(var + eps) + beta, with the mean and biased
    variance of each row. Train and test are the same; nothing is tracked.
    Returns ``(out, cache)``, out of shape (N, D).
    """
    check_float_array("x", x, ndim=2)
    return _layernorm(x, gamma, beta, ln_param)


def layernorm_backward(dout, cache):
    """Backward pass of layer normalization: the closed form, sums over each row.

    - dout: (N, D); cache from :func:`layernorm_forward`

    Returns ``(dx, dgamma, dbeta)`` of shapes (N, D), (D,), (D,).
    """
    return _normalize_backward(dout, cache)


def spatial_layernorm_forward(x, gamma, beta, ln_param=None):
    """Forward pass of layer normalization for images (GroupNorm with one group).

    - x: data of shape (N, C, H, W)
    - gamma, beta: per-channel scale and shift of shape (C,)
    - ln_param: dict with optional ``eps`` (default 1e-5)

    Each sample is normalized by the mean and biased variance of all its C*H*W
    values, then channel c is scaled by gamma[c] and shifted by beta[c].
    Returns ``(out, cache)``, out of shape (N, C, H, W).
    """
    check_float_array("x", x, ndim=4)
    return _layernorm(x, gamma, beta, ln_param)


def spatial_layernorm_backward(dout, cache):
    """Backward pass of :func:`spatial_layernorm_forward` (sums over C, H, W per sample).

    Returns ``(dx, dgamma, dbeta)`` of shapes (N, C, H, W), (C,), (C,).
    """
    return _normalize_backward(dout, cache)


# --- group normalization -------------------------------------------------------
def _check_groups(G, C):
    G = check_int("G", G, 1)
    if C % G:
        raise ValueError(f"G = {G} groups must divide the {C} channels of x (x.shape[1])")
    return G


def _as_channel_vector(v, x):
    """The course passes groupnorm's gamma and beta as (1, C, 1, 1); the kernels use (C,)."""
    if isinstance(v, np.ndarray) and v.ndim == x.ndim > 1 and v.shape == (1, x.shape[1]) + (1,) * (x.ndim - 2):
        return v.reshape(-1)
    return v


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param=None):
    """Forward pass of group normalization: each sample's channels in G groups, each group
    normalized by the mean and biased variance of its (C / G) * H * W values, then channel c
    scaled by gamma[c] and shifted by beta[c] (Wu and He, 2018; ``torch.nn.GroupNorm``).

    - x: data of shape (N, C, H, W) (or (N, C): groups of features)
    - gamma, beta: per-channel scale and shift, of shape (C,) or, as in the course, (1, C, 1, 1)
    - G: the number of groups, dividing C; G = 1 is layernorm over (C, H, W), G = C
      normalizes every channel of every sample on its own
    - gn_param: dict with optional ``eps`` (default 1e-5); other keys (``mode``) are ignored:
      train and test are the same

    Returns ``(out, cache)``, out of x's shape and dtype. The cache is the module's tuple
    with ``(G, shape of gamma)`` in place of the axes, so that backward returns dgamma and
    dbeta in the shape they were given.
    """
    check_float_array("x", x, min_ndim=2)
    gn_param = {} if gn_param is None else gn_param
    eps = _check_eps(gn_param.get("eps", 1e-5))
    G = _check_groups(G, x.shape[1])
    param_shape = getattr(gamma, "shape", None)
    gamma, beta = _check_scale_shift(_as_channel_vector(gamma, x), _as_channel_vector(beta, x), x)
    # The groups as (N, G, (C / G) H W): a view, for a C-ordered x and a channel-major one
    # alike (C, H, W keep their order in memory), so the footprint is layernorm's.
    xg = x.reshape(x.shape[0], G, -1)
    mean = xg.mean(axis=2, keepdims=True)
    x_hat = np.subtract(xg, mean)  # becomes x_hat in place below
    var = _sum_of_products(x_hat, x_hat, (2,)) / x_hat.shape[2]
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std
    x_hat = x_hat.reshape(x.shape)
    out = x_hat * _per_channel(gamma, x.ndim)
    out += _per_channel(beta, x.ndim)
    return out.astype(x.dtype, copy=False), (x, mean, inv_std, x_hat, gamma, (G, param_shape))


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of :func:`spatial_groupnorm_forward`: the closed form with means over
    each group's (C / G) H W values, dgamma = sum(dout * x_hat) and dbeta = sum(dout) over N, H, W.

    Returns ``(dx, dgamma, dbeta)``: dx of x's shape, dgamma and dbeta in gamma's shape.
    """
    x, _, inv_std, x_hat, gamma, (G, param_shape) = cache
    dgamma, dbeta = _scale_shift_grads(dout, cache)
    N = x.shape[0]
    g = (dout * _per_channel(gamma, x.ndim)).reshape(N, G, -1)
    dx = _closed_form_dx(g, x_hat.reshape(N, G, -1), inv_std, (2,)).reshape(x.shape)
    shape = gamma.shape if param_shape is None else param_shape
    return dx.astype(x.dtype, copy=False), dgamma.reshape(shape), dbeta.reshape(shape)


# --- layers --------------------------------------------------------------------
class _ScaleShiftNorm(Layer):
    """What batchnorm and layernorm layers share: rank check, gamma/beta, backward, cost."""

    param_names = ("gamma", "beta")
    #: whether (N, L, D) tokens are taken, normalized over their last axis (layernorm)
    takes_tokens = False

    def __init__(self, eps=1e-5, name=None):
        super().__init__(name)
        self.eps = _check_eps(eps)

    def output_shape(self, input_shape):
        _check_rank(self.kind, input_shape, self.takes_tokens)
        return tuple(input_shape)

    @staticmethod
    def scaled_size(input_shape):
        """c: the entries of gamma and beta, axis 1's size (the last axis's for tokens)."""
        return input_shape[-1] if len(input_shape) == 3 else input_shape[1]

    def param_shapes(self, input_shape):
        C = self.scaled_size(self.output_shape(input_shape))
        return {"gamma": (C,), "beta": (C,)}

    def init_params(self, input_shape, rng, weight_scale, dtype):
        shapes = self.param_shapes(input_shape)
        return {"gamma": np.ones(shapes["gamma"], dtype=dtype), "beta": np.zeros(shapes["beta"], dtype=dtype)}

    def _check_input(self, x):
        check_float_array("x", x)
        _check_rank(self.kind, x.shape, self.takes_tokens)

    def backward(self, dout, cache):
        dx, dgamma, dbeta = _normalize_backward(dout, cache)
        return dx, {"gamma": dgamma, "beta": dbeta}

    # --- cost, from shapes alone: train mode, :func:`_normalize_forward` and
    # :func:`_normalize_backward` line by line. n = elements of x, s = number of
    # (mean, var) pairs of m values each, c = size of axis 1 (of gamma and beta).
    def stat_count(self, input_shape):
        """s: how many means and variances the statistics axes leave."""
        raise NotImplementedError

    def _sizes(self, input_shape):
        self.output_shape(input_shape)  # checks the rank
        n, s = int(np.prod(input_shape)), self.stat_count(input_shape)
        return n, s, n // s, self.scaled_size(input_shape)

    def exact_terms(self, input_shape):
        n, s, m, c = self._sizes(input_shape)
        shape = input_shape
        forward = [term(r"mean $\mu$: sums", r"s \times (m - 1)", (s, m - 1), "add"),
                   term(r"mean $\mu$: divisions", "s", (s,), "div"),
                   per_element(r"$x - \mu$", shape, "add"),
                   per_element(r"$(x - \mu)^2$", shape, "mul"),
                   term(r"variance $\sigma^2$: sums", r"s \times (m - 1)", (s, m - 1), "add"),
                   term(r"variance $\sigma^2$: divisions", "s", (s,), "div"),
                   term(r"$\sigma^2 + \epsilon$", "s", (s,), "add"),
                   term(r"$\sqrt{\cdot}$", "s", (s,), "special"),
                   term(r"$1 / \sqrt{\cdot}$", "s", (s,), "div"),
                   per_element(r"$\hat{x} = (x - \mu) \cdot (1 / \sqrt{\sigma^2 + \epsilon})$", shape, "mul"),
                   per_element(r"$\gamma \hat{x}$", shape, "mul"),
                   per_element(r"$+ \beta$", shape, "add")]
        return {"forward": forward + self._running_stat_terms(c),
                "backward_input": self._backward_input_terms(shape, s, m, c),
                # dgamma = sum(dout * x_hat): n mul, n - c add; dbeta = sum(dout): n - c add
                "backward_params": [
                    per_element(r"$dout \cdot \hat{x}$", shape, "mul"),
                    term(r"$d\gamma$: its sums", r"c \times (n / c - 1)", (c, n // c - 1), "add"),
                    term(r"$d\beta$: sums of dout", r"c \times (n / c - 1)", (c, n // c - 1), "add")]}

    def _running_stat_terms(self, c):
        """Operations spent outside the normalization itself (batchnorm's running averages)."""
        return []

    def _backward_input_terms(self, shape, s, m, c):
        # g = dout * gamma; mean(g) and mean(g * x_hat); x_hat * mean(g x_hat); the two
        # subtractions; inv_std * (...)
        return [per_element(r"$g = dout \cdot \gamma$", shape, "mul"),
                term(r"mean of $g$: sums", r"s \times (m - 1)", (s, m - 1), "add"),
                term(r"mean of $g$: divisions", "s", (s,), "div"),
                per_element(r"$g \cdot \hat{x}$", shape, "mul"),
                term(r"mean of $g \hat{x}$: sums", r"s \times (m - 1)", (s, m - 1), "add"),
                term(r"mean of $g \hat{x}$: divisions", "s", (s,), "div"),
                per_element(r"$\hat{x} \cdot \mathrm{mean}(g \hat{x})$", shape, "mul"),
                term("the two subtractions", r"2 \times " + times(dims_symbol(shape)), (2,) + tuple(shape), "add"),
                per_element(r"$\cdot (1 / \sqrt{\sigma^2 + \epsilon})$", shape, "mul")]

    def walkthrough_terms(self, input_shape):
        """Seed 001's batchnorm rule, 5 per element: the mean (1 add), the variance (1, the
        subtraction and squaring counted together, as mul), the normalization (1 div), scale
        and shift (1 mul, 1 add). Backward equals the forward, kind by kind: dgamma (1 mul,
        1 add per element) and dbeta (1 add) are the parameter gradients, the remaining
        1 mul and 1 div per element the input gradient. LayerNorm (not in seed 001) uses
        the same rule: it is the same computation over other axes."""
        n = self._sizes(input_shape)[0]
        symbols = dims_symbol(input_shape)
        return {"forward": [term("FLOPs, 5 per element (mean, variance, normalization, scale and shift)",
                                 times(["5"] + symbols), (5,) + tuple(input_shape), Ops(add=2 * n, mul=2 * n, div=n))],
                "backward_input": [term("input gradient, the remaining 2 per element", times(["2"] + symbols),
                                        (2,) + tuple(input_shape), Ops(mul=n, div=n))],
                "backward_params": [term(r"$d\gamma$ (multiply and sum) and $d\beta$ (sum), 3 per element",
                                         times(["3"] + symbols), (3,) + tuple(input_shape), Ops(mul=n, add=2 * n))]}

    mac_terms = no_macs

    def cache_bytes(self, input_shape, itemsize):
        # x_hat (n values), mean and inv_std (s values each)
        n, s, _, _ = self._sizes(input_shape)
        return (n + 2 * s) * itemsize

    #: arrays of x's size that backward holds at once (dx included): the closed form's g =
    #: dout * gamma beside g - mean(g) and one more (g * x_hat, then x_hat * mean(g x_hat), then dx)
    _backward_arrays = 3

    #: arrays of the statistics' size the forward pass holds at its peak (see footprint)
    _forward_stats = 7

    def footprint(self, input_shape, itemsize):
        # forward: x - mean, normalized in place into x_hat, beside the output; of the
        # statistics' size, while 1 / sqrt(var + eps) is taken: mean, var and inv_std,
        # the batch's mean, var, var + eps and its inverse (7 s; measured, and not small
        # when each sample has few values: layernorm of (N, 5) features; groupnorm 3).
        # Backward: see _backward_arrays, a mean of s values, and dgamma, dbeta.
        # The cache keeps x.
        n, s, _, c = self._sizes(input_shape)
        return Footprint(forward_peak=(2 * n + self._forward_stats * s) * itemsize,
                         backward_peak=(self._backward_arrays * n + s + 2 * c) * itemsize, keeps_input=True)

    #: the parameters PyTorch's kernel saves besides the input: its weight (gamma) at least
    _torch_saved_params = ("gamma",)

    def _torch_stats_shape(self, input_shape):
        """The shape of the mean and inverse standard deviation the twin's kernel saves:
        (N, groups) for ``native_group_norm`` (GroupNorm, and layernorm on images, GroupNorm(1, C))."""
        return (input_shape[0], self.stat_count(input_shape) // input_shape[0])

    def torch_saved(self, input_shape, dtype):
        """The input, gamma (and the state the kernel reads) and the statistics it computed: the
        mean and the inverse standard deviation (``native_batch_norm``'s save_mean and save_invstd,
        ``native_layer_norm``'s and ``native_group_norm``'s mean and rstd), which backward reuses."""
        dtype = np.dtype(dtype).name
        shapes = {**self.param_shapes(input_shape), **self.state_shapes(input_shape)}
        stats = self._torch_stats_shape(input_shape)
        return ([Saved("input", tuple(input_shape), dtype)]
                + [Saved(name, shapes[name], dtype) for name in self._torch_saved_params]
                + [Saved(name, stats, dtype) for name in ("mean", "inverse_std")])

    def torch_footprint(self, input_shape, itemsize):
        # forward: the output and the statistics; backward: dx beside the kernel's scratch
        # (_torch_backward_scratch), and dgamma, dbeta. Measured.
        n, s, _, c = self._sizes(input_shape)
        return Footprint(forward_peak=(n + 2 * s) * itemsize,
                         backward_peak=(n + self._torch_backward_scratch(input_shape) + 2 * c) * itemsize,
                              param_backward_peak=2 * c * itemsize)

    def _torch_backward_scratch(self, input_shape):
        """Elements the twin's backward holds beside dx: ``native_group_norm_backward``'s sums per
        sample and channel, two of (N, C) (GroupNorm, and layernorm on images: GroupNorm(1, C))."""
        return 2 * input_shape[0] * input_shape[1]

    # --- the walkthrough's prose ------------------------------------------------------
    def given_lines(self, input_shape):
        n, s, m, c = self._sizes(input_shape)
        return [f"- **Normalized**: {self.normalized_over(input_shape)}: $s = {_n(s)}$ means and variances of $m = {_n(m)}$ "
                "values each", f"- **Scale and shift**: $c = {_n(c)}$ entries each", f"- $\\epsilon = {self.eps:g}$"]

    def param_lines(self, input_shape, itemsize):
        c = self.scaled_size(input_shape)
        state = sum(int(np.prod(v)) for v in self.state_shapes(input_shape).values())
        lines = [f"- **Scale ($\\gamma$)**: ${_n(c)}$", f"- **Shift ($\\beta$)**: ${_n(c)}$"]
        if state:
            lines += [f"- **Running mean** (not learned, updated during training): ${_n(c)}$",
                      f"- **Running variance** (not learned, updated during training): ${_n(c)}$"]
        return lines + [f"- **Learnable Total**: $2 \\times {_n(c)} = {_n(2 * c)}$ parameters = "
                        f"**{_n(2 * c * itemsize)} bytes**" + (f"; running statistics {_n(state * itemsize)} bytes"
                                                               if state else "")]


class LayerNorm(_ScaleShiftNorm):
    """Layer normalization of (N, D) features, of (N, L, D) tokens (each over its last axis, as
    ``nn.LayerNorm(D)``) or of (N, C, H, W) images (one group).

    Train and test mode are the same.
    """

    kind = "layernorm"
    display_name = "LayerNorm"
    group = "Layer Normalization"
    title = "Layer Normalization"
    rule_label = "Layer normalization"
    takes_tokens = True
    gradient_text = (r"As batchnorm, with the means taken over each sample: "
                     r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \epsilon}} \left(g - "
                     r"\mathrm{mean}(g) - \hat{x}\, \mathrm{mean}(g \hat{x})\right)$, "
                     r"$g = \gamma \frac{\partial \mathcal{L}}{\partial y}$.")
    rules = {"walkthrough": ("5 per element (as batchnorm)", "equal to the forward"),
             "exact": ("statistics, normalization, scale and shift", "closed form, as implemented")}

    def stat_count(self, input_shape):
        # one mean and variance per sample, or per token
        return input_shape[0] * input_shape[1] if len(input_shape) == 3 else input_shape[0]

    def normalized_over(self, input_shape):
        return "each token over its features" if len(input_shape) == 3 else "each sample over all its values"

    # on features and tokens the twin is nn.LayerNorm (native_layer_norm): its statistics are
    # per row, it saves beta too, and its backward holds nothing of x's size beside dx
    def _torch_backward_scratch(self, input_shape):
        return super()._torch_backward_scratch(input_shape) if len(input_shape) == 4 else 0

    def _torch_stats_shape(self, input_shape):
        return super()._torch_stats_shape(input_shape) if len(input_shape) == 4 else tuple(input_shape[:-1]) + (1,)

    def torch_saved(self, input_shape, dtype):
        """As the other normalizations; on features and tokens the twin is ``nn.LayerNorm``, whose
        ``native_layer_norm`` also saves beta (its bias)."""
        beta = [Saved("beta", self.param_shapes(input_shape)["beta"], np.dtype(dtype).name)]
        return super().torch_saved(input_shape, dtype) + (beta if len(input_shape) != 4 else [])

    def describe(self, input_shape):
        return "LayerNorm"

    def to_torch(self, input_shape, params, nn):
        # over each sample's features; on images over (C, H, W) with a per-channel scale: GroupNorm(1, C)
        m = nn.GroupNorm(1, input_shape[1], eps=self.eps) if len(input_shape) == 4 else nn.LayerNorm(
            input_shape[-1], eps=self.eps)
        m.weight.data, m.bias.data = params["gamma"], params["beta"]
        return [m]

    def forward(self, x, params, mode="train"):
        self._check_input(x)
        check_choice("mode", mode, MODES)
        if x.ndim == 3:  # tokens: the (N L, D) rows, normalized as features
            out, cache = layernorm_forward(x.reshape(-1, x.shape[-1]), params["gamma"], params["beta"], {"eps": self.eps})
            return out.reshape(x.shape), cache
        kernel = spatial_layernorm_forward if x.ndim == 4 else layernorm_forward
        return kernel(x, params["gamma"], params["beta"], {"eps": self.eps})

    def backward(self, dout, cache):
        if dout.ndim != 3:
            return super().backward(dout, cache)
        dx, grads = super().backward(dout.reshape(-1, dout.shape[-1]), cache)
        return dx.reshape(dout.shape), grads

    def config(self):
        return {"eps": self.eps}


class GroupNorm(_ScaleShiftNorm):
    """Group normalization of (N, C, H, W) images (or (N, C) features) in ``groups`` groups of
    channels, with a per-channel scale and shift (``torch.nn.GroupNorm``). Train and test mode
    are the same; ``groups`` must divide the channels.
    """

    kind = "groupnorm"
    display_name = "GroupNorm"
    group = "Group Normalization"
    title = "Group Normalization"
    rule_label = "Group normalization"
    gradient_text = "As layernorm's, with the means taken over each sample's group of $C / G$ channels."
    rules = LayerNorm.rules

    def __init__(self, groups, eps=1e-5, name=None):
        super().__init__(eps, name)
        self.groups = check_int("groups", groups, 1)

    def output_shape(self, input_shape):
        shape = super().output_shape(input_shape)
        if shape[1] % self.groups:
            raise ValueError(f"groups = {self.groups} must divide the input's {shape[1]} channels")
        return shape

    _forward_stats = 3  # spatial_groupnorm_forward: mean, var and inv_std

    def stat_count(self, input_shape):
        return input_shape[0] * self.groups  # one mean and variance per sample and group

    def normalized_over(self, input_shape):
        return f"each sample's {self.groups} groups of {input_shape[1] // self.groups} channels"

    def describe(self, input_shape):
        return f"GroupNorm({self.groups})"

    def to_torch(self, input_shape, params, nn):
        m = nn.GroupNorm(self.groups, input_shape[1], eps=self.eps)
        m.weight.data, m.bias.data = params["gamma"], params["beta"]
        return [m]

    def forward(self, x, params, mode="train"):
        self._check_input(x)
        check_choice("mode", mode, MODES)
        return spatial_groupnorm_forward(x, params["gamma"], params["beta"], self.groups, {"eps": self.eps})

    def backward(self, dout, cache):
        dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
        return dx, {"gamma": dgamma, "beta": dbeta}

    def config(self):
        return {"groups": self.groups, "eps": self.eps}
