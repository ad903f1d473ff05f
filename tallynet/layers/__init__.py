"""The functional layer API of seed 002 (``x_forward(...) -> (out, cache)``,
``x_backward(dout, cache)``) and the layer objects that models compose.

One module per layer family; each holds the kernels and the layer class together.
"""

from .activations import ReLU, Sigmoid, relu_backward, relu_forward, sigmoid_backward, sigmoid_forward
from .affine import Affine, affine_backward, affine_forward, affine_param_grads
from .base import Footprint, Layer
from .flatten import Flatten, flatten_backward, flatten_forward
from .losses import LOSSES, mse_loss, softmax_loss, svm_loss
from .dropout import Dropout, dropout_backward, dropout_forward
from .normalization import (
    BatchNorm,
    GroupNorm,
    LayerNorm,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
    spatial_layernorm_backward,
    spatial_layernorm_forward,
)
from .conv import (Conv2d, conv_backward_fast, conv_backward_naive, conv_forward_fast, conv_forward_naive,
                   conv_param_grads_fast)
from .im2col import col2im, im2col
from .pooling import (
    AvgPool2d,
    GlobalAvgPool,
    MaxPool2d,
    avg_pool_backward,
    avg_pool_forward,
    global_avg_pool_backward,
    global_avg_pool_forward,
    max_pool_backward_fast,
    max_pool_backward_naive,
    max_pool_forward_fast,
    max_pool_forward_naive,
)

#: layer classes by the type name a spec file uses (``conv``, ``relu``, ...)
LAYER_TYPES = {cls.kind: cls for cls in (Affine, ReLU, Sigmoid, Flatten, Dropout, BatchNorm, LayerNorm,
                                         GroupNorm, Conv2d, MaxPool2d, AvgPool2d, GlobalAvgPool)}
