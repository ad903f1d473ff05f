"""Inverted dropout: mask statistics, determinism, RNG hygiene, gradients, the layer."""

import numpy as np
import pytest

from tallynet.layers import Dropout, dropout_backward, dropout_forward


def normal(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_mask_keeps_fraction_p_scaled_by_one_over_p(p):
    x = np.full((500, 400), 3.0)
    out, (_, mask) = dropout_forward(x, {"p": p, "mode": "train", "seed": 1})
    kept = mask != 0
    # 2e5 draws: the kept fraction's standard deviation is below 1.2e-3
    assert abs(kept.mean() - p) < 6e-3
    np.testing.assert_allclose(mask[kept], 1 / p)
    np.testing.assert_array_equal(out, x * mask)
    assert abs(out.mean() - 3.0) < 0.1  # the mean survives in expectation
    np.testing.assert_array_equal(out[~kept], 0)


def test_keep_one_is_identity_in_train_mode():
    x = normal((30, 7))
    out, (_, mask) = dropout_forward(x, {"p": 1.0, "mode": "train"})
    np.testing.assert_array_equal(mask, 1)
    np.testing.assert_array_equal(out, x)


def test_mean_is_preserved_in_expectation_over_many_masks():
    x = normal((20, 10))
    rng = np.random.default_rng(0)
    avg = np.mean([dropout_forward(x, {"p": 0.3, "mode": "train", "rng": rng})[0] for _ in range(2000)], axis=0)
    # per entry: std of the average is |x| sqrt((1 - p) / p) / sqrt(2000) < 0.035 |x|
    np.testing.assert_allclose(avg, x, atol=0.2 * np.abs(x).max())


def test_test_mode_is_identity_forward_and_backward():
    x, dout = normal((4, 5)), normal((4, 5), seed=1)
    param = {"p": 0.5, "mode": "test", "seed": 0}
    out, cache = dropout_forward(x, param)
    np.testing.assert_array_equal(out, x)
    assert cache[0] is param and cache[1] is None
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)


def test_same_seed_same_mask_different_seed_different_mask():
    x = normal((50, 40))
    masks = [dropout_forward(x, {"p": 0.5, "mode": "train", "seed": s})[1][1] for s in (7, 7, 8)]
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], masks[2])


def test_seed_gives_the_same_mask_in_float32_and_float64():
    m32 = dropout_forward(normal((8, 9), np.float32), {"p": 0.6, "mode": "train", "seed": 3})[1][1]
    m64 = dropout_forward(normal((8, 9)), {"p": 0.6, "mode": "train", "seed": 3})[1][1]
    np.testing.assert_array_equal(m32 != 0, m64 != 0)


def test_rng_is_drawn_from_and_advances():
    x = normal((20, 30))
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    first = dropout_forward(x, {"p": 0.5, "mode": "train", "rng": a})[1][1]
    np.testing.assert_array_equal(first, dropout_forward(x, {"p": 0.5, "mode": "train", "rng": b})[1][1])
    second = dropout_forward(x, {"p": 0.5, "mode": "train", "rng": a})[1][1]
    assert not np.array_equal(first, second)
    # a seed wins over an rng, and leaves the rng alone
    state = a.bit_generator.state
    seeded = dropout_forward(x, {"p": 0.5, "mode": "train", "rng": a, "seed": 9})[1][1]
    np.testing.assert_array_equal(seeded, dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 9})[1][1])
    assert a.bit_generator.state == state


def test_the_functional_api_draws_from_numpy_global_generator_as_the_course():
    """The course's dropout_forward: np.random.seed(seed) when there is a seed, then
    mask = (np.random.rand(*x.shape) < p) / p."""
    x = normal((10, 10))
    np.random.seed(123)
    want = (np.random.rand(10, 10) < 0.5) / 0.5
    after = np.random.rand(3)
    np.random.seed(0)
    mask = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 123})[1][1]
    np.testing.assert_array_equal(mask, want)
    np.testing.assert_array_equal(np.random.rand(3), after)  # the seed reseeded the global state
    np.random.seed(123)
    np.testing.assert_array_equal(dropout_forward(x, {"p": 0.5, "mode": "train"})[1][1], want)


def test_the_layer_leaves_numpy_global_generator_alone():
    x = normal((10, 10))
    np.random.seed(123)
    expected = np.random.rand(5)
    np.random.seed(123)
    for layer in (Dropout(0.5, seed=1), Dropout(0.5, seed=1, fixed=True), Dropout(0.5)):
        layer.forward(x, {}, "train")
    np.testing.assert_array_equal(np.random.rand(5), expected)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_float32_in_float32_out(mode):
    x, dout = normal((6, 5), np.float32), normal((6, 5), np.float32, seed=1)
    out, cache = dropout_forward(x, {"p": 0.7, "mode": mode, "seed": 0})
    assert out.dtype == np.float32
    assert dropout_backward(dout, cache).dtype == np.float32
    if mode == "train":
        assert cache[1].dtype == np.float32
        assert dropout_backward(dout.astype(np.float64), cache).dtype == np.float32  # x's dtype


