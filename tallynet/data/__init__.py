"""Dataset loaders returning the dict the Solver takes.

Every loader returns ``X_train, y_train, X_val, y_val, X_test, y_test``: images
float32, C-contiguous, channel-first (N, C, H, W), scaled to [0, 1] and then
centred by the training split's mean, which is returned as ``mean`` (so
``X + mean`` is back in [0, 1]); labels int64. Splits are drawn with a seed.

- :func:`load_digits`: scikit-learn's 8x8 digits, (N, 1, 8, 8)
- :func:`load_cifar10`: CIFAR-10 python batches, (N, 3, 32, 32)
- :func:`load_mnist`: MNIST idx files, (N, 1, 28, 28)
- :func:`load`: any of them by name, or a directory holding either format
"""

from pathlib import Path

from .cifar10 import find_batch_dir, load_cifar10
from .digits import load_digits
from .download import cache_dir, fetch
from .errors import ChecksumError, DataFormatError, DownloadError
from .mnist import MNIST_FILES, find_mnist_files, load_mnist
from .preprocess import split_and_preprocess

LOADERS = {"digits": load_digits, "cifar10": load_cifar10, "mnist": load_mnist}

__all__ = [
    "LOADERS", "ChecksumError", "DataFormatError", "DownloadError", "cache_dir", "fetch",
    "load", "load_cifar10", "load_digits", "load_mnist", "split_and_preprocess",
]


def load(name_or_dir, **kwargs):
    """Load a dataset by name or from a directory (what the CLI's ``--data`` takes).

    ``name_or_dir`` is "digits", "cifar10" or "mnist", or else a directory holding
    CIFAR-10 python batches (directly or under ``cifar-10-batches-py/``) or the four
    MNIST idx files; a name wins over a directory of that name (write ``./mnist``).
    ``kwargs`` go to the chosen loader (a directory is passed as its ``path``).
    """
    name = str(name_or_dir)
    if name in LOADERS:
        return LOADERS[name](**kwargs)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ValueError(
            f"unknown dataset {name!r}: expected one of {', '.join(map(repr, LOADERS))} "
            "or a directory holding CIFAR-10 python batches or MNIST idx files"
        )
    if find_batch_dir(path) is not None:
        return load_cifar10(path=path, **kwargs)
    if find_mnist_files(path) is not None:
        return load_mnist(path=path, **kwargs)
    raise FileNotFoundError(
        f"{path} holds no dataset: expected CIFAR-10 python batches (data_batch_1 .. "
        f"data_batch_5 and test_batch, possibly under cifar-10-batches-py/) or the MNIST "
        f"idx files {', '.join(MNIST_FILES)} (gzipped or not)"
    )
