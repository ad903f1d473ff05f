"""The layer protocol that models, the trainer and the cost model all walk.

A layer object holds a layer's hyperparameters (and, for batchnorm, its running
statistics). Its math lives in the functional kernels of the same module
(``x_forward(...) -> (out, cache)``, ``x_backward(dout, cache)``); the object
only calls them. Trainable parameters are *not* stored in the layer: the model
owns one ``params`` dict (so that the Solver can replace its arrays) and hands
each layer its own entries, under local names such as ``"W"`` and ``"b"``.

Shapes always include the batch dimension: ``(N, C, H, W)`` or ``(N, D)``.

The class is the one place that knows its layer type: ``kind`` registers it (in
:data:`REGISTRY`, which the spec format and the contract tests read), and beside
its kernels it states its cost as named terms (:class:`~tallynet.counts.Term`),
its display name and group in tables, the walkthrough's prose, and its PyTorch
equivalent. The cost methods are required: a type that does not say what it
costs under a convention is an error naming the type, never a silent zero.
"""

from dataclasses import dataclass

import numpy as np

from ..counts import flops_from_terms
from . import _text

MODES = ("train", "test")

#: layer classes by the type name a spec file uses (``conv``, ``relu``, ...); every
#: subclass that sets ``kind`` is registered when it is defined
REGISTRY = {}


class CostNotStated(NotImplementedError):
    """A layer type that does not state one of its costs (a count, its cache, its footprint)."""


def _not_stated(layer, what, method):
    return CostNotStated(f"layer type {layer.kind!r} ({type(layer).__name__}) does not state {what}: "
                         f"define {type(layer).__name__}.{method}")


