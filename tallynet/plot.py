"""Training curves: the loss per iteration, train and validation accuracy per epoch.

The figure is drawn on a ``matplotlib.figure.Figure`` of its own, without pyplot: the
backend, pyplot's current figure and a notebook's ``plt.show()`` are left alone.
"""

import math
import os

import numpy as np


def training_figure(loss_history, train_acc_history, val_acc_history, title=None):
    """The two-panel ``Figure`` (a notebook displays it as it is).

    The accuracy histories are the Solver's, from epoch 0 (after the first iteration, as
    in the course) to the last epoch. Needs matplotlib (``pip install 'tallynet[plot]'``).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'tallynet[plot]'") from None
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(range(1, len(loss_history) + 1), loss_history, lw=0.8, alpha=0.6, label="minibatch loss")
    window = max(1, len(loss_history) // 50)
    if window > 1:
        smooth = [sum(loss_history[i - window:i]) / window for i in range(window, len(loss_history) + 1)]
        ax_loss.plot(range(window, len(loss_history) + 1), smooth, lw=1.5, label=f"mean of {window}")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    epochs = range(len(train_acc_history))
    ax_acc.plot(epochs, train_acc_history, "o-", label="train")
    ax_acc.plot(epochs, val_acc_history, "s-", label="validation")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_training(loss_history, train_acc_history, val_acc_history, path, title=None):
    """Write :func:`training_figure` to ``path`` as a PNG (atomically: a temporary file, then a
    rename) and return the path."""
    fig = training_figure(loss_history, train_acc_history, val_acc_history, title)
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
    return path


def image_grid(images, ubound=255.0, padding=1):
    """Tile ``images`` (N, H, W, C) into one (G H + (G - 1) padding, G W + (G - 1) padding, C)
    image, G = ceil(sqrt(N)), row by row; each image is rescaled on its own to [0, ubound]
    (a constant image to 0), the gaps and unused tiles are 0. The course's ``visualize_grid``,
    for looking at first-layer filters: ``image_grid(model.params["W1"].transpose(0, 2, 3, 1))``.
    NumPy only.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got shape {images.shape}")
    N, H, W, C = images.shape
    G = math.ceil(math.sqrt(N))
    low = images.min(axis=(1, 2, 3), keepdims=True)
    span = images.max(axis=(1, 2, 3), keepdims=True) - low
    scaled = ubound * np.divide(images - low, span, out=np.zeros_like(images), where=span > 0)
    tiles = np.zeros((G * G, H + padding, W + padding, C))
    tiles[:N, :H, :W] = scaled
    grid = tiles.reshape(G, G, H + padding, W + padding, C).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(G * (H + padding), G * (W + padding), C)
    return grid[:G * (H + padding) - padding, :G * (W + padding) - padding]
