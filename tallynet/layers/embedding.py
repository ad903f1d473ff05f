"""A vision transformer's learned tokens: ``class_token``, a learned (1, 1, D) token put before
the L tokens of each sample, and ``pos_embedding``, a learned (1, L, D) tensor added to every
sample (Dosovitskiy et al. 2021; torchvision's ``class_token`` and ``encoder.pos_embedding``).
"""

import numpy as np

from ..counts import term
from ._checks import check_float_array, check_shape
from ._text import elements, n, per_element
from .base import Footprint, Layer, no_bytes, no_macs, saves_nothing

__all__ = ["ClassToken", "PosEmbedding", "class_token_forward", "class_token_backward",
           "pos_embedding_forward", "pos_embedding_backward"]


def _check_tokens(kind, shape):
    if len(shape) != 3:
        raise ValueError(f"{kind}: input must be tokens of shape (N, L, D), got shape {tuple(shape)}")
    return tuple(shape)


def class_token_forward(x, token):
    """out (N, L + 1, D): token (1, 1, D) at position 0 of every sample, x (N, L, D) after it.
    Returns ``(out, cache)``, cache = the batch size."""
    check_float_array("x", x, ndim=3)
    check_shape("token", token, (1, 1, x.shape[2]))
    out = np.empty((x.shape[0], x.shape[1] + 1, x.shape[2]), dtype=x.dtype)
    out[:, :1] = token
    out[:, 1:] = x
    return out, x.shape[0]


def class_token_backward(dout, cache):
    """dx = dout[:, 1:] (a view); dtoken = the sum of dout[:, 0] over the batch, (1, 1, D)."""
    check_float_array("dout", dout, ndim=3)
    check_shape("dout", dout, (cache, None, None))
    return dout[:, 1:], dout[:, :1].sum(axis=0, keepdims=True)


def pos_embedding_forward(x, embedding):
    """out = x + embedding, x (N, L, D) and embedding (1, L, D). Returns ``(out, cache)``, cache = x.shape."""
    check_float_array("x", x, ndim=3)
    check_shape("embedding", embedding, (1,) + x.shape[1:])
    return x + embedding, x.shape


def pos_embedding_backward(dout, cache):
    """dx = dout (the same array); dembedding = the sum of dout over the batch, (1, L, D)."""
    check_shape("dout", dout, cache)
    return dout, dout.sum(axis=0, keepdims=True)


class _Learned(Layer):
    """A learned tensor joined to (N, L, D) tokens: what the class token and the embedding share."""

    group = "Embedding"
    mac_terms = no_macs
    cache_bytes = no_bytes

    def walkthrough_terms(self, input_shape):
        return self.exact_terms(input_shape)

    def param_shapes(self, input_shape):
        return {self.param_names[0]: self._param_shape(_check_tokens(self.kind, input_shape))}

    def footprint(self, input_shape, itemsize):
        # forward: the output; backward: the parameter's gradient, dx is dout or a view of it
        out = elements(self.output_shape(input_shape))
        return Footprint(forward_peak=out * itemsize, backward_peak=elements(self._param_shape(input_shape)) * itemsize,
                         grads_are_views=True)

    torch_saved = saves_nothing  # torch.cat and x + embedding keep sizes only

    def torch_footprint(self, input_shape, itemsize):
        # forward: the output; backward: the parameter's gradient (a sum of dout), dx dout or a view of it
        out = elements(self.output_shape(input_shape))
        return Footprint(forward_peak=out * itemsize,
                         backward_peak=elements(self._param_shape(input_shape)) * itemsize, grads_are_views=True)

    def to_torch(self, input_shape, params, nn):
        from ..torch_bridge import function_module
        return [function_module(self.display_name.replace(" ", ""), self._torch_forward, params)]


class ClassToken(_Learned):
    """A learned token (parameter ``class_token``, (1, 1, D), zeros at first as torchvision's)
    put before each sample's L tokens: (N, L, D) to (N, L + 1, D)."""

    kind = "class_token"
    param_names = ("class_token",)
    display_name = "Class token"
    title = "Class Token"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x}$ is $\frac{\partial \mathcal{L}}{\partial y}$ "
                     r"without position 0; the token's gradient sums position 0 over the batch.")
    rules = {"walkthrough": ("as `exact`", "as `exact`"),
             "exact": ("0: a copy", "the token's gradient: a sum over the batch")}

    @staticmethod
    def _param_shape(shape):
        return (1, 1, shape[2])

    def output_shape(self, input_shape):
        N, L, D = _check_tokens(self.kind, input_shape)
        return (N, L + 1, D)

    def init_params(self, input_shape, rng, weight_scale, dtype):
        return {"class_token": np.zeros(self.param_shapes(input_shape)["class_token"], dtype=dtype)}

    def exact_terms(self, input_shape):
        N, L, D = _check_tokens(self.kind, input_shape)
        return {"backward_params": [term("the token's gradient: position 0 of dout summed over the batch",
                                         r"D \times (N - 1)", (D, N - 1), "add")]}

    def describe(self, input_shape):
        return f"Class token (L {n(input_shape[1])} → {n(input_shape[1] + 1)})"

    def given_lines(self, input_shape):
        return [f"- **Operation**: a learned token of $D = {n(input_shape[2])}$ values put before each sample's "
                f"$L = {n(input_shape[1])}$ tokens"]

    @staticmethod
    def _torch_forward(x, token):
        import torch
        return torch.cat([token.expand(x.shape[0], -1, -1), x], dim=1)

    def forward(self, x, params, mode="train"):
        return class_token_forward(x, params["class_token"])

    def backward(self, dout, cache):
        dx, dtoken = class_token_backward(dout, cache)
        return dx, {"class_token": dtoken}


class PosEmbedding(_Learned):
    """A learned positional embedding (parameter ``pos_embedding``, (1, L, D), normal with standard
    deviation 0.02 at first, as torchvision's) added to each sample's tokens."""

    kind = "pos_embedding"
    param_names = ("pos_embedding",)
    display_name = "Position embedding"
    title = "Positional Embedding"
    gradient_text = (r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y}$; "
                     r"the embedding's gradient sums $\frac{\partial \mathcal{L}}{\partial y}$ over the batch.")
    rules = {"walkthrough": ("as `exact`: 1 per element", "as `exact`"),
             "exact": ("1 addition per element", "the embedding's gradient: a sum over the batch")}

    @staticmethod
    def _param_shape(shape):
        return (1,) + tuple(shape[1:])

    def output_shape(self, input_shape):
        return _check_tokens(self.kind, input_shape)

    def init_params(self, input_shape, rng, weight_scale, dtype):
        shape = self.param_shapes(input_shape)["pos_embedding"]
        return {"pos_embedding": (0.02 * rng.standard_normal(shape)).astype(dtype)}

    def exact_terms(self, input_shape):
        N, L, D = _check_tokens(self.kind, input_shape)
        return {"forward": [per_element(r"$x + E$", input_shape, "add")],
                "backward_params": [term("the embedding's gradient: dout summed over the batch",
                                         r"L \times D \times (N - 1)", (L, D, N - 1), "add")]}

    def given_lines(self, input_shape):
        return [f"- **Operation**: a learned $({n(input_shape[1])}, {n(input_shape[2])})$ tensor added to each sample"]

    @staticmethod
    def _torch_forward(x, embedding):
        return x + embedding

    def forward(self, x, params, mode="train"):
        return pos_embedding_forward(x, params["pos_embedding"])

    def backward(self, dout, cache):
        dx, dembedding = pos_embedding_backward(dout, cache)
        return dx, {"pos_embedding": dembedding}
