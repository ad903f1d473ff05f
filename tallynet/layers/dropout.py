"""Inverted dropout: keep each value with probability p and scale it by 1 / p.

Scaling at train time keeps the expected activation unchanged, so test time
is the identity and needs no rescaling.
"""

import json

import numpy as np

from ._checks import check_cache, check_choice, check_float_array, check_keep_probability, check_param_dict, check_shape
from ._text import elements, per_element
from .base import MODES, Footprint, Layer, Saved, no_macs

__all__ = ["Dropout", "dropout_forward", "dropout_backward"]


def _generator(dropout_param):
    """The generator to draw the mask from, as in the course whose API this is.

    - ``seed``: NumPy's global generator, reseeded with it (``np.random.seed(seed)``,
      the course's code), so the same seed gives the same mask at every call;
    - ``rng``: that generator (a ``np.random.Generator`` or a legacy ``RandomState``);
    - neither: NumPy's global generator as it stands (so ``np.random.seed(231)``
      before the call reproduces the course's masks).

    The :class:`Dropout` layer passes a generator of its own, so models never touch
    the global state (except the course's FullyConnectedNet, which does as the course).
    """
    seed = dropout_param.get("seed")
    if seed is not None:
        np.random.seed(seed)
    rng = None if seed is not None else dropout_param.get("rng")
    if rng is None:
        return np.random  # the module's functions draw from the global generator
    if not isinstance(rng, (np.random.Generator, np.random.RandomState)):
        raise TypeError(f"rng must be a numpy.random.Generator or RandomState, got {type(rng).__name__}")
    return rng


