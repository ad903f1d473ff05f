"""Argument checks shared by every layer.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
argument, what it got and what was expected, so that a user who passes the wrong
thing learns which thing it was. Kernels call these instead of ``assert``.
"""

import numpy as np

from ..dtypes import DTYPES

FLOAT_DTYPES = tuple(DTYPES.values())


def check_float_array(name, x, ndim=None, min_ndim=None):
    """Check that ``x`` is a floating-point ndarray of the given rank.

    ``ndim`` is an exact rank, ``min_ndim`` a lower bound; the message states the
    shape received and the layout expected.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have a floating dtype (float32 or float64), got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {x.shape} with {x.ndim}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions, got shape {x.shape} with {x.ndim}"
        )
    return x


def as_float_param(name, value, like):
    """A parameter array in the float dtype of ``like`` (the input x) when it holds integers.

    The course's notebooks pass integer parameters (a filter bias ``np.array([0, 128])``,
    a scale ``np.asarray([3, 4, 5])``); NumPy would promote them in the arithmetic, so
    they are converted here, once. Any other value is returned as it is, the same
    object (a numerical gradient check perturbs float parameters in place), for the
    float checks that follow to judge.
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return value.astype(like.dtype)
    return value


def check_shape(name, x, expected):
    """Check ``x.shape == expected``; ``None`` in ``expected`` matches any size."""
    ok = len(x.shape) == len(expected) and all(
        e is None or e == s for s, e in zip(x.shape, expected)
    )
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        raise ValueError(f"{name} has shape {x.shape}, expected {want}")
    return x


def check_same_dtype(name, x, ref_name, ref):
    if x.dtype != ref.dtype:
        raise TypeError(f"{name} has dtype {x.dtype}, expected {ref.dtype} to match {ref_name}")


def check_int(name, value, minimum):
    """Check that ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_choice(name, value, choices):
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_keep_probability(name, p):
    """Dropout's keep probability must lie in (0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in (0, 1], got {p!r}")
    if not 0.0 < float(p) <= 1.0:
        raise ValueError(f"{name} is the keep probability and must lie in (0, 1], got {p}")
    return float(p)


def window_output_size(name, size, kernel, stride, pad):
    """Output length of a sliding window: floor((size + 2 pad - kernel) / stride) + 1.

    As in PyTorch, positions past the last full window are dropped. Raises when the
    window does not fit the padded input at all.
    """
    if kernel > size + 2 * pad:
        raise ValueError(
            f"{name}: window of size {kernel} is larger than the padded input "
            f"({size} + 2*{pad} = {size + 2 * pad})"
        )
    return (size + 2 * pad - kernel) // stride + 1


def check_param_dict(name, value, optional=False):
    """A kernel's parameter dict (``bn_param``, ``dropout_param``, ``ln_param``, ...): a dict,
    or None where ``optional``. Returns it ({} for an optional None)."""
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        expected = "a dict or None" if optional else "a dict"
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}"[:200])
    return value


def check_cache(name, cache, length, producer):
    """A backward pass's cache: the ``length``-tuple ``producer`` returned."""
    if not isinstance(cache, tuple) or len(cache) != length:
        got = f"a tuple of {len(cache)}" if isinstance(cache, tuple) else type(cache).__name__
        raise ValueError(f"{name} must be the {length}-tuple that {producer} returns, got {got}")
    return cache


def check_nonempty_batch(name, x, why):
    """A pass that takes statistics over the batch needs at least one sample."""
    if x.shape[0] == 0 or x.size == 0:
        raise ValueError(f"{name} has shape {x.shape}: {why} needs at least one sample (N >= 1) "
                         "and no empty dimension")
    return x


def check_not_float16(name, x, why):
    """Kernels whose float16 result would be silently wrong refuse float16 input."""
    if x.dtype == np.float16:
        raise TypeError(f"{name} has dtype float16, which {why}; expected float32 or float64 "
                        "(the cost model, tallynet.cost.summary, still takes float16)")
    return x
