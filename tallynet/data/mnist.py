"""MNIST in its official idx format: 70000 grey images 28x28 of handwritten digits.

Four files, each gzipped (``.gz``) or not: ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``.
An idx file is a big-endian header followed by raw uint8 values:

- magic number (4 bytes): 2051 (0x00000803: unsigned bytes, 3 dimensions) for
  images, 2049 (0x00000801: unsigned bytes, 1 dimension) for labels;
- one 4-byte size per dimension: (N, rows, cols) or (N,);
- N * rows * cols (or N) bytes of data, row-major.

The parser takes rows and cols from the header, so same-format sets such as
Fashion-MNIST load too (pass their ``base_url`` and ``sha256``).
"""

import gzip
import zlib
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .download import cache_dir as resolve_cache_dir, fetch
from .errors import DataFormatError
from .preprocess import split_and_preprocess

# PyTorch's mirror of the files of yann.lecun.com/exdb/mnist/ (same bytes).
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
MNIST_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
# SHA-256 of the official gzipped files (9912422, 28881, 1648877 and 4542 bytes).
MNIST_SHA256 = MappingProxyType({
    TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
})
CACHE_SUBDIR = "mnist"
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_MAGIC_MEANING = {IMAGES_MAGIC: "idx3 unsigned-byte images", LABELS_MAGIC: "idx1 unsigned-byte labels"}
_GZIP_MAGIC = b"\x1f\x8b"


def load_mnist(path=None, download=False, cache_dir=None, num_val=5000, num_test=None,
               num_train=None, seed=0, mean="channel", base_url=MNIST_URL,
               sha256=MNIST_SHA256, timeout=600.0, progress=None):
    """Load MNIST, split off a validation set from the training images, preprocess.

    - path: a directory holding the four idx files (gzipped or not); None looks in
      the cache instead
    - download: with ``path=None``, download the missing files into the cache
      (about 11 MiB); otherwise a missing file is an error
    - cache_dir: the cache, see :func:`tallynet.data.download.cache_dir`; the files
      go to ``cache_dir/mnist/``
    - num_val: validation images drawn at random from the 60000 training images
    - num_test: a random subset of the 10000 test images, or None for all of them
    - num_train: training images kept out of the remaining ones, None for all
      (the default split is 55000 / 5000 / 10000)
    - seed, mean: see :func:`tallynet.data.split_and_preprocess`
    - base_url: the directory URL the four file names are appended to
    - sha256: mapping from each of the four file names to its expected digest
    - timeout: the deadline of each file's whole download in seconds
    - progress: passed to :func:`tallynet.data.download.fetch`

    Returns the Solver's data dict: images float32 of shape (n, 1, 28, 28) equal to
    ``pixel / 255 - mean`` with ``mean`` (returned too) the training split's mean,
    labels int64.
    """
    if path is not None:
        files = find_mnist_files(path)
        if files is None:
            missing = [name for name in MNIST_FILES if _find_idx(Path(path).expanduser(), name) is None]
            raise FileNotFoundError(
                f"no MNIST idx files in {path}: missing {', '.join(missing)} "
                "(each may also be uncompressed, without .gz)"
            )
    else:
        files = _cached_files(cache_dir, download, base_url, sha256, timeout, progress)
    X, y = _read_pair(files[0], files[1])
    X_test, y_test = _read_pair(files[2], files[3])
    return split_and_preprocess(X, y, max_value=255, num_val=num_val, num_test=num_test,
                                X_test=X_test, y_test=y_test, num_train=num_train,
                                seed=seed, mean=mean)


def find_mnist_files(path):
    """Paths of the four idx files in directory ``path`` in :data:`MNIST_FILES` order,
    each gzipped or not, or None when one is missing."""
    path = Path(path).expanduser()
    files = [_find_idx(path, name) for name in MNIST_FILES]
    return None if None in files else files


def _find_idx(directory, gz_name):
    for name in (gz_name, gz_name[: -len(".gz")]):
        if (directory / name).is_file():
            return directory / name
    return None


def _cached_files(cache_dir, download, base_url, sha256, timeout, progress):
    directory = resolve_cache_dir(cache_dir) / CACHE_SUBDIR
    files = []
    for name in MNIST_FILES:
        found = _find_idx(directory, name)
        if found is None:
            url = base_url.rstrip("/") + "/" + name
            if not download:
                raise FileNotFoundError(
                    f"{name} is not in the cache {directory}: pass download=True "
                    f"(CLI: --download) to fetch it from {url}, or path=DIR for a copy you already have"
                )
            found = fetch(url, directory / name, sha256[name], timeout=timeout, progress=progress)
        files.append(found)
    return files


def _read_pair(images_file, labels_file):
    """Images (N, 1, rows, cols) uint8 and labels (N,) of one split, checked to match."""
    images = read_idx(images_file, IMAGES_MAGIC)
    labels = read_idx(labels_file, LABELS_MAGIC)
    if labels.shape[0] != images.shape[0]:
        raise DataFormatError(
            f"{labels_file}: field 'number of items' is {labels.shape[0]}, expected "
            f"{images.shape[0]}, the number of images in {images_file}"
        )
    return images[:, None], labels


def read_idx(file, magic):
    """Parse an idx file (gzipped or not) whose magic number must be ``magic``.

    Returns a read-only uint8 array of the shape the header states. Raises
    :class:`DataFormatError` naming the file, the field and the expected value when
    the magic number is wrong or the header or data are truncated (or too long).
    """
    raw = _read_bytes(file)
    ndim = magic & 0xFF  # the low byte of the magic number counts the dimensions
    if len(raw) < 4:
        raise DataFormatError(
            f"{file}: truncated idx file: field 'magic number' needs 4 bytes, got {len(raw)}"
        )
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise DataFormatError(
            f"{file}: field 'magic number' is {got}, expected {magic} ({_MAGIC_MEANING[magic]})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(
            f"{file}: truncated idx header: field 'dimension sizes' needs {4 * ndim} bytes, "
            f"got {len(raw) - 4}"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        problem = "truncated idx file" if len(raw) - header < expected else "trailing bytes"
        raise DataFormatError(
            f"{file}: {problem}: field 'data' has {len(raw) - header} bytes, expected "
            f"{expected} = {' x '.join(map(str, dims))} as the header states"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_bytes(file):
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    raw = Path(file).read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataFormatError(f"{file}: corrupt or truncated gzip data ({e})") from e