def dropout_forward(x, dropout_param):
    """Forward pass of inverted dropout.

    - x: input of any shape
    - dropout_param: dict with
      - p: the probability of KEEPING each value, in (0, 1]
      - mode: ``'train'`` (drop) or ``'test'`` (identity)
      - seed: optional; when given, NumPy's global generator is reseeded with it and
        the mask depends only on it (for gradient checks), as in the course
      - rng: optional ``np.random.Generator`` (or ``RandomState``) to draw from when
        there is no seed; without either, NumPy's global generator (the course's)

    Train: u ~ Uniform[0, 1) of x's shape (``np.random.rand(*x.shape)`` for the
    global generator: the course's masks, bit for bit), mask = (u < p) / p in x's dtype,
    out = x * mask. Test: out = x, mask = None. u is drawn in float64 whatever
    x's dtype, so a seed gives the same mask in float32 and in float64.

    Returns ``(out, cache)``: out of x's shape and dtype, cache = (dropout_param, mask).
    """
    check_float_array("x", x)
    check_param_dict("dropout_param", dropout_param)
    p = check_keep_probability("p", dropout_param.get("p"))
    mode = check_choice("mode", dropout_param.get("mode"), MODES)
    if mode == "test":
        return x, (dropout_param, None)
    u = _generator(dropout_param).random(x.shape)
    mask = (u < p).astype(x.dtype) / p
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout.

    - dout: upstream derivative, of x's shape
    - cache: (dropout_param, mask) from :func:`dropout_forward`

    dx = dout * mask in train mode, dx = dout in test mode. The mode is read from
    the cached mask (None in test mode), not from dropout_param, so changing the
    dict's mode between the two passes cannot mismatch them.
    """
    _, mask = check_cache("cache", cache, 2, "dropout_forward")
    check_float_array("dout", dout)
    if mask is None:
        return dout
    check_shape("dout", dout, mask.shape)
    return (dout * mask).astype(mask.dtype, copy=False)


class Dropout(Layer):
    """Inverted dropout keeping each value with probability ``keep``.

    The layer owns its generator, ``np.random.default_rng(seed)``, so a seeded
    model draws the same sequence of masks on every run; :meth:`get_state`
    returns the generator's state (as a JSON string in a 0-d array, so that
    checkpoints hold arrays only) and a resumed run draws the masks the
    interrupted one would have. With ``fixed=True`` every call uses the same
    mask, drawn from ``seed``: seed 002's deterministic dropout, which a
    numerical gradient check of a whole model needs. Test mode is the identity.
    The global ``np.random`` state is never read or changed, unless
    :meth:`use_numpy_global` asks for the course's behaviour.
    """

    kind = "dropout"
    display_name = "Dropout"
    gradient_text = r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot mask$."
    rules = {"walkthrough": ("1 per element (as ReLU)", "1 per element"),
             "exact": ("comparison, division, multiplication per element", "1 multiplication per element")}
    #: draw from NumPy's global generator, as the course's FullyConnectedNet does
    numpy_global = False

    def __init__(self, keep=0.5, seed=None, fixed=False, name=None):
        super().__init__(name)
        self.keep = check_keep_probability("keep", keep)
        if fixed and seed is None:
            raise ValueError("fixed=True needs a seed: the fixed mask is the one drawn from it")
        self.seed = seed
        self.fixed = bool(fixed)
        self.rng = np.random.default_rng(seed)

    def use_numpy_global(self):
        """Draw the masks as the course's FullyConnectedNet does: from NumPy's global
        generator, which a fixed layer reseeds with its seed at every call
        (``np.random.seed(seed)``, the course's ``dropout_forward``). That state is
        NumPy's, so :meth:`get_state` has nothing to save. Returns the layer."""
        self.numpy_global, self.rng = True, None
        return self

    def reset_state(self, input_shape, dtype):
        """Restart the mask sequence from the seed."""
        if not self.numpy_global:
            self.rng = np.random.default_rng(self.seed)

    def seed_from(self, rng):
        if self.seed is None and not self.numpy_global:
            self.rng = np.random.default_rng(rng.integers(2 ** 63))

    def fix_randomness(self, seed):
        self.seed = seed if self.seed is None else self.seed
        self.fixed = True

    def get_state(self):
        if self.numpy_global:
            return {}
        return {"rng": np.array(json.dumps(self.rng.bit_generator.state))}

    def set_state(self, state):
        if not self.numpy_global:
            self.rng.bit_generator.state = json.loads(str(state["rng"]))

    def forward(self, x, params, mode="train"):
        if self.numpy_global:
            source = {"seed": self.seed} if self.fixed else {}
        elif self.fixed:  # a fresh generator from the seed: the same mask at every call
            source = {"rng": np.random.default_rng(self.seed)}
        else:
            source = {"rng": self.rng}
        dropout_param = {"p": self.keep, "mode": mode, **source}
        out, cache = dropout_forward(x, dropout_param)
        if self.fixed and not self.numpy_global:
            del dropout_param["rng"]  # the cache keeps the mask, not a generator made for one call
        return out, cache

    def backward(self, dout, cache):
        return dropout_backward(dout, cache), {}

    # --- cost, from shapes alone: train mode (test mode is the identity) ---------------
    def exact_terms(self, input_shape):
        # forward: u < p (cmp), the mask / p (div), x * mask (mul), 1 each per element;
        # drawing u is random number generation, not arithmetic. Backward: dout * mask.
        s = input_shape
        return {"forward": [per_element("$u < p$", s, "cmp"), per_element("mask $/ p$", s, "div"),
                            per_element(r"$x \cdot mask$", s, "mul")],
                "backward_input": [per_element(r"$dout \cdot mask$", s, "mul")]}

    def walkthrough_terms(self, input_shape):
        """Not in seed 001; counted as its ReLU: 1 per element each way, the multiplication by the mask."""
        return {"forward": [per_element("multiplication by the mask, 1 per element", input_shape, "mul")],
                "backward_input": [per_element("multiplication by the mask, 1 per element", input_shape, "mul")]}

    mac_terms = no_macs

    def cache_bytes(self, input_shape, itemsize):
        # the scaled mask, in x's dtype
        return elements(input_shape) * itemsize

    def footprint(self, input_shape, itemsize):
        # forward: u, drawn in float64, beside the boolean u < p and its cast (which the
        # division by p then reuses as the mask), later beside the mask and the output;
        # backward: dx
        n = elements(input_shape)
        return Footprint(forward_peak=8 * n + max(n + n * itemsize, 2 * n * itemsize), backward_peak=n * itemsize)

    def torch_saved(self, input_shape, dtype):
        """On the CPU ``nn.Dropout`` draws noise of x's shape and dtype (bernoulli, divided by
        the keep probability in place) and returns x * noise: the multiplication saves the
        noise, its mask. Keeping everything (``keep`` 1) returns x itself and saves nothing."""
        return [Saved("mask", tuple(input_shape), np.dtype(dtype).name)] if self.keep < 1 else []

    def torch_footprint(self, input_shape, itemsize):
        # forward: the mask and the output; backward: dx = dout * mask
        n = elements(input_shape) * itemsize
        return Footprint(forward_peak=2 * n, backward_peak=n) if self.keep < 1 else Footprint(is_view=True)

    def describe(self, input_shape):
        return f"Dropout(keep={self.keep:g})"

    def given_lines(self, input_shape):
        return [f"- **Keep probability**: $p = {self.keep:g}$ (inverted dropout: kept values are scaled by "
                "$1/p$; test mode is the identity)"]

    def to_torch(self, input_shape, params, nn):
        return [nn.Dropout(1 - self.keep)]  # PyTorch's p is the drop probability; it draws its own masks

    def config(self):
        config = {"keep": self.keep}
        if self.seed is not None:
            config["seed"] = self.seed
        if self.fixed:
            config["fixed"] = True
        return config
