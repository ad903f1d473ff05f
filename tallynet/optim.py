"""First-order update rules (seed 002): ``rule(w, dw, config=None) -> (next_w, config)``.

- w: the current parameter, any shape, float32 or float64
- dw: the gradient of the loss w.r.t. ``w``, same shape and dtype
- config: a dict of hyperparameters and of the rule's state (velocity, cache,
  moments, step count). Missing hyperparameters get their defaults with
  ``config.setdefault``; the updated state is stored back into ``config``, which
  is returned, so the caller keeps one config per parameter and passes it to the
  next call.

``next_w`` and every state array have the dtype of ``w``. The rules never modify
``w`` or a state array in place: each call binds fresh arrays, so a caller that
copies the config dict (not its arrays) can discard a step without undoing it.
"""

import numbers

import numpy as np

from .layers._checks import check_float_array, check_same_dtype, check_shape

#: what each hyperparameter must satisfy: (description, predicate)
_VALID = {
    "learning_rate": ("a number >= 0", lambda v: v >= 0),
    "momentum": ("a number in [0, 1]", lambda v: 0 <= v <= 1),
    "decay_rate": ("a number in [0, 1]", lambda v: 0 <= v <= 1),
    # beta = 1 would make the bias correction 1 - beta^t zero
    "beta1": ("a number in [0, 1)", lambda v: 0 <= v < 1),
    "beta2": ("a number in [0, 1)", lambda v: 0 <= v < 1),
    "epsilon": ("a number >= 0", lambda v: v >= 0),
}


def _prepare(rule, w, dw, config, **defaults):
    """Check the arguments, fill in the defaults and return ``(config, hyperparameters)``.

    Hyperparameters come back as Python floats: a NumPy float64 scalar would
    otherwise promote float32 arithmetic to float64.
    """
    check_float_array("w", w)
    check_float_array("dw", dw)
    check_shape("dw", dw, w.shape)
    check_same_dtype("dw", dw, "w", w)
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"{rule}: config must be a dict or None, got {type(config).__name__}")
    hyper = {}
    for name, default in defaults.items():
        value = config.setdefault(name, default)
        what, ok = _VALID[name]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not ok(value):
            raise ValueError(f"{rule}: config[{name!r}] must be {what}, got {value!r}")
        hyper[name] = float(value)
    return config, hyper


def _state(rule, config, name, w):
    """The state array ``config[name]``, zeros like ``w`` when absent."""
    value = config.get(name)
    if value is None:
        return np.zeros_like(w)
    if not isinstance(value, np.ndarray) or value.shape != w.shape or value.dtype != w.dtype:
        got = f"shape {value.shape} and dtype {value.dtype}" if isinstance(value, np.ndarray) else repr(value)
        raise ValueError(f"{rule}: config[{name!r}] must be an array of shape {w.shape} and dtype "
                         f"{w.dtype} (the parameter's), got {got}")
    return value


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: next_w = w - learning_rate * dw.

    config: learning_rate (default 1e-2).
    """
    config, h = _prepare("sgd", w, dw, config, learning_rate=1e-2)
    return w - h["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum.

    v = momentum * v - learning_rate * dw;  next_w = w + v

    config: learning_rate (1e-2), momentum (0.9; 0 reduces to sgd), velocity (the
    moving average v, zeros at first, stored back after every step).
    """
    config, h = _prepare("sgd_momentum", w, dw, config, learning_rate=1e-2, momentum=0.9)
    v = h["momentum"] * _state("sgd_momentum", config, "velocity", w) - h["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    """RMSProp: per-parameter step sizes from a moving average of squared gradients.

    cache = decay_rate * cache + (1 - decay_rate) * dw^2
    next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8), cache (zeros
    at first, stored back after every step).
    """
    config, h = _prepare("rmsprop", w, dw, config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    rho = h["decay_rate"]
    cache = rho * _state("rmsprop", config, "cache", w) + (1 - rho) * (dw * dw)
    config["cache"] = cache
    return w - h["learning_rate"] * dw / (np.sqrt(cache) + h["epsilon"]), config


def adam(w, dw, config=None):
    """Adam: moving averages of the gradient and of its square, bias-corrected.

    t = t + 1
    m = beta1 * m + (1 - beta1) * dw;      m_hat = m / (1 - beta1^t)
    v = beta2 * v + (1 - beta2) * dw^2;    v_hat = v / (1 - beta2^t)
    next_w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8), and
    the state m, v (zeros at first) and t (0 at first), stored back after every step.
    """
    config, h = _prepare("adam", w, dw, config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8)
    beta1, beta2 = h["beta1"], h["beta2"]
    t = config.get("t", 0)
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise ValueError(f"adam: config['t'] is the step count and must be an integer >= 0, got {t!r}")
    t = int(t) + 1
    m = beta1 * _state("adam", config, "m", w) + (1 - beta1) * dw
    v = beta2 * _state("adam", config, "v", w) + (1 - beta2) * (dw * dw)
    config["t"], config["m"], config["v"] = t, m, v
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - h["learning_rate"] * m_hat / (np.sqrt(v_hat) + h["epsilon"]), config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}

#: optimizer state each rule keeps per trainable parameter, in parameter-sized arrays
#: (velocity; cache; the two moments), for the cost model's memory totals
STATE_ARRAYS = {"sgd": 0, "sgd_momentum": 1, "rmsprop": 1, "adam": 2}

#: parameter-sized temporaries one update holds at once, measured with tracemalloc (a test
#: keeps them so): sgd ``w - lr * dw`` has lr * dw and the new w; momentum ``momentum * v``
#: and ``lr * dw``; rmsprop and adam one and three more for their moments
UPDATE_TEMPORARIES = {"sgd": 2, "sgd_momentum": 2, "rmsprop": 3, "adam": 5}

#: other names the cost model and the command line accept for a rule
ALIASES = {"momentum": "sgd_momentum"}


def rule_name(name):
    """The rule a name (or alias) of :data:`UPDATE_RULES` stands for; ValueError otherwise."""
    name = ALIASES.get(name, name)
    if name not in UPDATE_RULES:
        raise ValueError(f"optimizer must be one of {', '.join([*UPDATE_RULES, *ALIASES])}, got {name!r}")
    return name


def get_update_rule(rule):
    """The update function for a name in :data:`UPDATE_RULES`, or ``rule`` itself if callable."""
    if callable(rule):
        return rule
    if isinstance(rule, str) and rule in UPDATE_RULES:
        return UPDATE_RULES[rule]
    options = ", ".join(repr(name) for name in UPDATE_RULES)
    raise ValueError(f"update_rule must be one of {options} or a callable, got {rule!r}")

