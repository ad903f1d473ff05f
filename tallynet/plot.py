"""Figures: training curves (the loss per iteration, train and validation accuracy per
epoch), a summary's cost per layer, a profiled step's memory over its passes.

Each figure is drawn on a ``matplotlib.figure.Figure`` of its own, without pyplot: the
backend, pyplot's current figure and a notebook's ``plt.show()`` are left alone, and a PNG
is written by matplotlib's Agg renderer. matplotlib is imported only when a figure is
drawn (``pip install 'tallynet[plot]'``). What a figure draws comes from a data function
(:func:`summary_plot_data`, :func:`profile_plot_data`) that returns the series as lists.
"""

import math
import os

import numpy as np


def training_figure(loss_history, train_acc_history, val_acc_history, title=None):
    """The two-panel ``Figure`` (a notebook displays it as it is).

    The accuracy histories are the Solver's, from epoch 0 (after the first iteration, as
    in the course) to the last epoch. Needs matplotlib (``pip install 'tallynet[plot]'``).
    """
    fig = _figure(figsize=(10, 4))
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
    return save_png(training_figure(loss_history, train_acc_history, val_acc_history, title), path)


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'tallynet[plot]'") from None
    return Figure(**kwargs)


def save_png(fig, path, dpi=100):
    """Write ``fig`` to ``path`` as a PNG, atomically (a temporary file, then a rename); returns the path."""
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"the plot is written as a PNG: expected a file name ending in .png, got {path!r}")
    tmp = f"{path}.tmp.png"
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
    except OSError as err:
        raise OSError(f"cannot write the plot {path!r} ({err.strerror or err})") from None
    os.replace(tmp, path)
    return path


# --- a summary's cost per layer ------------------------------------------------------------
def summary_plot_data(s):
    """The series :func:`summary_figure` draws, one entry per layer of Summary ``s``: ``layers``
    (names), ``block`` (the index of the layer's block, :func:`tallynet.cost.summary.blocks`),
    ``forward_flops``, ``backward_flops`` (the layer's whole backward), ``activation_bytes``,
    ``cache_bytes``; and ``blocks``, the first layer's name of each block."""
    from .cost.summary import blocks

    groups = blocks(s.layers)
    rows = [(b, l) for b, group in enumerate(groups) for l in group]
    return {"layers": [l.name for _, l in rows], "block": [b for b, _ in rows],
            "blocks": [group[0].name for group in groups],
            "forward_flops": [l.forward_flops for _, l in rows], "backward_flops": [l.backward_flops for _, l in rows],
            "activation_bytes": [l.activation_bytes for _, l in rows], "cache_bytes": [l.cache_bytes for _, l in rows]}


def _grouped_x(block):
    """x positions of the layers, one unit apart, with a gap of one between blocks."""
    return [i + b for i, b in enumerate(block)]


def _shade_blocks(ax, x, block):
    """Every other block on a grey band, so that the grouping reads at a glance."""
    for b in set(block):
        if b % 2:
            xs = [xi for xi, bi in zip(x, block) if bi == b]
            ax.axvspan(min(xs) - 0.5, max(xs) + 0.5, color="0.92", zorder=0)


def summary_figure(s):
    """Two panels of bars per layer, grouped by block: forward and backward FLOPs; activation
    (output) and cache bytes."""
    data = summary_plot_data(s)
    x = _grouped_x(data["block"])
    fig = _figure(figsize=(max(8, 0.45 * len(x) + 2), 7))
    ax_flops, ax_bytes = fig.subplots(2, 1, sharex=True)
    width = 0.4
    for ax, (left, right), unit, scale in (
            (ax_flops, ("forward_flops", "backward_flops"), "MFLOPs", 1e6),
            (ax_bytes, ("activation_bytes", "cache_bytes"), "MB", 2 ** 20)):
        _shade_blocks(ax, x, data["block"])
        ax.bar([xi - width / 2 for xi in x], [v / scale for v in data[left]], width, label=left.replace("_", " "))
        ax.bar([xi + width / 2 for xi in x], [v / scale for v in data[right]], width, label=right.replace("_", " "))
        ax.set_ylabel(unit)
        ax.legend(loc="upper right")
    ax_bytes.set_xticks(x)
    ax_bytes.set_xticklabels(data["layers"], rotation=90, fontsize=8)
    fig.suptitle(f"{s.name}: cost per layer at batch {s.batch}, {s.dtype.name}, convention {s.convention.name}")
    fig.tight_layout()
    return fig


