"""The layer protocol that models, the trainer and the cost model all walk.

A layer object holds a layer's hyperparameters (and, for batchnorm, its running
statistics). Its math lives in the functional kernels of the same module
(``x_forward(...) -> (out, cache)``, ``x_backward(dout, cache)``); the object
only calls them. Trainable parameters are *not* stored in the layer: the model
owns one ``params`` dict (so that the Solver can replace its arrays) and hands
each layer its own entries, under local names such as ``"W"`` and ``"b"``.

Shapes always include the batch dimension: ``(N, C, H, W)`` or ``(N, D)``.
"""

from dataclasses import dataclass

import numpy as np

from ..counts import LayerFlops

MODES = ("train", "test")


class Layer:
    """Base class. Subclasses set ``kind`` and override what they need."""

    #: the layer's type, as written in a spec file (``conv``, ``relu``, ...)
    kind = "layer"
    #: local names of the trainable parameters, in order
    param_names = ()

    def __init__(self, name=None):
        self.name = name

    # --- shapes ---------------------------------------------------------------
    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (batch included).

        Raises ``ValueError`` naming the offending field when the input does not fit.
        """
        return tuple(input_shape)

    def param_shapes(self, input_shape):
        """``{local name: shape}`` of the trainable parameters."""
        return {}

    def state_shapes(self, input_shape):
        """``{name: shape}`` of non-trainable state (running statistics)."""
        return {}

    # --- parameters -----------------------------------------------------------
    def init_params(self, input_shape, rng, weight_scale, dtype):
        """Fresh trainable parameters for this input shape, ``{local name: array}``."""
        return {}

    def reset_state(self, input_shape, dtype):
        """Reset non-trainable state (running statistics) for this input shape."""

    def seed_from(self, rng):
        """Layers that draw random numbers and were given no seed of their own take their
        generator from ``rng``, the model's, so that a seeded model trains reproducibly."""

    def fix_randomness(self, seed):
        """Make every call draw the same random numbers (from ``seed`` unless the layer has
        its own), so that a numerical gradient check sees one deterministic function."""

    def get_state(self):
        """Non-trainable state as ``{name: array}``, for checkpoints."""
        return {}

    def set_state(self, state):
        """Restore what :meth:`get_state` returned."""

    # --- math -----------------------------------------------------------------
    def forward(self, x, params, mode="train"):
        """Return ``(out, cache)``; ``params`` maps local names to arrays."""
        raise NotImplementedError

    def backward(self, dout, cache):
        """Return ``(dx, grads)`` with ``grads`` keyed by local parameter name."""
        raise NotImplementedError

    def param_grads(self, dout, cache):
        """The parameter gradients of :meth:`backward` alone, ``{local name: array}``.

        A training step asks for these where no one needs dx (the first layer with
        parameters: its input is the batch). Layers whose dx is a separate product
        (convolution, affine) skip it; the rest run the whole backward pass.
        """
        return self.backward(dout, cache)[1]

    # --- cost, from shapes alone ------------------------------------------------
    # Each layer module overrides these beside its kernels, so the tally and the
    # math change together. Shapes include the batch dimension.
    def exact_flops(self, input_shape):
        """:class:`LayerFlops` of every scalar operation the fast kernels execute."""
        return LayerFlops()

    def walkthrough_flops(self, input_shape):
        """:class:`LayerFlops` under seed 001's hand-count conventions."""
        return LayerFlops()

    def macs(self, input_shape):
        """Multiply-accumulates of the forward pass (convolutions and affine layers only)."""
        return 0

    def cache_bytes(self, input_shape, itemsize):
        """Bytes of the arrays the forward pass allocates and keeps for backward, besides
        its output and the input it references (im2col columns, masks, x_hat, ...)."""
        return 0

    def footprint(self, input_shape, itemsize):
        """:class:`Footprint` of the fast kernels' train-mode passes: what the cost model's
        peak memory estimate needs to know beyond the sizes of outputs and caches.

        The default assumes no temporaries: forward allocates its output and cache,
        backward dx and the parameter gradients.
        """
        n, params = int(np.prod(input_shape)), sum(int(np.prod(s)) for s in self.param_shapes(input_shape).values())
        out = int(np.prod(self.output_shape(input_shape)))
        return Footprint(forward_peak=out * itemsize + self.cache_bytes(input_shape, itemsize),
                         backward_peak=(n + params) * itemsize)

    # --- description ----------------------------------------------------------
    def config(self):
        """Hyperparameters as a dict, in spec-file form (``{}`` when there are none)."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        name = f", name={self.name!r}" if self.name else ""
        return f"{type(self).__name__}({args}{name})"


@dataclass(frozen=True)
class Footprint:
    """How a layer's passes hold memory, in bytes (``Layer.footprint``).

    - forward_peak: the most bytes the forward pass holds allocated at once, above
      what existed before it: its output and cache included, and every temporary
      (a padded copy, the GEMM result before its transposed copy, masks, ...)
    - backward_peak: the same for backward, above dout and the cache: dx and the
      parameter gradients included, and every temporary (im2col's dcols, ...)
    - keeps_input: the cache references the input, so the previous layer's output
      stays alive until this layer's backward
    - keeps_output: the cache references the output itself
    - is_view: the output is a view of the input and dx a view of dout (nothing allocated)
    - param_backward_peak: the same as backward_peak for :meth:`Layer.param_grads`, when
      that is cheaper (None: the whole backward pass runs)

    Temporaries of the size of a channel or a sample (means, variances) are left
    out. Where NumPy reuses a temporary for the next operation's result (its
    "temporary elision", done for arrays of 256 KB or more) the peaks assume it
    does: they describe the large arrays that make up a peak.
    """

    forward_peak: int = 0
    backward_peak: int = 0
    keeps_input: bool = False
    keeps_output: bool = False
    is_view: bool = False
    param_backward_peak: int = None

    def training_backward_peak(self, pass_):
        """The backward peak of the pass a training step runs (see ``training_passes``)."""
        if pass_ == "none":
            return 0
        if pass_ == "params" and self.param_backward_peak is not None:
            return self.param_backward_peak
        return self.backward_peak


def he_or_scaled_normal(rng, shape, fan_in, weight_scale, dtype):
    """Gaussian weights: std ``weight_scale``, or sqrt(2 / fan_in) when it is ``"he"``.

    He initialisation keeps ReLU activations at unit scale however deep the net
    is; a fixed small ``weight_scale`` is the course's default for shallow nets.
    """
    if weight_scale == "he":
        std = np.sqrt(2.0 / fan_in)
    elif isinstance(weight_scale, (int, float)) and not isinstance(weight_scale, bool) and weight_scale > 0:
        std = float(weight_scale)
    else:
        raise ValueError(f"weight_scale must be a positive number or 'he', got {weight_scale!r}")
    return (rng.standard_normal(shape) * std).astype(dtype)
