"""CIFAR-10 in its official python format: 60000 colour images 32x32 in 10 classes.

The official archive ``cifar-10-python.tar.gz`` holds a directory
``cifar-10-batches-py/`` with five training batches ``data_batch_1`` ..
``data_batch_5`` and one ``test_batch`` of 10000 images each. Every batch is a
pickled dict whose ``b"data"`` is a uint8 array of shape (10000, 3072) (one row per
image: the 1024 red, then green, then blue values, each plane row-major) and whose
``b"labels"`` is a list of 10000 ints in 0..9.
"""

import gzip
import pickle
import posixpath
import shutil
import tarfile
import zlib
from pathlib import Path

import numpy as np

from .download import atomic_write, cache_dir as resolve_cache_dir, fetch
from .errors import DataFormatError
from .preprocess import split_and_preprocess

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# SHA-256 of the official cifar-10-python.tar.gz (170498071 bytes, MD5
# c58f30108f718f92721af3b95e74349a as published on the CIFAR page); the digest
# c4a38c50... that also circulates belongs to cifar-10-binary.tar.gz, another format.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
BATCH_FILES = TRAIN_BATCHES + (TEST_BATCH,)
IMAGE_SHAPE = (3, 32, 32)
NUM_CLASSES = 10

# The only globals a CIFAR-10 batch needs: how numpy pickles an array (NumPy 1 and 2
# module names, protocols 2 and 5) and how Python 3 pickles bytes at protocol 2.
# Refusing every other global means a hostile "batch" cannot run code on load.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


def load_cifar10(path=None, download=False, cache_dir=None, num_val=1000, num_test=None,
                 num_train=None, seed=0, mean="channel", url=CIFAR10_URL,
                 sha256=CIFAR10_SHA256, timeout=1800.0, progress=None):
    """Load CIFAR-10, split off a validation set from the training batches, preprocess.

    - path: a directory holding the six batch files, or holding ``cifar-10-batches-py/``
      with them; None looks in the cache instead
    - download: with ``path=None``, download and extract the archive into the cache
      when it is not there yet (about 163 MiB); otherwise a missing cache is an error
    - cache_dir: the cache, see :func:`tallynet.data.download.cache_dir`
      (default ``$TALLYNET_CACHE`` or ``~/.cache/tallynet``); the batches go to
      ``cache_dir/cifar-10-batches-py/``
    - num_val: validation images drawn at random from the 50000 training images
    - num_test: a random subset of the 10000 test images, or None for all of them
    - num_train: training images kept out of the remaining ones, None for all
      (the default split is 49000 / 1000 / 10000)
    - seed, mean: see :func:`tallynet.data.split_and_preprocess`
    - url, sha256: where the archive is downloaded from and its expected digest
    - timeout: the deadline of the whole download in seconds (the archive is 163 MiB)
    - progress: passed to :func:`tallynet.data.download.fetch`

    Returns the Solver's data dict: images float32 of shape (n, 3, 32, 32) equal to
    ``pixel / 255 - mean`` with ``mean`` (returned too) the training split's mean,
    labels int64 in 0..9.
    """
    if path is not None:
        batch_dir = find_batch_dir(path)
        if batch_dir is None:
            raise FileNotFoundError(
                f"no CIFAR-10 batches in {path}: expected {', '.join(BATCH_FILES)} in it "
                f"or in {Path(path) / BATCH_DIR} (the python version of CIFAR-10)"
            )
    else:
        batch_dir = _cached_batch_dir(cache_dir, download, url, sha256, timeout, progress)
    X, y = _read_batches(batch_dir, TRAIN_BATCHES)
    X_test, y_test = _read_batches(batch_dir, (TEST_BATCH,))
    return split_and_preprocess(X, y, max_value=255, num_val=num_val, num_test=num_test,
                                X_test=X_test, y_test=y_test, num_train=num_train,
                                seed=seed, mean=mean)


def find_batch_dir(path):
    """The directory holding all six batch files: ``path/cifar-10-batches-py`` or
    ``path`` itself, or None when neither does."""
    path = Path(path).expanduser()
    for candidate in (path / BATCH_DIR, path):
        if all((candidate / name).is_file() for name in BATCH_FILES):
            return candidate
    return None


