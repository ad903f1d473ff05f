"""``cs231n.layer_utils``: the course's sandwich layers (:mod:`tallynet.layers.sandwich`)."""

from ..layers.sandwich import (affine_relu_backward, affine_relu_forward, conv_bn_relu_backward, conv_bn_relu_forward,
                               conv_relu_backward, conv_relu_forward, conv_relu_pool_backward, conv_relu_pool_forward)

__all__ = ["affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
           "conv_bn_relu_forward", "conv_bn_relu_backward", "conv_relu_pool_forward", "conv_relu_pool_backward"]
