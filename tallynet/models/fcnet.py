"""The multi-layer fully connected net of seed 002, built from layer objects."""

import numpy as np

from ..layers import Affine, ReLU
from ..layers._checks import check_choice, check_int, check_keep_probability
from ..layers.dropout import Dropout
from ..layers.batchnorm import BatchNorm
from ..layers.normalization import LayerNorm
from .sequential import Sequential

NORMALIZATIONS = {None: None, "batchnorm": BatchNorm, "layernorm": LayerNorm}


def fcnet_layers(hidden_dims, num_classes=10, dropout_keep_ratio=1, normalization=None, seed=None,
                 fixed_dropout=False):
    """The layer list {affine - [norm] - relu - [dropout]} x (L - 1) - affine.

    Dropout layers draw from a generator seeded with ``seed``; with ``fixed_dropout``
    they reuse one mask at every call (seed 002's deterministic dropout).
    """
    hidden_dims = [check_int("hidden_dims[]", h, 1) for h in hidden_dims]
    check_int("num_classes", num_classes, 1)
    keep = check_keep_probability("dropout_keep_ratio", dropout_keep_ratio)
    norm = NORMALIZATIONS[check_choice("normalization", normalization, tuple(NORMALIZATIONS))]
    layers = []
    for h in hidden_dims:
        layers.append(Affine(h))
        if norm is not None:
            layers.append(norm())
        layers.append(ReLU())
        if keep != 1:
            layers.append(Dropout(keep, seed=seed, fixed=fixed_dropout))
    layers.append(Affine(num_classes))
    return layers


class FullyConnectedNet(Sequential):
    """{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    - hidden_dims: sizes of the L - 1 hidden layers
    - input_dim: size of one (flattened) input; inputs of shape (N, d_1, ..., d_k)
      with d_1 * ... * d_k = input_dim are accepted
    - num_classes: number of scores
    - dropout_keep_ratio: keep probability of the dropout layers; 1 means no dropout
    - normalization: None, ``"batchnorm"`` or ``"layernorm"``
    - reg: L2 strength on the weights
    - weight_scale: std of the initial weights (or ``"he"``)
    - dtype: float32 to train, float64 to gradient-check
    - seed: seeds the weights and makes dropout deterministic (the same mask at
      every call, as in seed 002), which is what a numerical gradient check needs

    Parameters are ``W1, b1, gamma1, beta1, ..., WL, bL``.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        layers = fcnet_layers(hidden_dims, num_classes, dropout_keep_ratio, normalization, seed,
                              fixed_dropout=seed is not None)
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.num_layers = 1 + len(hidden_dims)
        super().__init__(layers, (check_int("input_dim", input_dim, 1),), loss="softmax", reg=reg,
                         weight_scale=weight_scale, dtype=dtype, seed=seed)