# --- bad input --------------------------------------------------------------------
def _raises(exc, name, fn, *args):
    with pytest.raises(exc) as info:
        fn(*args)
    assert name in str(info.value)


@pytest.mark.parametrize("p", [0.0, -0.2, 1.5, float("nan")])
def test_keep_probability_outside_unit_interval_names_p(p):
    _raises(ValueError, "p ", dropout_forward, normal((2, 3)), {"p": p, "mode": "train"})


@pytest.mark.parametrize("p", ["0.5", True, None])
def test_keep_probability_of_wrong_type_names_p(p):
    _raises(TypeError, "p ", dropout_forward, normal((2, 3)), {"p": p, "mode": "train"})


def test_other_bad_input_names_the_argument():
    x = normal((2, 3))
    _raises(ValueError, "mode", dropout_forward, x, {"p": 0.5, "mode": "eval"})
    _raises(ValueError, "mode", dropout_forward, x, {"p": 0.5})
    _raises(TypeError, "x must", dropout_forward, np.ones((2, 3), dtype=np.int32), {"p": 0.5, "mode": "train"})
    _raises(TypeError, "x must", dropout_forward, [[1.0, 2.0]], {"p": 0.5, "mode": "train"})
    _raises(TypeError, "rng", dropout_forward, x, {"p": 0.5, "mode": "train", "rng": 0})
    _, cache = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    _raises(ValueError, "dout", dropout_backward, normal((3, 2)), cache)
    _raises(ValueError, "keep", Dropout, 0.0)
    _raises(TypeError, "keep", Dropout, "half")


# --- layer ------------------------------------------------------------------------
def test_layer_matches_kernel_and_is_deterministic_with_a_seed():
    layer = Dropout(keep=0.6, seed=11, name="drop")
    assert layer.kind == "dropout" and layer.config() == {"keep": 0.6, "seed": 11}
    assert Dropout(**Dropout(0.5, seed=3, fixed=True).config()).fixed  # the config round-trips
    assert layer.param_names == () and layer.param_shapes((4, 5)) == {}
    assert layer.output_shape((4, 3, 2, 2)) == (4, 3, 2, 2)
    x, dout = normal((4, 5)), normal((4, 5), seed=1)
    out, cache = layer.forward(x, {}, "train")
    rng = np.random.default_rng(11)
    want, want_cache = dropout_forward(x, {"p": 0.6, "mode": "train", "rng": rng})
    np.testing.assert_array_equal(out, want)
    dx, grads = layer.backward(dout, cache)
    assert grads == {}
    np.testing.assert_array_equal(dx, dropout_backward(dout, want_cache))
    # the next call draws a new mask from the same stream
    out2, _ = layer.forward(x, {}, "train")
    np.testing.assert_array_equal(out2, dropout_forward(x, {"p": 0.6, "mode": "train", "rng": rng})[0])
    # test mode is the identity and draws nothing
    state = layer.get_state()
    out, cache = layer.forward(x, {}, "test")
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(layer.backward(dout, cache)[0], dout)
    assert str(layer.get_state()["rng"]) == str(state["rng"])


def test_get_state_and_set_state_resume_the_mask_sequence():
    x = normal((6, 7))
    layer = Dropout(0.5, seed=None)
    layer.forward(x, {}, "train")
    state = layer.get_state()
    after = [layer.forward(x, {}, "train")[1][1] for _ in range(3)]
    resumed = Dropout(0.5, seed=99)
    resumed.set_state(state)
    for mask in after:
        np.testing.assert_array_equal(resumed.forward(x, {}, "train")[1][1], mask)
    # the returned state is a snapshot, not a live view
    assert str(layer.get_state()["rng"]) != str(state["rng"])


def test_fixed_dropout_draws_the_same_mask_every_call():
    x = normal((6, 7))
    layer = Dropout(0.5, seed=3, fixed=True)
    masks = [layer.forward(x, {}, "train")[1][1] for _ in range(3)]
    np.testing.assert_array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(masks[0], masks[2])
    with pytest.raises(ValueError, match="seed"):
        Dropout(0.5, fixed=True)


def test_reset_state_restarts_from_the_seed():
    x = normal((5, 5))
    layer = Dropout(0.5, seed=4)
    first = layer.forward(x, {}, "train")[1][1]
    layer.forward(x, {}, "train")
    layer.reset_state((5, 5), np.float64)
    np.testing.assert_array_equal(layer.forward(x, {}, "train")[1][1], first)


def test_fix_randomness_freezes_the_mask_and_keeps_a_given_seed():
    x = normal((4, 5))
    layer = Dropout(0.5)
    layer.fix_randomness(7)
    masks = [layer.forward(x, {}, "train")[1][1] for _ in range(2)]
    np.testing.assert_array_equal(masks[0], masks[1])
    own = Dropout(0.5, seed=3)
    own.fix_randomness(7)
    np.testing.assert_array_equal(own.forward(x, {}, "train")[1][1], Dropout(0.5, seed=3, fixed=True).forward(x, {}, "train")[1][1])