class Layer:
    """Base class. A subclass sets ``kind`` and states its shapes, math and cost."""

    #: the layer's type, as written in a spec file (``conv``, ``relu``, ...); None: not a layer type
    kind = None
    #: local names of the trainable parameters, in order
    param_names = ()
    #: the local names of the parameters L2 regularisation applies to (weights, not biases
    #: or scales); a layer that has them also takes the next number in parameter names
    regularized = ()
    #: how tables name the layer (seed 001: Conv1, BatchNorm1, ReLU1, MaxPool1, GAP, FC)
    display_name = None
    #: the group of seed 001's breakdown by layer type
    group = None
    #: the walkthrough's section title for the layer
    title = None
    #: the walkthrough's gradient formulas (markdown with LaTeX)
    gradient_text = "As implemented."
    #: ``{convention name: (forward rule, backward rule)}``, the walkthrough's rule table
    rules = {}
    #: the layer type's name in that table (default: the title)
    rule_label = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is None:
            return
        if kind in REGISTRY and REGISTRY[kind] is not cls:
            raise TypeError(f"layer type {kind!r} is already registered by {REGISTRY[kind].__qualname__}; "
                            f"{cls.__qualname__} must choose another kind")
        REGISTRY[kind] = cls
        # names not stated by the class or a base default to the kind (inherited ones stand)
        cls.display_name = cls.display_name or kind
        cls.group = cls.group or cls.display_name
        cls.title = cls.title or cls.display_name
        cls.rule_label = cls.rule_label or cls.title

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

    # --- cost, from shapes alone: required ----------------------------------------
    # Each layer module states these beside its kernels, so the tally and the math
    # change together. Shapes include the batch dimension. A count is a dict
    # ``{"forward" | "backward_input" | "backward_params": [Term, ...]}``; a part left
    # out counts nothing. A layer with nothing to count says so: ``exact_terms = no_flops``.
    def exact_terms(self, input_shape):
        """Every scalar operation the fast kernels execute, as named terms."""
        raise _not_stated(self, "its FLOPs under the 'exact' convention", "exact_terms")

    def walkthrough_terms(self, input_shape):
        """Seed 001's hand counts (the ``walkthrough`` convention), as named terms."""
        raise _not_stated(self, "its FLOPs under the 'walkthrough' convention", "walkthrough_terms")

    def mac_terms(self, input_shape):
        """The forward pass's multiply-accumulates (convolutions and matrix products only) as
        a list of terms of kind ``mac``; ``[]`` for a layer without any."""
        raise _not_stated(self, "its multiply-accumulates (the 'macs' and 'torch' conventions)", "mac_terms")

    def backward_mac_terms(self, input_shape):
        """The backward pass's multiply-accumulates, ``{"backward_input" | "backward_params": [Term]}``
        of kind ``mac``; ``None`` (the default): one product for the input gradient and one for the
        weight gradient, each as many MACs as the forward (a convolution, an affine layer). A layer
        whose products differ says so: a product of two activations has two input gradients and
        no weight gradient; attention's weight gradients need the products between activations."""
        return None

    def cache_bytes(self, input_shape, itemsize):
        """Bytes of the arrays the forward pass allocates and keeps for backward, besides
        its output and the input it references (im2col columns, masks, x_hat, ...)."""
        raise _not_stated(self, "the bytes its forward pass keeps for backward", "cache_bytes")

    def footprint(self, input_shape, itemsize):
        """:class:`Footprint` of the fast kernels' train-mode passes: what the cost model's
        peak memory estimate needs to know beyond the sizes of outputs and caches."""
        raise _not_stated(self, "the memory footprint of its passes", "footprint")

    # --- PyTorch's memory, from shapes alone: required --------------------------------
    # What the layer's twin (``to_torch``) holds in a PyTorch CPU training step, for the cost
    # model's ``memory="torch"`` (:mod:`tallynet.cost.torch_memory`).
    def torch_saved(self, input_shape, dtype):
        """The tensors PyTorch's autograd saves for the twin's backward pass, as a list of
        :class:`Saved`, when its input requires a gradient (or it has parameters)."""
        raise _not_stated(self, "what PyTorch's autograd saves for its twin", "torch_saved")

    def torch_footprint(self, input_shape, itemsize):
        """:class:`Footprint` of the twin's CPU kernels in a PyTorch training step: the peaks of
        its passes (above what existed before: the output and saved tensors of its own included,
        every temporary, such as oneDNN's copies of a convolution's tensors in its blocked layout;
        backward: dx and the parameters' first ``.grad``), ``is_view``, ``grads_are_views`` and
        ``dx_allocated``. What it keeps is :meth:`torch_saved`'s to say, so ``keeps_input`` and
        ``keeps_output`` stay False. Measured with ``torch.profiler`` on float32 (see each class):
        oneDNN's blocked layouts pad the channels to a multiple of 8 or 16, taken at the plain size."""
        raise _not_stated(self, "the memory footprint of its PyTorch twin", "torch_footprint")

    def exact_flops(self, input_shape):
        """:class:`~tallynet.counts.LayerFlops` of :meth:`exact_terms`."""
        return flops_from_terms(self.exact_terms(input_shape))

    def walkthrough_flops(self, input_shape):
        """:class:`~tallynet.counts.LayerFlops` of :meth:`walkthrough_terms`."""
        return flops_from_terms(self.walkthrough_terms(input_shape))

    def macs(self, input_shape):
        """Multiply-accumulates of the forward pass (the sum of :meth:`mac_terms`)."""
        return sum(t.ops.mac for t in self.mac_terms(input_shape))

    # --- the walkthrough's prose -------------------------------------------------
    def describe(self, input_shape):
        """The layer in the architecture overview, e.g. ``Conv(3→32, k=3, s=1, p=1)``."""
        return self.display_name

    def given_lines(self, input_shape):
        """Markdown bullet lines of the layer's hyperparameters ("Given")."""
        return []

    def dims_lines(self, input_shape):
        """How the output dimensions follow from the input's (formulas with the numbers)."""
        return []

    def param_lines(self, input_shape, itemsize):
        """Markdown bullet lines of the trainable parameters and their bytes."""
        return _text.param_lines(self.param_shapes(input_shape), itemsize)

    # --- PyTorch ------------------------------------------------------------------
    def to_torch(self, input_shape, params, nn):
        """A list of ``torch.nn`` modules computing what this layer computes on inputs of
        ``input_shape``, holding ``params`` (``{local name: torch tensor}``, tallynet's layout).

        ``nn`` is ``torch.nn``; ``tallynet.torch_bridge.to_torch`` chains the modules of all layers.
        """
        raise NotImplementedError(f"layer type {self.kind!r} has no PyTorch equivalent")

    # --- description ----------------------------------------------------------
    def config(self):
        """Hyperparameters as a dict, in spec-file form (``{}`` when there are none)."""
        return {}

    def __repr__(self):
        args = [f"{k}={v!r}" for k, v in self.config().items()] + ([f"name={self.name!r}"] if self.name else [])
        return f"{type(self).__name__}({', '.join(args)})"


