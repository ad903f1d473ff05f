"""The numerical gradient tools against functions whose gradients are known in closed form."""

import numpy as np
import pytest

from tallynet.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, grad_check_sparse, rel_error


def test_scalar_gradient_of_a_cubic():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = eval_numerical_gradient(lambda x: np.sum(x ** 3), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    assert np.array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored after perturbation


def test_array_gradient_is_a_vector_jacobian_product():
    A = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0]])
    x = np.array([0.3, -0.7, 1.1])
    df = np.array([2.0, -1.0])
    np.testing.assert_allclose(eval_numerical_gradient_array(lambda x: A @ x, x, df), A.T @ df, rtol=1e-8)


def test_sparse_check_catches_a_wrong_gradient():
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    f = lambda x: np.sum(np.sin(x))
    assert grad_check_sparse(f, x, np.cos(x), num_checks=8, seed=0, verbose=False) < 1e-8
    assert grad_check_sparse(f, x, 1.1 * np.cos(x), num_checks=8, seed=0, verbose=False) > 1e-2


def test_rel_error():
    assert rel_error(np.array([1.0]), np.array([1.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
