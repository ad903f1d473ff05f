"""The sandwich pairs: numerical gradients of every input."""

import numpy as np
import pytest

from conftest import assert_numerical_gradients
from tallynet.layers.sandwich import (
    affine_relu_backward, affine_relu_forward, conv_bn_relu_pool_backward, conv_bn_relu_pool_forward,
    conv_relu_pool_backward, conv_relu_pool_forward,
)

rng = np.random.default_rng(4)
CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def check(forward, backward, args, tol):
    out, cache = forward(*args)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    assert_numerical_gradients(lambda: forward(*args)[0], dict(enumerate(args)), dict(enumerate(grads)), dout, tol)


def test_affine_relu():
    check(affine_relu_forward, affine_relu_backward,
          [rng.standard_normal((3, 2, 3)), rng.standard_normal((6, 4)), rng.standard_normal(4)], 1e-7)


def test_conv_relu_pool():
    def forward(x, w, b):
        return conv_relu_pool_forward(x, w, b, CONV, POOL)

    check(forward, conv_relu_pool_backward,
          [rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((3, 3, 3, 3)), rng.standard_normal(3)], 1e-7)


@pytest.mark.parametrize("shape", [(2, 3, 6, 6), (1, 2, 4, 6)])
def test_conv_bn_relu_pool(shape):
    C = shape[1]
    args = [rng.standard_normal(shape), rng.standard_normal((4, C, 3, 3)), rng.standard_normal(4),
            1 + 0.1 * rng.standard_normal(4), 0.1 * rng.standard_normal(4)]

    def forward(x, w, b, gamma, beta):
        return conv_bn_relu_pool_forward(x, w, b, gamma, beta, CONV, {"mode": "train"}, POOL)

    check(forward, conv_bn_relu_pool_backward, args, 1e-6)
