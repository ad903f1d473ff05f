"""Loss functions: each returns ``(loss, dx)`` with dx the gradient of loss w.r.t. scores."""

import numpy as np

from ._checks import check_choice, check_float_array, check_nonempty_batch, check_shape


def _check_labels(x, y):
    """Class labels: integers of shape (N,), each in [0, C)."""
    check_float_array("x", x, ndim=2)
    check_nonempty_batch("x", x, "a loss averaged over the batch")
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    check_shape("y", y, (x.shape[0],))
    if y.size and (y.min() < 0 or y.max() >= x.shape[1]):
        raise ValueError(
            f"y holds labels in [{y.min()}, {y.max()}], expected labels in [0, {x.shape[1] - 1}]"
        )
    return y


def softmax_loss(x, y):
    """Cross-entropy of the softmax, averaged over the batch.

    - x: scores of shape (N, C); y: labels of shape (N,) with 0 <= y[i] < C

    loss = -(1/N) sum_i log softmax(x_i)[y_i];  dx = (softmax(x) - onehot(y)) / N.
    Scores are shifted by their row maximum first so that exp never overflows.
    """
    y = _check_labels(x, y)
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    return float(loss), dx.astype(x.dtype, copy=False)


def svm_loss(x, y):
    """Multiclass hinge loss with margin 1, averaged over the batch.

    loss = (1/N) sum_i sum_{j != y_i} max(0, x_ij - x_iy_i + 1).
    """
    y = _check_labels(x, y)
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    positive = (margins > 0).astype(x.dtype)
    positive[np.arange(N), y] -= positive.sum(axis=1)
    return float(loss), (positive / N).astype(x.dtype, copy=False)


def mse_loss(x, y, reduction="sum"):
    """Quadratic error E = sum over samples and outputs of (x - y)^2 (seed 003).

    - x: predictions of shape (N, D); y: targets of the same shape
    - reduction: ``"sum"`` (default, the homework's E, no 1/2 factor, summed over the
      batch) or ``"mean"`` (E divided by N, so the scale does not grow with the batch)

    dx = 2 (x - y), divided by N under ``"mean"``.
    """
    check_float_array("x", x, min_ndim=1)
    check_choice("reduction", reduction, ("sum", "mean"))
    y = np.asarray(y, dtype=x.dtype)
    if y.shape != x.shape and y.shape == (x.shape[0],) and x.ndim == 2 and x.shape[1] == 1:
        y = y[:, None]  # (N,) targets for a single-output net
    check_shape("y", y, x.shape)
    diff = x - y
    scale = 1.0 / x.shape[0] if reduction == "mean" else 1.0
    loss = float(np.sum(diff * diff)) * scale
    return loss, (2 * scale * diff).astype(x.dtype, copy=False)


LOSSES = {"softmax": softmax_loss, "svm": svm_loss, "mse": mse_loss}

#: arrays of the scores' size each loss holds at once, its gradient dx included (for the cost
#: model's peak memory): softmax the shifted scores, the log-probabilities and dx; svm the
#: margins, the positive-margin indicator and dx; mse x - y beside its square, later beside dx
LOSS_ARRAYS = {"softmax": 3, "svm": 3, "mse": 2}
