"""Training curves as a PNG: the loss per iteration, train and validation accuracy per epoch."""

import os


def plot_training(loss_history, train_acc_history, val_acc_history, path, title=None):
    """Write the two-panel figure to ``path`` (atomically: a temporary file, then a rename).

    Needs matplotlib (``pip install 'tallynet[plot]'``); uses the non-interactive Agg backend.
    """
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'tallynet[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(range(1, len(loss_history) + 1), loss_history, lw=0.8, alpha=0.6, label="minibatch loss")
    window = max(1, len(loss_history) // 50)
    if window > 1:
        smooth = [sum(loss_history[i - window:i]) / window for i in range(window, len(loss_history) + 1)]
        ax_loss.plot(range(window, len(loss_history) + 1), smooth, lw=1.5, label=f"mean of {window}")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    epochs = range(1, len(train_acc_history) + 1)
    ax_acc.plot(epochs, train_acc_history, "o-", label="train")
    ax_acc.plot(epochs, val_acc_history, "s-", label="validation")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path
