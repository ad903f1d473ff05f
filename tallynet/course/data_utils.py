"""``cs231n.data_utils``: ``get_CIFAR10_data`` over :func:`tallynet.data.load_cifar10`."""

from ..data import load_cifar10


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True, path=None,
                     download=False):
    """The course's data dict, from tallynet's loader: ``X_train, y_train, X_val, y_val, X_test,
    y_test`` as (n, 3, 32, 32) float32 with the training split's mean image subtracted.

    Unlike the course's, the pixels are scaled to [0, 1] before the mean is subtracted and the
    validation images are drawn at random from the training batches; ``path`` is the
    directory of ``cifar-10-batches-py`` (None: tallynet's cache, filled with ``download=True``).
    """
    if not subtract_mean:
        raise ValueError("subtract_mean=False is not offered: tallynet's loader always subtracts the mean")
    data = load_cifar10(path, download=download, num_val=num_validation, num_test=num_test,
                        num_train=num_training, mean="pixel")
    return {k: v for k, v in data.items() if k != "mean"}


__all__ = ["get_CIFAR10_data"]
