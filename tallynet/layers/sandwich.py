"""Sandwich layers: common runs of layers as one forward/backward pair.

Each forward returns ``(out, cache)`` with cache the tuple of its parts' caches;
each backward undoes the parts in reverse order.
"""

from .activations import relu_backward, relu_forward
from .affine import affine_backward, affine_forward
from .conv import conv_backward_fast, conv_forward_fast
from .batchnorm import spatial_batchnorm_backward, spatial_batchnorm_forward
from .pooling import max_pool_backward_fast, max_pool_forward_fast


def affine_relu_forward(x, w, b):
    """relu(x @ w + b): x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M)."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """dout (N, M) -> (dx, dw, db)."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def conv_relu_forward(x, w, b, conv_param):
    """relu(conv(x)): x (N, C, H, W), w (F, C, kh, kw) -> out (N, F, H', W')."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """dout (N, F, H', W') -> (dx, dw, db)."""
    conv_cache, relu_cache = cache
    return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """relu(spatial_batchnorm(conv(x))); gamma, beta (F,)."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    n, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(n)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """dout (N, F, H', W') -> (dx, dw, db, dgamma, dbeta)."""
    conv_cache, bn_cache, relu_cache = cache
    dn, dgamma, dbeta = spatial_batchnorm_backward(relu_backward(dout, relu_cache), bn_cache)
    dx, dw, db = conv_backward_fast(dn, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """maxpool(relu(conv(x))): x (N, C, H, W), w (F, C, kh, kw) -> out (N, F, H'', W'')."""
    s, inner_cache = conv_relu_forward(x, w, b, conv_param)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (*inner_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """dout (N, F, H'', W'') -> (dx, dw, db)."""
    *inner_cache, pool_cache = cache
    return conv_relu_backward(max_pool_backward_fast(dout, pool_cache), tuple(inner_cache))


def conv_bn_relu_pool_forward(x, w, b, gamma, beta, conv_param, bn_param, pool_param):
    """Seed 001's block: maxpool(relu(spatial_batchnorm(conv(x)))); gamma, beta (F,)."""
    s, inner_cache = conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (*inner_cache, pool_cache)


def conv_bn_relu_pool_backward(dout, cache):
    """dout (N, F, H'', W'') -> (dx, dw, db, dgamma, dbeta)."""
    *inner_cache, pool_cache = cache
    return conv_bn_relu_backward(max_pool_backward_fast(dout, pool_cache), tuple(inner_cache))
