"""Inverted dropout: keep each value with probability p and scale it by 1 / p.

Scaling at train time keeps the expected activation unchanged, so test time
is the identity and needs no rescaling.
"""

import json

import numpy as np

from ._checks import check_cache, check_choice, check_float_array, check_keep_probability, check_param_dict, check_shape
from ._text import elements, per_element
from .base import MODES, Footprint, Layer, no_macs

__all__ = ["Dropout", "dropout_forward", "dropout_backward"]


def _generator(dropout_param):
    """The generator to draw the mask from: seeded, given, or fresh.

    A seed builds a new generator on every call, so the same seed gives the same
    mask every time; the global ``np.random`` state is never read or changed.
    """
    seed = dropout_param.get("seed")
    if seed is not None:
        return np.random.default_rng(seed)
    rng = dropout_param.get("rng")
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def dropout_forward(x, dropout_param):
    """Forward pass of inverted dropout.

    - x: input of any shape
    - dropout_param: dict with
      - p: the probability of KEEPING each value, in (0, 1]
      - mode: ``'train'`` (drop) or ``'test'`` (identity)
      - seed: optional; when given, the mask depends only on it (for gradient checks)
      - rng: optional ``np.random.Generator`` to draw from when there is no seed;
        without either a fresh generator is used

    Train: u ~ Uniform[0, 1) of x's shape, mask = (u < p) / p in x's dtype,
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
    """

    kind = "dropout"
    display_name = "Dropout"
    gradient_text = r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot mask$."
    rules = {"walkthrough": ("1 per element (as ReLU)", "1 per element"),
             "exact": ("comparison, division, multiplication per element", "1 multiplication per element")}

    def __init__(self, keep=0.5, seed=None, fixed=False, name=None):
        super().__init__(name)
        self.keep = check_keep_probability("keep", keep)
        if fixed and seed is None:
            raise ValueError("fixed=True needs a seed: the fixed mask is the one drawn from it")
        self.seed = seed
        self.fixed = bool(fixed)
        self.rng = np.random.default_rng(seed)

    def reset_state(self, input_shape, dtype):
        """Restart the mask sequence from the seed."""
        self.rng = np.random.default_rng(self.seed)

    def seed_from(self, rng):
        if self.seed is None:
            self.rng = np.random.default_rng(rng.integers(2 ** 63))

    def fix_randomness(self, seed):
        self.seed = seed if self.seed is None else self.seed
        self.fixed = True

    def get_state(self):
        return {"rng": np.array(json.dumps(self.rng.bit_generator.state))}

    def set_state(self, state):
        self.rng.bit_generator.state = json.loads(str(state["rng"]))

    def forward(self, x, params, mode="train"):
        source = {"seed": self.seed} if self.fixed else {"rng": self.rng}
        return dropout_forward(x, {"p": self.keep, "mode": mode, **source})

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
