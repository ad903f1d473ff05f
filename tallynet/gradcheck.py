"""Numerical gradients for checking backward passes, usable from a notebook.

All use centered differences, (f(x + h) - f(x - h)) / 2h, whose error is O(h^2);
run them in float64, where h = 1e-5 leaves about 1e-10 of rounding error.
"""

import numpy as np


def rel_error(x, y, floor=1e-8):
    """max |x - y| / max(floor, |x| + |y|), elementwise: the course's relative error.

    ``floor`` keeps entries whose true value is near zero from dividing rounding noise
    by nothing; the course uses 1e-8. For a whole parameter, a floor proportional to
    its largest gradient (see :func:`grad_check_sparse`) judges every entry on the
    scale of the parameter.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(floor, np.abs(x) + np.abs(y))))


def _centered_differences(f, x, h, indices):
    """Yield ``(index, f(x + h e_i), f(x - h e_i))`` for each index, restoring ``x`` after each.

    The values are copied, since ``f`` may return a view of ``x``.
    """
    for ix in indices:
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), copy=True)
        x[ix] = old - h
        neg = np.array(f(x), copy=True)
        x[ix] = old
        yield ix, pos, neg


def eval_numerical_gradient(f, x, verbose=False, h=1e-5):
    """Gradient of a scalar function ``f`` at ``x`` (modified in place, then restored).

    Returns an array shaped like ``x``; with ``verbose`` prints each entry.
    """
    grad = np.zeros_like(x)
    for ix, pos, neg in _centered_differences(f, x, h, np.ndindex(*x.shape)):
        grad[ix] = (pos - neg) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Gradient of sum(f(x) * df) at ``x``: the vector-Jacobian product for upstream ``df``."""
    grad = np.zeros_like(x)
    for ix, pos, neg in _centered_differences(f, x, h, np.ndindex(*x.shape)):
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def eval_numerical_gradient_blobs(f, inputs, output, h=1e-5):
    """Numerical gradients for functions on Caffe-style blobs (the course's signature).

    A blob is any object with ``vals`` (an array) and ``diffs`` (an array of its shape);
    ``f(*inputs, output)`` writes its result into ``output.vals``. Returns one array per
    input blob: the gradient of sum(output.vals * output.diffs) with respect to its vals.
    """
    def result(_):
        f(*inputs, output)
        return output.vals

    return [eval_numerical_gradient_array(result, blob.vals, output.diffs, h) for blob in inputs]


def eval_numerical_gradient_net(net, inputs, output, h=1e-5):
    """:func:`eval_numerical_gradient_blobs` for a net whose ``forward()`` reads its input blobs
    and writes ``output`` (the course's signature)."""
    return eval_numerical_gradient_blobs(lambda *args: net.forward(), inputs, output, h=h)


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None, verbose=True, floor=1e-8):
    """Compare ``analytic_grad`` with the numerical gradient at ``num_checks`` random entries.

    Returns the largest relative error seen (``floor`` as in :func:`rel_error`); with
    ``verbose`` prints each comparison.
    """
    rng = np.random.default_rng(seed)
    indices = [tuple(int(rng.integers(m)) for m in x.shape) for _ in range(num_checks)]
    worst = 0.0
    for ix, pos, neg in _centered_differences(f, x, h, indices):
        numeric = float((pos - neg) / (2 * h))
        analytic = analytic_grad[ix]
        err = rel_error(numeric, analytic, floor)
        worst = max(worst, err)
        if verbose:
            print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {err:e}")
    return worst
