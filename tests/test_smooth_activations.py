"""The new activations' pieces by hand, erf's accuracy, and PyTorch over a wide range of inputs."""

import math

import numpy as np
import pytest

from tallynet.layers import (gelu_forward, hardsigmoid_backward, hardsigmoid_forward, hardswish_backward,
                             hardswish_forward, relu6_backward, relu6_forward, silu_forward)
from tallynet.layers.smooth_activations import _erf


def test_erf_has_a_float64_relative_error_below_1e_14():
    z = np.concatenate([np.linspace(-7, 7, 20001), np.geomspace(1e-300, 30, 2001), -np.geomspace(1e-300, 30, 2001),
                        [0.46875, -0.46875, 4.0, -4.0, np.nextafter(4.0, 5), np.nextafter(0.46875, 1)]])
    reference = np.array([math.erf(v) for v in z])
    assert np.max(np.abs(_erf(z) - reference) / np.maximum(np.abs(reference), 1e-300)) < 1e-14
    np.testing.assert_array_equal(_erf(np.array([0.0, np.inf, -np.inf])), [0.0, 1.0, -1.0])
    assert _erf(np.linspace(-3, 3, 7, dtype=np.float32)).dtype == np.float32


def test_the_pieces_of_the_hard_activations():
    x = np.array([-7.0, -3.5, -1.5, 0.0, 1.5, 3.5, 7.0])
    np.testing.assert_array_equal(relu6_forward(x)[0], [0, 0, 0, 0, 1.5, 3.5, 6])
    np.testing.assert_array_equal(relu6_backward(np.ones_like(x), x), [0, 0, 0, 0, 1, 1, 0])
    np.testing.assert_allclose(hardsigmoid_forward(x)[0], [0, 0, 0.25, 0.5, 0.75, 1, 1])
    assert np.count_nonzero(hardsigmoid_backward(np.ones_like(x), x)) == 3
    np.testing.assert_allclose(hardswish_forward(x)[0], [0, 0, -0.375, 0, 1.125, 3.5, 7])
    np.testing.assert_allclose(hardswish_backward(np.ones_like(x), x), [0, 0, 0, 0.5, 1, 1, 1])


def test_gelu_and_silu_at_known_values():
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    phi = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(gelu_forward(x)[0], x * phi, rtol=1e-15)
    np.testing.assert_allclose(silu_forward(x)[0], x / (1 + np.exp(-x)), rtol=1e-15)


@pytest.mark.parametrize("forward", [relu6_forward, gelu_forward, silu_forward, hardswish_forward])
def test_a_non_array_or_integer_input_is_refused_by_name(forward):
    with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
        forward([1.0, 2.0])
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        forward(np.arange(3))


@pytest.mark.parametrize("name", ["ReLU6", "Hardsigmoid", "Hardswish", "SiLU", "GELU"])
def test_wide_inputs_match_pytorch(name):
    torch = pytest.importorskip("torch")
    from tallynet.layers import LAYER_TYPES

    layer = LAYER_TYPES[name.lower()]()
    x = np.linspace(-12, 12, 2401)
    dout = np.cos(x)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    t_out = getattr(torch.nn, name)()(tx)
    t_out.backward(torch.from_numpy(dout))
    out, cache = layer.forward(x, {})
    dx, _ = layer.backward(dout, cache)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
