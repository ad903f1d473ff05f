"""Batch normalization, for (N, D) features and per channel for (N, C, H, W) images.

The statistics of each feature (or channel) are taken over the batch (and H, W);
the shared math is :func:`tallynet.layers.normalization._normalize_forward` and its
backward, which split the channels over threads.
"""

import numpy as np

from ..counts import term
from ._checks import check_choice, check_float_array, check_nonempty_batch, check_not_float16, check_param_dict, \
    check_shape
from ._text import per_element
from .base import MODES
from .normalization import (_FLOAT16_STATS, _check_eps, _check_real, _check_scale_shift, _normalize_backward,
                            _normalize_forward, _per_channel, _scale_shift_grads, _ScaleShiftNorm)

__all__ = ["BatchNorm", "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
           "spatial_batchnorm_forward", "spatial_batchnorm_backward"]


def _running_stat(name, value, size, dtype, fill):
    """A running statistic from bn_param: ``fill`` when absent, else checked and cast to dtype."""
    if value is None:
        return np.full(size, fill, dtype=dtype)
    check_float_array(name, value, ndim=1)
    check_shape(name, value, (size,))
    return value.astype(dtype, copy=False)


def _batchnorm(x, gamma, beta, bn_param, axes):
    """Shared body of :func:`batchnorm_forward` and :func:`spatial_batchnorm_forward`."""
    check_param_dict("bn_param", bn_param)
    check_not_float16("x", x, _FLOAT16_STATS)
    mode = check_choice("mode", bn_param.get("mode"), MODES)
    eps = _check_eps(bn_param.get("eps", 1e-5))
    momentum = _check_real("momentum", bn_param.get("momentum", 0.9), 0.0, 1.0, low_open=False)
    C = x.shape[1]
    gamma, beta = _check_scale_shift(gamma, beta, x)
    # Both start at ZERO, as in the course whose API this is (its notebooks print
    # test-time numbers that depend on it). The BatchNorm layer starts its running
    # variance at one instead (PyTorch's choice: a test-mode pass early in training is
    # then near the identity rather than a division by sqrt(eps)); see BatchNorm.reset_state.
    running_mean = _running_stat("running_mean", bn_param.get("running_mean"), C, x.dtype, 0.0)
    running_var = _running_stat("running_var", bn_param.get("running_var"), C, x.dtype, 0.0)
    if mode == "train":
        # an empty batch's mean is NaN, which the running averages would keep for good
        check_nonempty_batch("x", x, "batchnorm in train mode")
        out, cache, mean, var = _normalize_forward(x, gamma, beta, eps, axes)
        running_mean = momentum * running_mean + (1 - momentum) * mean.reshape(C)
        running_var = momentum * running_var + (1 - momentum) * var.reshape(C)
    else:
        out, cache, _, _ = _normalize_forward(x, gamma, beta, eps, axes, stats=(running_mean, running_var))
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var  # in x's dtype
    return out, cache


