"""FullyConnectedNet and Sequential: initial loss, gradients of every parameter, state, specs."""

import numpy as np
import pytest

from conftest import assert_numerical_gradients
from tallynet.layers import Affine, BatchNorm, Conv2d, Dropout, GlobalAvgPool, LayerNorm, MaxPool2d, ReLU
from tallynet.layers import AvgPool2d, Flatten
from tallynet.models import FullyConnectedNet, Sequential

rng = np.random.default_rng(1)


def assert_model_gradients(model, X, y, tol=1e-6):
    # Zero biases put a sample whose hidden units are all dead exactly on the next ReLU's
    # kink, where no derivative exists; small random biases move every unit off it.
    for key in model.params:
        if key[0] in "b":
            model.params[key] += 0.1 * rng.standard_normal(model.params[key].shape)
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    assert_numerical_gradients(lambda: model.loss(X, y)[0], model.params, grads, tol=tol)


def test_fcnet_initial_loss_is_log_classes():
    model = FullyConnectedNet([50, 40], input_dim=30, num_classes=10, weight_scale=1e-3, seed=0)
    loss, _ = model.loss(rng.standard_normal((20, 30)), rng.integers(10, size=20))
    assert loss == pytest.approx(np.log(10), rel=1e-3)


def test_fcnet_params_are_named_like_the_course():
    model = FullyConnectedNet([5, 4], input_dim=6, num_classes=3, normalization="batchnorm")
    assert sorted(model.params) == sorted(["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"])
    assert model.params["W2"].shape == (5, 4) and model.params["W1"].dtype == np.float32


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(reg=0.7),
    dict(normalization="batchnorm"),
    dict(normalization="layernorm", reg=0.1),
    dict(dropout_keep_ratio=0.6, seed=3),
    dict(normalization="batchnorm", dropout_keep_ratio=0.75, seed=5, reg=0.2),
])
def test_fcnet_gradients(kwargs):
    np.random.seed(231)  # the course's class draws its weights from NumPy's global generator
    model = FullyConnectedNet([5, 4], input_dim=6, num_classes=3, weight_scale=5e-1, dtype=np.float64, **kwargs)
    if "seed" not in kwargs:
        model = FullyConnectedNet([5, 4], input_dim=6, num_classes=3, weight_scale=5e-1, dtype=np.float64,
                                  seed=11, **kwargs)
    X = rng.standard_normal((4, 6))
    y = rng.integers(3, size=4)
    assert_model_gradients(model, X, y)


def small_cnn(norm=BatchNorm, dtype=np.float64, reg=0.0, keep=1.0):
    layers = [Conv2d(3, 3, pad=1), norm(), ReLU(), MaxPool2d(2), Conv2d(4, (3, 2), stride=1, pad=0), ReLU(),
              AvgPool2d(1)]
    if keep < 1:
        layers.append(Dropout(keep, seed=2, fixed=True))
    layers += [GlobalAvgPool(), Affine(3)]
    return Sequential(layers, (2, 8, 7), reg=reg, dtype=dtype, seed=0)


@pytest.mark.parametrize("kwargs", [dict(), dict(norm=LayerNorm, reg=0.3), dict(keep=0.7)])
def test_cnn_gradients(kwargs):
    model = small_cnn(**kwargs)
    X = rng.standard_normal((3, 2, 8, 7))
    y = rng.integers(3, size=3)
    assert_model_gradients(model, X, y)


def test_cnn_initial_loss_is_log_classes_with_small_weights():
    model = Sequential([Conv2d(4, 3, pad=1), ReLU(), MaxPool2d(2), Flatten(), Affine(10)], (3, 8, 8),
                       weight_scale=1e-3, seed=0)
    loss, _ = model.loss(rng.standard_normal((16, 3, 8, 8)), rng.integers(10, size=16))
    assert loss == pytest.approx(np.log(10), rel=1e-3)


def test_test_mode_returns_scores_and_uses_running_statistics():
    model = small_cnn(dtype=np.float32)
    X = rng.standard_normal((5, 2, 8, 7)).astype(np.float32)
    before = model.get_state()
    scores = model.loss(X)
    assert scores.shape == (5, 3) and scores.dtype == np.float32
    after = model.get_state()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # test mode leaves running stats alone
    model.loss(X, np.zeros(5, dtype=int))
    assert not np.array_equal(before["1.running_mean"], model.get_state()["1.running_mean"])


def test_state_round_trip_restores_running_statistics():
    model = small_cnn()
    model.loss(rng.standard_normal((3, 2, 8, 7)), np.array([0, 1, 2]))
    saved = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in model.get_state().items()}
    model.loss(rng.standard_normal((3, 2, 8, 7)) + 5, np.array([0, 1, 2]))
    model.set_state(saved)
    assert np.array_equal(model.get_state()["1.running_mean"], saved["1.running_mean"])


def test_wrong_input_shape_names_X():
    model = small_cnn()
    with pytest.raises(ValueError, match=r"X has shape \(3, 2, 8, 8\), expected \(N, 2, 8, 7\)"):
        model.loss(np.zeros((3, 2, 8, 8)))


def test_shape_error_names_layer_index_and_type():
    with pytest.raises(ValueError, match=r"layer 2 \(conv\)"):
        Sequential([Flatten(), Affine(10), Conv2d(4, 3)], (3, 8, 8))


def test_a_seeded_model_draws_the_same_dropout_masks_every_run():
    from tallynet.models import from_spec

    spec = {"input": [6], "layers": [{"affine": {"units": 20}}, "relu", {"dropout": {"keep": 0.5}},
                                     {"affine": {"units": 3}}]}
    X, y = rng.standard_normal((8, 6)), rng.integers(3, size=8)
    runs = [[from_spec(spec, seed=s).loss(X, y)[0] for _ in range(2)] for s in (3, 3, 4)]
    assert runs[0] == runs[1]          # same seed: the same weights and the same masks
    assert runs[0] != runs[2]
