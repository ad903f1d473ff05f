"""The course's three-layer convolutional net (cs231n/classifiers/cnn.py), built from layer objects."""

import numpy as np

from ..layers import Affine, Conv2d, MaxPool2d, ReLU
from ..layers._checks import check_int
from .fcnet import numpy_global_or
from .sequential import Sequential


class ThreeLayerConvNet(Sequential):
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax.

    The course's signature, parameter names and behaviour:

    - input_dim: (C, H, W) of one sample
    - num_filters, filter_size: the convolution's F filters of filter_size x filter_size,
      stride 1 and pad (filter_size - 1) // 2 (the spatial size is kept for odd sizes)
    - hidden_dim: units of the hidden affine layer; num_classes: scores
    - weight_scale: std of the initial weights; reg: L2 strength on W1, W2, W3
    - dtype: of the parameters and the computation
    - rng: None draws W1, W2, W3 (in that order) from NumPy's global generator, as the
      course does; a ``np.random.Generator`` draws them from it

    Parameters: W1 (F, C, filter_size, filter_size), b1 (F,), W2 (F H/2 W/2, hidden_dim),
    b2, W3 (hidden_dim, num_classes), b3.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float32, rng=None):
        if len(tuple(input_dim)) != 3:
            raise ValueError(f"input_dim must be (C, H, W), got {input_dim!r}")
        filter_size = check_int("filter_size", filter_size, 1)
        layers = [Conv2d(num_filters, filter_size, stride=1, pad=(filter_size - 1) // 2), ReLU(),
                  MaxPool2d(2, 2), Affine(check_int("hidden_dim", hidden_dim, 1)), ReLU(),
                  Affine(check_int("num_classes", num_classes, 1))]
        super().__init__(layers, tuple(input_dim), loss="softmax", reg=reg, weight_scale=weight_scale,
                         dtype=dtype, rng=numpy_global_or(rng))
