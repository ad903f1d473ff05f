"""Update rules against updates worked out by hand, three steps each.

Every test starts from w = [1, -2] and feeds a fixed gradient sequence; the
expected values are the formulas evaluated on paper, written out below. Checking
the stored state after every step catches a rule that forgets to write its
velocity / cache back into config (then step 2 starts from zeros again).
"""

import numpy as np
import pytest

from tallynet import optim

W0 = np.array([1.0, -2.0])


def run(rule, config, dws):
    """Apply ``rule`` for each gradient; return the (w, config snapshot) after every step."""
    w, out = W0.copy(), []
    for dw in dws:
        w, config = rule(w, np.array(dw), config)
        out.append((w, {k: np.copy(v) for k, v in config.items()}))
    return out


def test_sgd_by_hand():
    steps = run(optim.sgd, {"learning_rate": 0.1}, [[0.5, -1.0], [1.0, 2.0], [-2.0, 0.5]])
    # w1 = [1 - 0.1*0.5, -2 + 0.1*1] ; w2 = w1 - 0.1*[1, 2] ; w3 = w2 - 0.1*[-2, 0.5]
    expected = [[0.95, -1.9], [0.85, -2.1], [1.05, -2.15]]
    for (w, _), want in zip(steps, expected):
        np.testing.assert_allclose(w, want, rtol=1e-12)


def test_sgd_momentum_by_hand():
    steps = run(optim.sgd_momentum, {"learning_rate": 0.1, "momentum": 0.9},
                [[0.5, -1.0], [1.0, 2.0], [-2.0, 0.5]])
    # v1 = -0.1*[0.5, -1]                       = [-0.05, 0.1]     w1 = [0.95, -1.9]
    # v2 = 0.9*[-0.05, 0.1] - 0.1*[1, 2]        = [-0.145, -0.11]  w2 = [0.805, -2.01]
    # v3 = 0.9*[-0.145, -0.11] - 0.1*[-2, 0.5]  = [0.0695, -0.149] w3 = [0.8745, -2.159]
    expected_v = [[-0.05, 0.1], [-0.145, -0.11], [0.0695, -0.149]]
    expected_w = [[0.95, -1.9], [0.805, -2.01], [0.8745, -2.159]]
    for (w, config), want_w, want_v in zip(steps, expected_w, expected_v):
        np.testing.assert_allclose(config["velocity"], want_v, rtol=1e-12)
        np.testing.assert_allclose(w, want_w, rtol=1e-12)


def test_rmsprop_by_hand():
    steps = run(optim.rmsprop, {"learning_rate": 0.1, "decay_rate": 0.75, "epsilon": 0.0},
                [[2.0, -4.0], [1.0, 2.0], [-3.0, 0.0]])
    # cache1 = 0.25*[4, 16]                      = [1, 4]  w1 = [1 - 0.1*2/1, -2 + 0.1*4/2] = [0.8, -1.8]
    # cache2 = 0.75*[1, 4] + 0.25*[1, 4]         = [1, 4]  w2 = [0.8 - 0.1*1/1, -1.8 - 0.1*2/2] = [0.7, -1.9]
    # cache3 = 0.75*[1, 4] + 0.25*[9, 0]         = [3, 3]  w3 = [0.7 + 0.1*3/sqrt(3), -1.9]
    # (without the stored cache, step 2 would divide by sqrt(0.25*[1, 4]) and give [0.6, -2.0])
    expected_cache = [[1.0, 4.0], [1.0, 4.0], [3.0, 3.0]]
    expected_w = [[0.8, -1.8], [0.7, -1.9], [0.7 + 0.1 * np.sqrt(3.0), -1.9]]
    for (w, config), want_w, want_cache in zip(steps, expected_w, expected_cache):
        np.testing.assert_allclose(config["cache"], want_cache, rtol=1e-12)
        np.testing.assert_allclose(w, want_w, rtol=1e-12)


def test_adam_by_hand():
    steps = run(optim.adam, {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.75, "epsilon": 0.0},
                [[2.0, -4.0], [1.0, 2.0], [-3.0, 0.0]])
    # t=1: m = 0.5*[2, -4] = [1, -2]; v = 0.25*[4, 16] = [1, 4]
    #      m_hat = m/0.5 = [2, -4]; v_hat = v/0.25 = [4, 16]; w1 = w0 - 0.1*[2/2, -4/4] = [0.9, -1.9]
    # t=2: m = 0.5*[1, -2] + 0.5*[1, 2] = [1, 0]; v = 0.75*[1, 4] + 0.25*[1, 4] = [1, 4]
    #      m_hat = m/0.75; v_hat = v/0.4375; step_0 = 0.1*(1/0.75)/(1/sqrt(0.4375)) = 0.1*sqrt(7)/3
    # t=3: m = 0.5*[1, 0] + 0.5*[-3, 0] = [-1, 0]; v = 0.75*[1, 4] + 0.25*[9, 0] = [3, 3]
    #      m_hat = m/0.875; v_hat = v/0.578125; step_0 = -0.1*(1/0.875)*sqrt(0.578125/3)
    #                                                 = -0.1*sqrt(37)/(7*sqrt(3))
    w2_0 = 0.9 - 0.1 * np.sqrt(7.0) / 3
    expected = [
        (1, [1.0, -2.0], [1.0, 4.0], [0.9, -1.9]),
        (2, [1.0, 0.0], [1.0, 4.0], [w2_0, -1.9]),
        (3, [-1.0, 0.0], [3.0, 3.0], [w2_0 + 0.1 * np.sqrt(37.0) / (7 * np.sqrt(3.0)), -1.9]),
    ]
    for (w, config), (t, m, v, want_w) in zip(steps, expected):
        assert config["t"] == t
        np.testing.assert_allclose(config["m"], m, rtol=1e-12)
        np.testing.assert_allclose(config["v"], v, rtol=1e-12)
        np.testing.assert_allclose(w, want_w, rtol=1e-12)