def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of batch normalization over the batch.

    - x: data of shape (N, D)
    - gamma, beta: scale and shift of shape (D,)
    - bn_param: dict with
      - mode: ``'train'`` or ``'test'`` (required)
      - eps: added to the variance, default 1e-5
      - momentum: decay of the running averages, default 0.9
      - running_mean, running_var: (D,) running averages; created as zeros when
        absent, as in the course (the :class:`BatchNorm` layer starts the variance at one)

    Train: mean and biased variance of each feature over the batch,
    out = gamma * (x - mean) / sqrt(var + eps) + beta, and
    running = momentum * running + (1 - momentum) * batch statistic.
    Test: the same formula with the running averages in place of the batch's.
    The running averages are stored back into ``bn_param`` in x's dtype.

    With N = 1 in train mode the variance is 0, so x_hat = 0 and out = beta;
    the gradient with respect to x is then exactly 0 (and finite).

    Returns ``(out, cache)``: out of shape (N, D) and the module's cache tuple.
    """
    check_float_array("x", x, ndim=2)
    return _batchnorm(x, gamma, beta, bn_param, axes=(0,))


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalization, staged through the computation graph.

    - dout: upstream derivative of the shape of x
    - cache: from :func:`batchnorm_forward` (or any kernel of this module)

    The forward graph, node by node (means over the statistics axes, M elements):
    xmu = x - mean(x); sq = xmu^2; var = mean(sq); std = sqrt(var + eps);
    ivar = 1 / std; x_hat = xmu * ivar; out = gamma * x_hat + beta. Each line
    below is the chain rule through one of those nodes, last node first.
    Same result as :func:`batchnorm_backward_alt`, which is faster.

    Returns ``(dx, dgamma, dbeta)`` of shapes (N, D), (D,), (D,).
    """
    x, mean, inv_std, x_hat, gamma, axes = cache
    if axes is None:  # test mode: mean and var were constants, no path through them
        return _normalize_backward(dout, cache)
    dgamma, dbeta = _scale_shift_grads(dout, cache)
    M = x.size // mean.size
    xmu = x - mean
    dx_hat = dout * _per_channel(gamma, x.ndim)  # out = gamma * x_hat + beta
    divar = np.sum(dx_hat * xmu, axis=axes, keepdims=True)  # x_hat = xmu * ivar
    dxmu1 = dx_hat * inv_std
    dstd = -divar * inv_std * inv_std  # ivar = 1 / std
    dvar = 0.5 * dstd * inv_std  # std = sqrt(var + eps)
    dsq = dvar / M  # var = mean(sq), spread evenly over the M entries
    dxmu2 = 2 * xmu * dsq  # sq = xmu^2
    dx1 = dxmu1 + dxmu2  # xmu = x - mean: the direct path...
    dmean = -np.sum(dx1, axis=axes, keepdims=True)  # ...and the path through mean
    dx = dx1 + dmean / M  # mean = mean(x)
    return dx.astype(x.dtype, copy=False), dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalization in simplified closed form.

    Takes the same cache as :func:`batchnorm_backward` and returns the same
    ``(dx, dgamma, dbeta)``, with

        dx = (gamma / (N std)) * (N dout - sum(dout) - x_hat * sum(dout * x_hat))

    sums over the batch, dgamma = sum(dout * x_hat), dbeta = sum(dout).
    """
    return _normalize_backward(dout, cache)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of spatial batch normalization: one mean and variance per channel.

    - x: data of shape (N, C, H, W)
    - gamma, beta: scale and shift of shape (C,)
    - bn_param: as for :func:`batchnorm_forward`, running averages of shape (C,)

    Statistics of each channel run over N, H and W; otherwise identical to
    :func:`batchnorm_forward`. Returns ``(out, cache)``, out of shape (N, C, H, W).
    """
    check_float_array("x", x, ndim=4)
    return _batchnorm(x, gamma, beta, bn_param, axes=(0, 2, 3))


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalization (closed form, sums over N, H, W).

    - dout: (N, C, H, W); cache from :func:`spatial_batchnorm_forward`

    Returns ``(dx, dgamma, dbeta)`` of shapes (N, C, H, W), (C,), (C,).
    """
    return _normalize_backward(dout, cache)



# --- the layer -------------------------------------------------------------------
class BatchNorm(_ScaleShiftNorm):
    """Batch normalization of (N, D) features or, per channel, of (N, C, H, W) images.

    Holds the running averages ``running_mean`` and ``running_var`` (shape (D,)
    or (C,)): train mode updates them, test mode normalizes with them. They start
    at 0 and 1, as in PyTorch.
    """

    kind = "batchnorm"
    display_name = "BatchNorm"
    group = "Batch Normalization"
    title = "Batch Normalization"
    rule_label = "Batch normalization"
    gradient_text = (
        r"$\frac{\partial \mathcal{L}}{\partial \gamma} = \sum \frac{\partial \mathcal{L}}{\partial y} \hat{x}$, "
        r"$\frac{\partial \mathcal{L}}{\partial \beta} = \sum \frac{\partial \mathcal{L}}{\partial y}$ (sums over "
        r"all axes but the channel); with $g = \gamma \frac{\partial \mathcal{L}}{\partial y}$, "
        r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \epsilon}} \left(g - \mathrm{mean}(g)"
        r" - \hat{x}\, \mathrm{mean}(g \hat{x})\right)$, means over the statistics axes.")
    rules = {"walkthrough": ("5 per element", "equal to the forward"),
             "exact": ("statistics, normalization, scale and shift, running averages", "closed form, as implemented")}

    def stat_count(self, input_shape):
        return input_shape[1]  # one mean and variance per feature D or channel C

    # native_batch_norm saves the running statistics too (alive anyway), and its statistics
    # per channel; its backward holds a scratch array of x's size beside dx (measured)
    _torch_saved_params = ("gamma", "running_mean", "running_var")

    def _torch_backward_scratch(self, input_shape):
        return int(np.prod(input_shape))

    def _torch_stats_shape(self, input_shape):
        return (input_shape[1],)

    def _running_stat_terms(self, c):
        # running = momentum * running + (1 - momentum) * stat, for the mean and the variance
        return [term(r"running averages, $\text{momentum} \cdot r + (1 - \text{momentum}) \cdot stat$ for the "
                     "mean and the variance: multiplications", r"4 \times C", (4, c), "mul"),
                term("running averages: additions", r"2 \times C", (2, c), "add")]

    #: _batchnorm_backward_fused: one scratch array does all the work and becomes dx
    _backward_arrays = 1

    def _backward_input_terms(self, shape, s, m, c):
        # _batchnorm_backward_fused: gamma is constant over the statistics axes
        return [term(r"$d\gamma / m$ and $d\beta / m$", r"2 \times C", (2, c), "div"),
                term(r"$\gamma \cdot (1 / \sqrt{\sigma^2 + \epsilon})$", "C", (c,), "mul"),
                per_element(r"$\hat{x} \cdot d\gamma / m$", shape, "mul"),
                per_element(r"$+ d\beta / m$", shape, "add"),
                per_element(r"$dout - (\cdot)$", shape, "add"),
                per_element(r"$\cdot \gamma / \sqrt{\sigma^2 + \epsilon}$", shape, "mul")]

    def __init__(self, eps=1e-5, momentum=0.9, name=None):
        super().__init__(eps, name)
        self.momentum = _check_real("momentum", momentum, 0.0, 1.0, low_open=False)
        self.running_mean = None
        self.running_var = None

    def normalized_over(self, input_shape):
        return "each feature over the batch" if len(input_shape) == 2 else "each channel over $N, H, W$"

    def describe(self, input_shape):
        return "BatchNorm"

    def given_lines(self, input_shape):
        return super().given_lines(input_shape) + [f"- **Momentum** of the running averages: ${self.momentum:g}$"]

    def to_torch(self, input_shape, params, nn):
        # PyTorch's momentum weighs the new statistic: 1 - tallynet's
        m = (nn.BatchNorm2d if len(input_shape) == 4 else nn.BatchNorm1d)(input_shape[1], eps=self.eps,
                                                                         momentum=1 - self.momentum)
        m.weight.data, m.bias.data = params["gamma"], params["beta"]
        if self.running_mean is not None:
            m.running_mean.data = m.weight.data.new_tensor(self.running_mean)
            m.running_var.data = m.weight.data.new_tensor(self.running_var)
        return [m]

    def state_shapes(self, input_shape):
        C = self.output_shape(input_shape)[1]
        return {"running_mean": (C,), "running_var": (C,)}

    def reset_state(self, input_shape, dtype):
        """Running mean 0 and running variance ONE, as in PyTorch (the functional
        kernels, the course's, start the variance at 0)."""
        shapes = self.state_shapes(input_shape)
        self.running_mean = np.zeros(shapes["running_mean"], dtype=dtype)
        self.running_var = np.ones(shapes["running_var"], dtype=dtype)

    def get_state(self):
        if self.running_mean is None:
            return {}
        return {"running_mean": self.running_mean.copy(), "running_var": self.running_var.copy()}

    def set_state(self, state):
        mean, var = state["running_mean"], state["running_var"]
        check_float_array("running_mean", mean, ndim=1)
        check_float_array("running_var", var, ndim=1)
        check_shape("running_var", var, mean.shape)
        self.running_mean, self.running_var = mean.copy(), var.copy()

    def forward(self, x, params, mode="train"):
        self._check_input(x)
        if self.running_mean is None:  # a layer used outside a model: start as reset_state does
            self.reset_state(x.shape, x.dtype.type)
        bn_param = {"mode": mode, "eps": self.eps, "momentum": self.momentum,
                    "running_mean": self.running_mean, "running_var": self.running_var}
        kernel = spatial_batchnorm_forward if x.ndim == 4 else batchnorm_forward
        out, cache = kernel(x, params["gamma"], params["beta"], bn_param)
        self.running_mean, self.running_var = bn_param["running_mean"], bn_param["running_var"]
        return out, cache

    def config(self):
        return {"eps": self.eps, "momentum": self.momentum}


