"""``cs231n.layers``: the course's functional layers, tallynet's kernels under the course's names."""

from ..layers import (affine_backward, affine_forward, batchnorm_backward, batchnorm_backward_alt,
                      batchnorm_forward, conv_backward_naive, conv_forward_naive, dropout_backward,
                      dropout_forward, layernorm_backward, layernorm_forward, max_pool_backward_naive,
                      max_pool_forward_naive, relu_backward, relu_forward, softmax_loss, spatial_batchnorm_backward,
                      spatial_batchnorm_forward, spatial_groupnorm_backward, spatial_groupnorm_forward, svm_loss)

__all__ = ["affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss", "svm_loss",
           "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
           "layernorm_backward", "dropout_forward", "dropout_backward", "conv_forward_naive", "conv_backward_naive",
           "max_pool_forward_naive", "max_pool_backward_naive", "spatial_batchnorm_forward",
           "spatial_batchnorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward"]