@pytest.mark.parametrize("rule, defaults", [
    ("sgd", {"learning_rate": 1e-2}),
    ("sgd_momentum", {"learning_rate": 1e-2, "momentum": 0.9}),
    ("rmsprop", {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}),
    ("adam", {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}),
])
def test_defaults_are_filled_in_and_given_values_kept(rule, defaults):
    w, dw = W0.copy(), np.array([0.5, -1.0])
    _, config = optim.UPDATE_RULES[rule](w, dw)
    assert {k: config[k] for k in defaults} == defaults
    _, config = optim.UPDATE_RULES[rule](w, dw, {"learning_rate": 0.5})
    assert config["learning_rate"] == 0.5
    np.testing.assert_array_equal(w, W0)  # w itself is never modified


def test_adam_first_step_moves_each_weight_by_the_learning_rate():
    # With bias correction the first step is lr * dw / (|dw| + eps) whatever the betas.
    w, config = optim.adam(W0.copy(), np.array([3.0, -0.25]), {"learning_rate": 0.01})
    np.testing.assert_allclose(w, [1.0 - 0.01, -2.0 + 0.01], rtol=1e-6)
    assert config["t"] == 1


@pytest.mark.parametrize("rule", sorted(optim.UPDATE_RULES))
def test_float32_stays_float32(rule):
    w = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    dw = np.array([[0.1, -0.2], [0.3, 0.4]], dtype=np.float32)
    # A NumPy float64 hyperparameter must not promote the arithmetic either.
    config = {"learning_rate": np.float64(0.1)}
    for _ in range(2):
        w, config = optim.UPDATE_RULES[rule](w, dw, config)
        assert w.dtype == np.float32
        for key in ("velocity", "cache", "m", "v"):
            if key in config:
                assert config[key].dtype == np.float32, key


@pytest.mark.parametrize("rule", sorted(optim.UPDATE_RULES))
def test_negative_learning_rate_is_rejected(rule):
    with pytest.raises(ValueError, match=rf"{rule}: config\['learning_rate'\] must be a number >= 0, got -0.1"):
        optim.UPDATE_RULES[rule](W0.copy(), W0.copy(), {"learning_rate": -0.1})


@pytest.mark.parametrize("rule, key, value", [
    ("sgd_momentum", "momentum", 1.5),
    ("rmsprop", "decay_rate", -0.1),
    ("adam", "beta1", 1.0),
    ("adam", "beta2", "0.9"),
    ("adam", "epsilon", float("nan")),
])
def test_bad_hyperparameters_are_named(rule, key, value):
    with pytest.raises(ValueError, match=rf"config\['{key}'\]"):
        optim.UPDATE_RULES[rule](W0.copy(), W0.copy(), {key: value})


def test_bad_arrays_and_state_are_named():
    with pytest.raises(ValueError, match="dw has shape"):
        optim.sgd(W0.copy(), np.ones(3))
    with pytest.raises(TypeError, match="dw has dtype float32"):
        optim.sgd(W0.copy(), np.ones(2, dtype=np.float32))
    with pytest.raises(ValueError, match=r"config\['velocity'\] must be an array of shape \(2,\)"):
        optim.sgd_momentum(W0.copy(), np.ones(2), {"velocity": np.zeros(3)})
    with pytest.raises(ValueError, match=r"config\['t'\]"):
        optim.adam(W0.copy(), np.ones(2), {"t": -1})
    with pytest.raises(TypeError, match="config must be a dict"):
        optim.sgd(W0.copy(), np.ones(2), [0.1])


def test_update_rule_lookup():
    assert set(optim.UPDATE_RULES) == {"sgd", "sgd_momentum", "rmsprop", "adam"}
    assert optim.get_update_rule("adam") is optim.adam
    custom = lambda w, dw, config: (w, config)  # noqa: E731
    assert optim.get_update_rule(custom) is custom
    with pytest.raises(ValueError, match="update_rule must be one of 'sgd'.*got 'adamw'"):
        optim.get_update_rule("adamw")