def no_flops(self, input_shape):
    """A stated zero: the layer computes nothing under a convention (``exact_terms = no_flops``)."""
    return {}


def no_macs(self, input_shape):
    """A stated zero: the layer has no multiply-accumulates (``mac_terms = no_macs``)."""
    return []


def no_bytes(self, input_shape, itemsize):
    """A stated zero: the forward pass keeps nothing for backward besides its input and output."""
    return 0


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
    - grads_are_views: each input's dx is a view of dout (a merge's add and concat)
    - dx_allocated: with is_view, dx is not a view of dout but a new array (PyTorch's select:
      zeros of the input's shape with dout put in)

    (``Layer.torch_footprint`` states the same of the PyTorch twin's kernels.)
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
    grads_are_views: bool = False
    dx_allocated: bool = False

    def training_backward_peak(self, pass_):
        """The backward peak of the pass a training step runs (see ``training_passes``)."""
        if pass_ == "none":
            return 0
        if pass_ == "params" and self.param_backward_peak is not None:
            return self.param_backward_peak
        return self.backward_peak


@dataclass(frozen=True)
class Saved:
    """A tensor PyTorch's autograd saves in the twin's forward pass for its backward.

    ``name`` says whose it is. ``"input"`` (``"input0"``, ``"input1"``, ... for a merge's inputs)
    and ``"output"`` are the layer's own input and output, a parameter or state name (``"W"``,
    ``"running_mean"``) the layer's: those take no bytes of their own, but saving an activation
    keeps it alive until the layer's backward has run. Any other name is a tensor of its own
    (max pooling's indices, dropout's mask, a normalization's mean and inverse standard
    deviation): allocated by the forward pass, freed after the layer's backward.
    """

    name: str
    shape: tuple
    dtype: str   # a NumPy dtype name: "float32", "int64"
    view_of: str = None  # the name of another saved tensor this one is a view of (no bytes of its own)

    def is_extra(self, layer_names=()):
        """Whether this is a tensor of its own: not the layer's input or output, nor one of
        ``layer_names`` (its parameters and state), nor a view of another saved tensor."""
        return not (self.name.startswith("input") or self.name == "output" or self.name in layer_names
                    or self.view_of)

    @property
    def nbytes(self):
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def saves_input(self, input_shape, dtype):
    """Autograd saves the layer's input (its gradient is computed from x)."""
    return [Saved("input", tuple(input_shape), np.dtype(dtype).name)]


def saves_output(self, input_shape, dtype):
    """Autograd saves the layer's output (its gradient is computed from the result: ReLU, sigmoid, tanh)."""
    return [Saved("output", tuple(self.output_shape(input_shape)), np.dtype(dtype).name)]


def saves_nothing(self, input_shape, dtype):
    """A stated nothing: autograd keeps no tensor for the backward (at most the input's sizes)."""
    return []


def torch_output_then_dx(self, input_shape, itemsize):
    """The twin's footprint of an operation whose kernels allocate nothing but its output
    forward and dx backward (an elementwise function, a pooling; measured with the profiler)."""
    return Footprint(forward_peak=int(np.prod(self.output_shape(input_shape))) * itemsize,
                     backward_peak=int(np.prod(input_shape)) * itemsize)


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
