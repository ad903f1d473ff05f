"""The course's model classes draw their weights as the course does; specs build the same net.

The course's FullyConnectedNet, TwoLayerNet and ThreeLayerConvNet draw
``weight_scale * np.random.randn(...)`` layer by layer from NumPy's global generator;
``seed`` fixes dropout only. A spec ``model: FullyConnectedNet`` builds the same class
from its own seeded generator.
"""

import numpy as np
import pytest

from tallynet.layers import Dropout
from tallynet.models import FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet, from_spec


def course_draws(weight_scale, *shapes):
    """What the course's constructors draw, in order, from the current global state."""
    return [weight_scale * np.random.randn(*shape) for shape in shapes]


def test_fcnet_draws_the_course_weights_from_numpy_global_generator():
    np.random.seed(231)
    want = course_draws(5e-2, (15, 20), (20, 30), (30, 10))
    np.random.seed(231)
    model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, weight_scale=5e-2, dtype=np.float64,
                              normalization="batchnorm")
    for i, w in enumerate(want, 1):
        np.testing.assert_array_equal(model.params[f"W{i}"], w)
        np.testing.assert_array_equal(model.params[f"b{i}"], 0)
    np.testing.assert_array_equal(model.params["gamma1"], 1)
    # and float32 is the same draw, cast (the course's v.astype(dtype))
    np.random.seed(231)
    np.testing.assert_array_equal(FullyConnectedNet([20, 30], input_dim=15, weight_scale=5e-2).params["W2"],
                                  want[1].astype(np.float32))


def test_two_layer_and_conv_nets_draw_the_course_weights():
    np.random.seed(0)
    want = course_draws(1e-3, (12, 7), (7, 4))
    np.random.seed(0)
    two = TwoLayerNet(input_dim=12, hidden_dim=7, num_classes=4)
    assert sorted(two.params) == ["W1", "W2", "b1", "b2"] and two.params["W1"].dtype == np.float64
    np.testing.assert_array_equal(two.params["W1"], want[0])
    np.testing.assert_array_equal(two.params["W2"], want[1])

    np.random.seed(1)
    want = course_draws(1e-2, (3, 2, 5, 5), (3 * 4 * 3, 6), (6, 5))
    np.random.seed(1)
    cnn = ThreeLayerConvNet(input_dim=(2, 8, 7), num_filters=3, filter_size=5, hidden_dim=6, num_classes=5,
                            weight_scale=1e-2, dtype=np.float64)
    assert sorted(cnn.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    for i, w in enumerate(want, 1):
        np.testing.assert_array_equal(cnn.params[f"W{i}"], w)
    assert cnn.layers[0].pad == 2 and cnn.layers[0].stride == 1  # (filter_size - 1) // 2 keeps H and W


def test_conv_net_loss_is_softmax_plus_half_reg_sum_of_squares():
    np.random.seed(2)
    cnn = ThreeLayerConvNet(input_dim=(1, 6, 6), num_filters=2, filter_size=3, hidden_dim=5, num_classes=3,
                            weight_scale=1e-1, dtype=np.float64)
    X, y = np.random.randn(4, 1, 6, 6), np.array([0, 1, 2, 1])
    plain, _ = cnn.loss(X, y)
    cnn.reg = 0.5
    regularized, grads = cnn.loss(X, y)
    squares = sum(np.sum(cnn.params[k] ** 2) for k in ("W1", "W2", "W3"))
    assert regularized == pytest.approx(plain + 0.25 * squares, rel=1e-12)
    assert sorted(grads) == sorted(cnn.params)


def test_seed_fixes_dropout_only():
    X, y = np.random.default_rng(0).standard_normal((3, 6)), np.array([0, 1, 2])
    np.random.seed(5)
    a = FullyConnectedNet([8], input_dim=6, num_classes=3, dropout_keep_ratio=0.5, seed=123, dtype=np.float64)
    b = FullyConnectedNet([8], input_dim=6, num_classes=3, dropout_keep_ratio=0.5, seed=123, dtype=np.float64)
    assert not np.array_equal(a.params["W1"], b.params["W1"])  # the weights continue the global stream
    losses = [a.loss(X, y)[0] for _ in range(3)]
    assert losses[0] == losses[1] == losses[2]  # one mask at every call
    # the mask is the course's: np.random.seed(123) then np.random.rand(N, H) < p
    np.random.seed(123)
    mask = (np.random.rand(3, 8) < 0.5) / 0.5
    _, caches = a.forward(X, "train")
    np.testing.assert_array_equal(caches[2][1], mask)


def test_without_seed_the_course_net_draws_masks_from_numpy_global_generator():
    X, y = np.random.default_rng(0).standard_normal((3, 6)), np.array([0, 1, 2])
    model = FullyConnectedNet([8], input_dim=6, num_classes=3, dropout_keep_ratio=0.5, dtype=np.float64)
    np.random.seed(9)
    first = model.loss(X, y)[0]
    second = model.loss(X, y)[0]
    np.random.seed(9)
    assert model.loss(X, y)[0] == first and first != second
    assert model.get_state() == {}  # NumPy's state is NumPy's


SPEC = {"model": "FullyConnectedNet", "input": [1, 4, 4], "hidden_dims": [12, 9], "num_classes": 5,
        "normalization": "batchnorm", "dropout_keep_ratio": 0.7, "seed": 3, "dtype": "float64"}


def test_the_spec_builds_what_the_class_builds():
    """Issue 10 item 4: the spec ``model: FullyConnectedNet`` is the course's class itself."""
    spec_net = from_spec(SPEC)
    class_net = FullyConnectedNet([12, 9], input_dim=(1, 4, 4), num_classes=5, normalization="batchnorm",
                                  dropout_keep_ratio=0.7, dtype=np.float64, rng=np.random.default_rng(3))
    assert type(spec_net) is FullyConnectedNet
    assert [repr(layer) for layer in spec_net.layers] == [repr(layer) for layer in class_net.layers]
    assert list(spec_net.params) == list(class_net.params)
    for key in class_net.params:
        np.testing.assert_array_equal(spec_net.params[key], class_net.params[key])
    assert spec_net.layers[0].__class__ is class_net.layers[0].__class__
    # the class's defaults apply where the spec sets nothing (weight_scale 1e-2 is written once)
    assert np.std(spec_net.params["W1"]) == pytest.approx(1e-2, rel=0.2)
    # same dropout behaviour: masks from the model's generator, a new one at every call
    X, y = np.random.default_rng(1).standard_normal((6, 1, 4, 4)), np.arange(6) % 5
    state = np.random.get_state()
    spec_losses = [spec_net.loss(X, y)[0] for _ in range(3)]
    class_losses = [class_net.loss(X, y)[0] for _ in range(3)]
    assert spec_losses == class_losses and len(set(spec_losses)) == 3
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1])  # the global state was not touched
    assert all(not layer.numpy_global for layer in spec_net.layers if isinstance(layer, Dropout))


def test_a_fcnet_spec_keeps_softmax():
    from tallynet.models import SpecError
    with pytest.raises(SpecError, match="'loss' must be 'softmax'"):
        from_spec(dict(SPEC, loss="svm"))
