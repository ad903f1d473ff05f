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


def numpy_global_or(rng):
    """The generator a course model draws its initial weights from: ``rng`` when given, else
    NumPy's global one (``np.random``), as the course's ``weight_scale * np.random.randn(...)``.

    The layers draw ``rng.standard_normal(shape)`` in the course's order (W1, then W2, ...;
    biases, gamma and beta are constants), and the legacy global generator's
    ``standard_normal(shape)`` is the stream of ``np.random.randn(*shape)``, so after
    ``np.random.seed(231)`` the weights are the course's, bit for bit.
    """
    return np.random if rng is None else rng


class FullyConnectedNet(Sequential):
    """{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    The course's class (cs231n/classifiers/fc_net.py), its signature and parameter names:

    - hidden_dims: sizes of the L - 1 hidden layers
    - input_dim: size of one (flattened) input; inputs of shape (N, d_1, ..., d_k)
      with d_1 * ... * d_k = input_dim are accepted. A tuple (one sample's shape,
      what a spec's ``input`` gives) is accepted too, and kept as the model's input shape
    - num_classes: number of scores
    - dropout_keep_ratio: keep probability of the dropout layers; 1 means no dropout
    - normalization: None, ``"batchnorm"`` or ``"layernorm"``
    - reg: L2 strength on the weights
    - weight_scale: std of the initial weights (or ``"he"``)
    - dtype: float32 to train, float64 to gradient-check
    - seed: as in the course, fixes dropout only: every call uses the one mask drawn
      after ``np.random.seed(seed)``, which a numerical gradient check needs
    - rng: where the initial weights and the dropout masks come from. None (the
      course's behaviour): NumPy's global generator, layer by layer, so that
      ``np.random.seed(231)`` before the call gives the course's weights and the
      notebooks' printed losses; a fixed mask reseeds that generator at every call,
      as the course's ``dropout_forward`` does. A ``np.random.Generator`` (what specs
      pass): weights and masks from it (a fixed mask from ``np.random.default_rng(seed)``),
      and the global state is never touched.

    Parameters are ``W1, b1, gamma1, beta1, ..., WL, bL``.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None, rng=None):
        layers = fcnet_layers(hidden_dims, num_classes, dropout_keep_ratio, normalization, seed,
                              fixed_dropout=seed is not None)
        if rng is None:
            for layer in layers:
                if isinstance(layer, Dropout):
                    layer.use_numpy_global()
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.num_layers = 1 + len(hidden_dims)
        shape = tuple(input_dim) if isinstance(input_dim, (tuple, list)) else (check_int("input_dim", input_dim, 1),)
        super().__init__(layers, shape, loss="softmax", reg=reg, weight_scale=weight_scale, dtype=dtype,
                         rng=numpy_global_or(rng))


class TwoLayerNet(Sequential):
    """affine - relu - affine - softmax: the course's older two-layer net (fc_net.py, 2016-2020).

    Same signature as the course's: ``TwoLayerNet(input_dim=3*32*32, hidden_dim=100,
    num_classes=10, weight_scale=1e-3, reg=0.0)``; parameters ``W1, b1, W2, b2`` in
    float64 (the course keeps NumPy's default dtype), weights drawn from NumPy's global
    generator as the course does (``rng`` as for :class:`FullyConnectedNet`).
    """

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 rng=None):
        layers = [Affine(check_int("hidden_dim", hidden_dim, 1)), ReLU(), Affine(check_int("num_classes", num_classes, 1))]
        super().__init__(layers, (check_int("input_dim", input_dim, 1),), loss="softmax", reg=reg,
                         weight_scale=weight_scale, dtype=np.float64, rng=numpy_global_or(rng))