def plot_summary(s, path):
    """Write :func:`summary_figure` of Summary ``s`` to ``path`` (a PNG); returns the path."""
    return save_png(summary_figure(s), path)


# --- a profiled step's memory --------------------------------------------------------------
def profile_plot_data(p):
    """The series :func:`profile_figure` draws, one entry per pass of the profiled step (the
    replay's :class:`~tallynet.cost.replay.Point` beside the profiler's measured one):
    ``labels`` (phase and layer), ``phase``, ``predicted_peak``, ``measured_peak``,
    ``predicted_after``, ``measured_after`` (bytes)."""
    predicted, measured = p.predicted_timeline, p.measured_timeline
    if [(a.phase, a.index) for a in predicted] != [(m.phase, m.index) for m in measured]:
        raise ValueError("the profile's measured passes differ from the replayed ones: "
                         f"{len(measured)} measured, {len(predicted)} replayed")
    return {"labels": [f"{a.phase} {a.name}" if a.index >= 0 else a.phase for a in predicted],
            "phase": [a.phase for a in predicted],
            "predicted_peak": [a.peak for a in predicted], "measured_peak": [m.peak for m in measured],
            "predicted_after": [a.after for a in predicted], "measured_after": [m.after for m in measured]}


_PHASE_COLOURS = {"forward": "#dbe9f6", "recompute": "#fde0c5", "backward": "#e3f1dc"}


def profile_figure(p):
    """The memory of a profiled step over its passes: each pass's peak and the bytes alive when
    it returns, predicted (the cost model's replay) against measured (tracemalloc)."""
    data = profile_plot_data(p)
    x = list(range(len(data["labels"])))
    fig = _figure(figsize=(max(8, 0.22 * len(x) + 2), 5))
    ax = fig.subplots()
    for i, phase in enumerate(data["phase"]):
        if phase in _PHASE_COLOURS:
            ax.axvspan(i - 0.5, i + 0.5, color=_PHASE_COLOURS[phase], zorder=0, lw=0)
    mb = 2 ** 20
    ax.plot(x, [v / mb for v in data["predicted_peak"]], "-", color="C0", label="peak during the pass, predicted")
    ax.plot(x, [v / mb for v in data["measured_peak"]], "o", color="C1", ms=4, label="peak during the pass, measured")
    ax.plot(x, [v / mb for v in data["predicted_after"]], "--", color="C2", lw=1, label="alive after it, predicted")
    ax.plot(x, [v / mb for v in data["measured_after"]], "x", color="C3", ms=4, label="alive after it, measured")
    ax.set_xticks(x)
    ax.set_xticklabels(data["labels"], rotation=90, fontsize=7)
    ax.set_ylabel("MB (2^20 bytes)")
    ax.set_ylim(bottom=0)
    from matplotlib.patches import Patch

    bands = [Patch(color=c, label=f"{phase} passes") for phase, c in _PHASE_COLOURS.items() if phase in data["phase"]]
    ax.legend(handles=ax.get_legend_handles_labels()[0] + bands, loc="upper left", bbox_to_anchor=(1.01, 1),
              fontsize=8)
    t = p.totals()
    how = f", checkpoint every {p.checkpoint} layers" if p.checkpoint else ""
    ax.set_title(f"{p.name} at batch {p.batch}{how}: step peak {t['predicted_peak_bytes'] / mb:.1f} MB predicted, "
                 f"{t['measured_peak_bytes'] / mb:.1f} MB measured")
    fig.tight_layout()
    return fig


def plot_profile(p, path):
    """Write :func:`profile_figure` of Profile ``p`` to ``path`` (a PNG); returns the path."""
    return save_png(profile_figure(p), path)


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
