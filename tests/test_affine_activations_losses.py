"""Affine, ReLU, sigmoid, flatten and the losses: gradients, dtypes, hand values, bad input."""

import numpy as np
import pytest

from conftest import assert_numerical_gradients
from tallynet.layers import (
    affine_backward, affine_forward, flatten_backward, flatten_forward, mse_loss, relu_backward,
    relu_forward, sigmoid_backward, sigmoid_forward, softmax_loss, svm_loss,
)

rng = np.random.default_rng(0)


def test_affine_matches_hand_computation():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
    b = np.array([0.5, -0.5, 0.0])
    out, _ = affine_forward(x, w, b)
    np.testing.assert_allclose(out, [[5.5, 1.5, 0.0], [11.5, 3.5, -1.0]])


def test_sigmoid_values_and_extremes():
    out, _ = sigmoid_forward(np.array([0.0, np.log(3.0), -1000.0, 1000.0]))
    np.testing.assert_allclose(out, [0.5, 0.75, 0.0, 1.0])
    assert np.all(np.isfinite(out))


def test_flatten_round_trip():
    x = rng.standard_normal((2, 3, 4, 5))
    out, cache = flatten_forward(x)
    assert out.shape == (2, 60)
    assert np.array_equal(flatten_backward(out, cache), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_input_dtype(dtype):
    x = rng.standard_normal((3, 4)).astype(dtype)
    w = rng.standard_normal((4, 2)).astype(dtype)
    b = np.zeros(2, dtype)
    out, cache = affine_forward(x, w, b)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in affine_backward(out, cache))
    for forward, backward in [(relu_forward, relu_backward), (sigmoid_forward, sigmoid_backward)]:
        out, cache = forward(x)
        assert out.dtype == dtype and backward(out, cache).dtype == dtype
    for loss_fn in (softmax_loss, svm_loss):
        _, dx = loss_fn(x, np.array([0, 1, 3]))
        assert dx.dtype == dtype
    assert mse_loss(x, np.zeros_like(x))[1].dtype == dtype


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
def test_classification_loss_gradients(loss_fn):
    x = rng.standard_normal((6, 5))
    y = rng.integers(5, size=6)
    _, dx = loss_fn(x, y)
    assert_numerical_gradients(lambda: loss_fn(x, y)[0], {"x": x}, {"x": dx})


def test_softmax_loss_is_log_classes_for_equal_scores():
    loss, _ = softmax_loss(np.zeros((4, 10)), np.array([0, 3, 9, 2]))
    assert loss == pytest.approx(np.log(10))


def test_svm_loss_hand_value():
    # sample 0: margins max(0, 2-3+1)=0, max(0, 1-3+1)=0; sample 1: max(0, 3-1+1)=3, max(0, 2-1+1)=2
    loss, _ = svm_loss(np.array([[3.0, 2.0, 1.0], [1.0, 3.0, 2.0]]), np.array([0, 0]))
    assert loss == pytest.approx((0 + 5) / 2)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_mse_loss_value_and_gradient(reduction):
    x = rng.standard_normal((4, 2))
    y = rng.standard_normal((4, 2))
    loss, dx = mse_loss(x, y, reduction)
    expected = np.sum((x - y) ** 2) / (4 if reduction == "mean" else 1)
    assert loss == pytest.approx(expected)
    assert_numerical_gradients(lambda: mse_loss(x, y, reduction)[0], {"x": x}, {"x": dx})


def test_seed003_sigmoid_network_gradients():
    """Seed 003, Q2: z1 = h(x w_x1), z2 = h(z1 w_12), z3 = h(z1 w_13), E = sum (z2 - y2)^2 + (z3 - y3)^2.

    The layers' chain rule is compared with the homework's closed forms, e.g.
    dE/dw_13 = sum_i 2 (z3 - y3_i) z3 (1 - z3) z1.
    """
    x = np.array([[0.5], [-1.2], [2.0]])
    y = np.array([[0.2, 0.9], [0.4, 0.1], [0.7, 0.6]])
    w_x1, w_12, w_13 = 0.8, -1.5, 0.6
    a1, c1 = affine_forward(x, np.array([[w_x1]]), np.zeros(1))
    z1, s1 = sigmoid_forward(a1)
    a23, c23 = affine_forward(z1, np.array([[w_12, w_13]]), np.zeros(2))
    z23, s23 = sigmoid_forward(a23)
    E, dz23 = mse_loss(z23, y)
    _, dw23, _ = affine_backward(sigmoid_backward(dz23, s23), c23)
    dz1, _, _ = affine_backward(sigmoid_backward(dz23, s23), c23)
    _, dw1, _ = affine_backward(sigmoid_backward(dz1, s1), c1)

    z2, z3 = z23[:, 0], z23[:, 1]
    h = z1[:, 0]
    dE_dw12 = np.sum(2 * (z2 - y[:, 0]) * z2 * (1 - z2) * h)
    dE_dw13 = np.sum(2 * (z3 - y[:, 1]) * z3 * (1 - z3) * h)
    dE_dwx1 = np.sum((2 * (z2 - y[:, 0]) * z2 * (1 - z2) * w_12 + 2 * (z3 - y[:, 1]) * z3 * (1 - z3) * w_13)
                     * h * (1 - h) * x[:, 0])
    assert E == pytest.approx(np.sum((z2 - y[:, 0]) ** 2 + (z3 - y[:, 1]) ** 2))
    np.testing.assert_allclose(dw23[0], [dE_dw12, dE_dw13], rtol=1e-12)
    np.testing.assert_allclose(dw1[0, 0], dE_dwx1, rtol=1e-12)


@pytest.mark.parametrize("call, argument", [
    (lambda: affine_forward(np.zeros(3), np.zeros((3, 2)), np.zeros(2)), "x"),
    (lambda: affine_forward(np.zeros((2, 3)), np.zeros((4, 2)), np.zeros(2)), "w"),
    (lambda: affine_forward(np.zeros((2, 3)), np.zeros((3, 2)), np.zeros(3)), "b"),
    (lambda: affine_forward(np.zeros((2, 3), dtype=int), np.zeros((3, 2)), np.zeros(2)), "x"),
    (lambda: softmax_loss(np.zeros((2, 3)), np.array([0, 3])), "y"),
    (lambda: softmax_loss(np.zeros((2, 3)), np.array([0, 1, 2])), "y"),
    (lambda: softmax_loss(np.zeros((2, 3)), np.array([0.5, 1.0])), "y"),
    (lambda: mse_loss(np.zeros((2, 3)), np.zeros((2, 4))), "y"),
    (lambda: mse_loss(np.zeros((2, 3)), np.zeros((2, 3)), "avg"), "reduction"),
])
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises((ValueError, TypeError), match=rf"\b{argument}\b"):
        call()