def _cached_batch_dir(cache_dir, download, url, sha256, timeout, progress):
    root = resolve_cache_dir(cache_dir)
    batch_dir = root / BATCH_DIR
    if find_batch_dir(batch_dir) == batch_dir:
        return batch_dir
    if not download:
        raise FileNotFoundError(
            f"CIFAR-10 is not in the cache {batch_dir}: pass download=True (CLI: --download) "
            f"to fetch it from {url}, or path=DIR for a copy you already have"
        )
    archive = fetch(url, root / ARCHIVE_NAME, sha256, timeout=timeout, progress=progress)
    _extract_batches(archive, batch_dir)
    return batch_dir


def _extract_batches(archive, batch_dir):
    """Extract the six batch files of ``archive`` into ``batch_dir``.

    Only those members are written, under names chosen here, so a crafted archive
    cannot write outside ``batch_dir``; one pass over the gzip stream suffices.
    """
    wanted = {f"{BATCH_DIR}/{name}": name for name in BATCH_FILES}
    found = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(posixpath.normpath(member.name))
                if name is None or not member.isfile():
                    continue
                with tar.extractfile(member) as src, atomic_write(batch_dir / name) as out:
                    shutil.copyfileobj(src, out)
                found.add(name)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataFormatError(f"{archive}: not a readable tar.gz archive ({e})") from e
    missing = [f"{BATCH_DIR}/{name}" for name in BATCH_FILES if name not in found]
    if missing:
        raise DataFormatError(
            f"{archive}: lacks the member(s) {', '.join(missing)} of the official {ARCHIVE_NAME}"
        )


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load the global {module}.{name}: a CIFAR-10 batch holds "
                "only a numpy array, lists and bytes"
            )
        return super().find_class(module, name)


def _read_batches(batch_dir, names):
    """Images (n, 3, 32, 32) uint8 and labels (n,) of the named batches, concatenated."""
    parts = [read_batch(Path(batch_dir) / name) for name in names]
    return (np.concatenate([images for images, _ in parts]),
            np.concatenate([labels for _, labels in parts]))


def read_batch(file):
    """Read one CIFAR-10 python batch: images (n, 3, 32, 32) uint8 and labels (n,) int64.

    Raises :class:`DataFormatError`, naming the file and the field, when the file is
    not a pickle or not the dict layout described in the module docstring.
    """
    with open(file, "rb") as f:
        try:
            # encoding="bytes": the official batches were pickled by Python 2, whose
            # str keys and pixel buffer must stay bytes rather than be decoded.
            batch = _BatchUnpickler(f, encoding="bytes").load()
        except Exception as e:  # a corrupt pickle can fail in many ways; name the file
            raise DataFormatError(
                f"{file}: not a readable CIFAR-10 python batch ({type(e).__name__}: {e})"
            ) from e
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataFormatError(
            f"{file}: expected a pickled dict with the keys b'data' and b'labels' "
            f"(a CIFAR-10 python batch), got {_describe(batch)}"
        )
    data = batch[b"data"]
    size = int(np.prod(IMAGE_SHAPE))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == size):
        raise DataFormatError(
            f"{file}: field b'data' must be a uint8 array of shape (N, {size}), got {_describe(data)}"
        )
    labels = _labels(file, batch[b"labels"], data.shape[0])
    return data.reshape((-1,) + IMAGE_SHAPE), labels


def _labels(file, labels, n):
    """``labels`` as an int64 array, checked to hold ``n`` class indices."""
    expected = f"field b'labels' must hold {n} integers in 0..{NUM_CLASSES - 1}"
    try:
        arr = np.asarray(labels)
    except ValueError as e:  # ragged nested lists
        raise DataFormatError(f"{file}: {expected}, got {type(labels).__name__} ({e})") from e
    if (arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer)
            or (n and (arr.min() < 0 or arr.max() >= NUM_CLASSES))):
        raise DataFormatError(f"{file}: {expected}, got {_describe(arr)}")
    return arr.astype(np.int64)


def _describe(obj):
    if isinstance(obj, dict):
        return f"a dict with keys {', '.join(sorted(map(repr, obj)))}"
    if isinstance(obj, np.ndarray):
        extra = f" with values in {obj.min()}..{obj.max()}" if obj.size and obj.dtype.kind in "iu" else ""
        return f"an array of dtype {obj.dtype} and shape {obj.shape}{extra}"
    return f"a {type(obj).__name__}"
