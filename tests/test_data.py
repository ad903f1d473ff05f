"""Tests of tallynet.data: the loaders, the shared preprocessing and the downloader.

Nothing here touches the internet: the tests write small files in the real formats
(CIFAR-10 python batches, gzipped idx files, a tar.gz archive) and serve them from
an HTTP server on 127.0.0.1 to exercise the download path.
"""

import functools
import gzip
import hashlib
import http.server
import pickle
import sys
import tarfile
import threading

import numpy as np
import pytest

from tallynet.data import (
    ChecksumError,
    DataFormatError,
    DownloadError,
    cache_dir,
    fetch,
    load,
    load_cifar10,
    load_digits,
    load_mnist,
    split_and_preprocess,
)
from tallynet.data.mnist import MNIST_FILES

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


# ---------------------------------------------------------------- helpers


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def restore(data, split, max_value):
    """Undo the preprocessing of one split: the raw values, rounded to integers."""
    raw = (data[f"X_{split}"] + data["mean"]) * max_value
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-3)  # raw values were integers
    return np.round(raw).astype(np.int64)


def sorted_rows(X, y):
    """Images and labels as rows [pixels..., label], sorted: a split-independent multiset."""
    rows = np.concatenate([X.reshape(len(X), -1).astype(np.int64), y[:, None]], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def check_solver_dict(data, sizes, image_shape):
    for split, n in zip(("train", "val", "test"), sizes):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        assert X.shape == (n,) + image_shape
        assert X.dtype == np.float32 and X.flags.c_contiguous
        assert y.shape == (n,) and y.dtype == np.int64


def write_cifar_batches(directory, per_batch=4, n_test=6, seed=0):
    """Write the six batch files the way the official (Python 2) ones are laid out.

    Returns the raw images (N, 3, 32, 32) uint8 and labels of the train and test sets.
    """
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    parts = {}
    for name, n in [(b, per_batch) for b in TRAIN_BATCHES] + [("test_batch", n_test)]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"img{i}.png".encode() for i in range(n)]}
        (directory / name).write_bytes(pickle.dumps(batch, protocol=2))
        parts[name] = (data.reshape(n, 3, 32, 32), np.array(labels))
    train = [parts[b] for b in TRAIN_BATCHES]
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
            *parts["test_batch"])


def write_cifar_archive(path, batch_dir):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(batch_dir, arcname="cifar-10-batches-py")
    return sha256_of(path)


def write_idx(path, magic, array, gz=True):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def write_mnist(directory, n_train=12, n_test=5, gz=True, seed=0):
    """Write the four idx files (named with .gz when gzipped); return the raw arrays."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = [rng.integers(0, 256, size=(n_train, 28, 28)), rng.integers(0, 10, size=n_train),
              rng.integers(0, 256, size=(n_test, 28, 28)), rng.integers(0, 10, size=n_test)]
    for name, magic, array in zip(MNIST_FILES, (2051, 2049, 2051, 2049), arrays):
        write_idx(directory / (name if gz else name[:-3]), magic, array, gz)
    return arrays


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving ``server.root``; ``server.requests`` logs paths."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.root, httpd.requests = root, requests
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def all_files(directory):
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


# ---------------------------------------------------------------- digits and preprocessing


def test_digits_default_split_shapes_and_dtypes():
    data = load_digits()
    check_solver_dict(data, (1257, 180, 360), (1, 8, 8))
    assert data["mean"].shape == (1, 1, 1) and data["mean"].dtype == np.float32


def test_digits_splits_partition_the_dataset_and_mean_is_the_train_mean():
    from sklearn.datasets import load_digits as sklearn_digits

    data = load_digits(seed=3)
    raw = {s: restore(data, s, 16) for s in ("train", "val", "test")}
    assert all(r.min() >= 0 and r.max() <= 16 for r in raw.values())
    # Together the three splits are exactly the 1797 digits, each image with its label.
    ours = sorted_rows(np.concatenate(list(raw.values())),
                       np.concatenate([data[f"y_{s}"] for s in raw]))
    ref = sklearn_digits()
    np.testing.assert_array_equal(ours, sorted_rows(ref.images.astype(np.int64), ref.target))
    # The mean is that of the training split only, and centres it.
    np.testing.assert_allclose(data["mean"].ravel(), [raw["train"].mean() / 16], rtol=1e-6)
    assert abs(data["X_train"].mean(dtype=np.float64)) < 1e-6
    assert abs(data["X_val"].mean(dtype=np.float64)) > 1e-4  # not re-centred on its own


def test_digits_seed_determinism():
    a, b, c = load_digits(seed=7), load_digits(seed=7), load_digits(seed=8)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["y_val"], c["y_val"])


def test_digits_pixel_mean_and_custom_sizes():
    data = load_digits(num_val=100, num_test=200, num_train=50, mean="pixel")
    check_solver_dict(data, (50, 100, 200), (1, 8, 8))
    assert data["mean"].shape == (1, 8, 8)
    np.testing.assert_allclose(data["X_train"].mean(axis=0, dtype=np.float64), 0, atol=1e-6)
    np.testing.assert_allclose(data["mean"], restore(data, "train", 16).mean(axis=0) / 16, atol=1e-6)


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"tallynet\[data\]"):
        load_digits()


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_val=6, num_test=4), "num_val=6 and num_test=4 take all 10 images"),
    (dict(num_val=2, num_test=2, num_train=7), "num_train=7 exceeds the 6 images"),
    (dict(num_val=0, num_test=2), "num_val must be >= 1"),
    (dict(num_val=2), "num_test is required"),
    (dict(num_val=2, num_test=2, mean="batch"), "mean must be one of"),
])
def test_split_rejects_bad_arguments(kwargs, match):
    X, y = np.zeros((10, 1, 2, 2), np.uint8), np.zeros(10, np.int64)
    with pytest.raises(ValueError, match=match):
        split_and_preprocess(X, y, max_value=255, **kwargs)


# ---------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("inner", [True, False], ids=["parent-dir", "batches-dir"])
def test_cifar10_from_directory(tmp_path, inner):
    batch_dir = tmp_path / "cifar-10-batches-py"
    X, y, X_test, y_test = write_cifar_batches(batch_dir)
    data = load_cifar10(path=batch_dir if inner else tmp_path, num_val=5)
    check_solver_dict(data, (15, 5, 6), (3, 32, 32))
    assert data["mean"].shape == (3, 1, 1)
    # The test batch is kept whole and in order; R, G, B planes land in channels 0, 1, 2.
    np.testing.assert_array_equal(restore(data, "test", 255), X_test)
    np.testing.assert_array_equal(data["y_test"], y_test)
    train_val = [restore(data, s, 255) for s in ("train", "val")]
    np.testing.assert_array_equal(
        sorted_rows(np.concatenate(train_val), np.concatenate([data["y_train"], data["y_val"]])),
        sorted_rows(X, y))
    np.testing.assert_allclose(data["mean"].ravel(), train_val[0].mean(axis=(0, 2, 3)) / 255, rtol=1e-6)
    np.testing.assert_allclose(data["X_train"].mean(axis=(0, 2, 3), dtype=np.float64), 0, atol=1e-6)


def test_cifar10_num_test_takes_a_seeded_subset(tmp_path):
    _, _, X_test, y_test = write_cifar_batches(tmp_path, n_test=8)
    data = load_cifar10(path=tmp_path, num_val=2, num_test=3, num_train=4, seed=1)
    check_solver_dict(data, (4, 2, 3), (3, 32, 32))
    picked = sorted_rows(restore(data, "test", 255), data["y_test"])
    full = {tuple(r) for r in sorted_rows(X_test, y_test)}
    assert len({tuple(r) for r in picked} & full) == 3
    # The same seed picks the same test images, whatever num_train keeps.
    again = load_cifar10(path=tmp_path, num_val=2, num_test=3, seed=1)
    np.testing.assert_array_equal(restore(again, "test", 255), restore(data, "test", 255))


def test_cifar10_corrupt_pickle_names_the_file(tmp_path):
    write_cifar_batches(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"\x80\x02}q\x00(this is not a pickle")
    with pytest.raises(DataFormatError, match=r"data_batch_3: not a readable CIFAR-10 python batch"):
        load_cifar10(path=tmp_path)


@pytest.mark.parametrize("batch, match", [
    ([1, 2, 3], r"expected a pickled dict with the keys b'data' and b'labels'.*got a list"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, r"expected a pickled dict .* got a dict with keys b'data'$"),
    ({b"data": np.zeros((2, 1024), np.uint8), b"labels": [0, 1]},
     r"field b'data' must be a uint8 array of shape \(N, 3072\), got .*shape \(2, 1024\)"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, r"field b'data'.*float32"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]},
     r"field b'labels' must hold 2 integers in 0..9, got .*values in 0..10"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, r"field b'labels' must hold 2 integers"),
])
def test_cifar10_wrong_layout_names_file_and_field(tmp_path, batch, match):
    write_cifar_batches(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataFormatError, match=r"test_batch: " + match):
        load_cifar10(path=tmp_path)


def test_cifar10_refuses_pickles_that_call_other_globals(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    write_cifar_batches(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": Payload()}, protocol=2))
    with pytest.raises(DataFormatError, match=r"data_batch_1: .*refusing to load the global"):
        load_cifar10(path=tmp_path)
    assert not marker.exists()


def test_cifar10_missing_data_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no CIFAR-10 batches in .*data_batch_1"):
        load_cifar10(path=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"not in the cache .*download=True"):
        load_cifar10(cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_cifar10_download_verifies_extracts_and_caches(tmp_path, server):
    X, y, X_test, y_test = write_cifar_batches(tmp_path / "src" / "cifar-10-batches-py")
    digest = write_cifar_archive(server.root / "c10.tar.gz", tmp_path / "src" / "cifar-10-batches-py")
    cache = tmp_path / "cache"
    kwargs = dict(cache_dir=cache, num_val=5, url=f"{server.url}/c10.tar.gz", sha256=digest)
    first = load_cifar10(download=True, **kwargs)
    assert server.requests == ["/c10.tar.gz"]
    assert all_files(cache) == sorted(
        ["cifar-10-python.tar.gz"] + ["cifar-10-batches-py/" + n for n in TRAIN_BATCHES + ["test_batch"]])
    np.testing.assert_array_equal(restore(first, "test", 255), X_test)
    second = load_cifar10(download=True, **kwargs)
    assert server.requests == ["/c10.tar.gz"]  # the cached copy made no request
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_cifar10_download_hash_mismatch_leaves_nothing(tmp_path, server):
    write_cifar_batches(tmp_path / "src")
    digest = write_cifar_archive(server.root / "c10.tar.gz", tmp_path / "src")
    wrong = "0" * 64
    cache = tmp_path / "cache"
    url = f"{server.url}/c10.tar.gz"
    with pytest.raises(ChecksumError) as info:
        load_cifar10(download=True, cache_dir=cache, url=url, sha256=wrong)
    assert wrong in str(info.value) and digest in str(info.value) and url in str(info.value)
    assert all_files(cache) == []


def test_cifar10_archive_without_batches_is_a_clear_error(tmp_path, server):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "readme.html").write_text("no batches here")
    digest = write_cifar_archive(server.root / "c10.tar.gz", tmp_path / "src")
    with pytest.raises(DataFormatError, match=r"cifar-10-python.tar.gz: lacks the member\(s\) "
                                              r"cifar-10-batches-py/data_batch_1"):
        load_cifar10(download=True, cache_dir=tmp_path / "cache", url=f"{server.url}/c10.tar.gz",
                     sha256=digest)


def test_cache_dir_defaults_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("TALLYNET_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "tallynet"
    monkeypatch.setenv("TALLYNET_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_cifar10_download_goes_to_TALLYNET_CACHE(tmp_path, server, monkeypatch):
    write_cifar_batches(tmp_path / "src")
    digest = write_cifar_archive(server.root / "c10.tar.gz", tmp_path / "src")
    monkeypatch.setenv("TALLYNET_CACHE", str(tmp_path / "env-cache"))
    load_cifar10(download=True, num_val=5, url=f"{server.url}/c10.tar.gz", sha256=digest)
    assert (tmp_path / "env-cache" / "cifar-10-batches-py" / "test_batch").is_file()


# ---------------------------------------------------------------- MNIST


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_mnist_from_directory(tmp_path, gz):
    X, y, X_test, y_test = write_mnist(tmp_path, gz=gz)
    data = load_mnist(path=tmp_path, num_val=3)
    check_solver_dict(data, (9, 3, 5), (1, 28, 28))
    np.testing.assert_array_equal(restore(data, "test", 255)[:, 0], X_test)
    np.testing.assert_array_equal(data["y_test"], y_test)
    train_val = np.concatenate([restore(data, s, 255) for s in ("train", "val")])
    np.testing.assert_array_equal(
        sorted_rows(train_val, np.concatenate([data["y_train"], data["y_val"]])), sorted_rows(X, y))
    np.testing.assert_allclose(data["X_train"].mean(dtype=np.float64), 0, atol=1e-6)


def corrupt_truncate_data(path):
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-10]))


def corrupt_truncate_header(path):
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:10]))


def corrupt_wrong_magic(path):
    write_idx(path, 2049, np.zeros(12))


def corrupt_trailing_bytes(path):
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"\0"))


def corrupt_gzip_stream(path):
    path.write_bytes(path.read_bytes()[:-20])


@pytest.mark.parametrize("corrupt, match", [
    (corrupt_truncate_data, r"truncated idx file: field 'data' has 9398 bytes, expected 9408 = 12 x 28 x 28"),
    (corrupt_truncate_header, r"truncated idx header: field 'dimension sizes' needs 12 bytes, got 6"),
    (corrupt_wrong_magic, r"field 'magic number' is 2049, expected 2051"),
    (corrupt_trailing_bytes, r"trailing bytes: field 'data' has 9409 bytes, expected 9408"),
    (corrupt_gzip_stream, r"corrupt or truncated gzip data"),
])
def test_mnist_corrupt_idx_names_file_field_and_expected_value(tmp_path, corrupt, match):
    write_mnist(tmp_path)
    corrupt(tmp_path / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataFormatError, match=r"train-images-idx3-ubyte.gz: " + match):
        load_mnist(path=tmp_path, num_val=3)


def test_mnist_label_count_must_match_images(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2049, np.zeros(4))
    with pytest.raises(DataFormatError, match=r"t10k-labels-idx1-ubyte.gz: field 'number of items' "
                                              r"is 4, expected 5, the number of images in"):
        load_mnist(path=tmp_path, num_val=3)


def test_mnist_missing_files_are_listed(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing t10k-images-idx3-ubyte.gz \("):
        load_mnist(path=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.gz is not in the cache"):
        load_mnist(cache_dir=tmp_path / "cache")


def test_mnist_download_verifies_and_caches(tmp_path, server):
    X, y, X_test, y_test = write_mnist(server.root / "mnist")
    hashes = {name: sha256_of(server.root / "mnist" / name) for name in MNIST_FILES}
    kwargs = dict(cache_dir=tmp_path / "cache", num_val=3, base_url=f"{server.url}/mnist/",
                  sha256=hashes)
    first = load_mnist(download=True, **kwargs)
    assert sorted(server.requests) == sorted(f"/mnist/{name}" for name in MNIST_FILES)
    assert all_files(tmp_path / "cache") == sorted(f"mnist/{name}" for name in MNIST_FILES)
    np.testing.assert_array_equal(restore(first, "test", 255)[:, 0], X_test)
    second = load_mnist(download=True, **kwargs)
    assert len(server.requests) == 4  # the cached copies made no request
    np.testing.assert_array_equal(first["X_train"], second["X_train"])


def test_mnist_download_hash_mismatch_leaves_nothing(tmp_path, server):
    write_mnist(server.root)
    hashes = {name: sha256_of(server.root / name) for name in MNIST_FILES}
    hashes[MNIST_FILES[0]] = "ab" * 32
    with pytest.raises(ChecksumError, match="expected " + "ab" * 32):
        load_mnist(download=True, cache_dir=tmp_path / "cache", base_url=server.url, sha256=hashes)
    assert all_files(tmp_path / "cache") == []


# ---------------------------------------------------------------- fetch


def test_fetch_downloads_atomically_reports_progress_and_skips_present_files(tmp_path, server):
    payload = bytes(range(256)) * 5000
    (server.root / "blob").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "out" / "blob"
    calls = []
    assert fetch(f"{server.url}/blob", dest, digest, progress=lambda *a: calls.append(a)) == dest
    assert dest.read_bytes() == payload and all_files(tmp_path / "out") == ["blob"]
    assert calls[-1] == (len(payload), len(payload))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)

    fetch(f"{server.url}/blob", dest, digest.upper())
    assert server.requests == ["/blob"]  # right hash already present: no request

    dest.write_bytes(b"stale")
    fetch(f"{server.url}/blob", dest, digest)
    assert server.requests == ["/blob", "/blob"] and dest.read_bytes() == payload


def test_fetch_mismatch_keeps_an_existing_file_untouched(tmp_path, server):
    (server.root / "blob").write_bytes(b"new content")
    dest = tmp_path / "blob"
    dest.write_bytes(b"old content")
    with pytest.raises(ChecksumError, match=r"SHA-256 mismatch for http://127.0.0.1:\d+/blob"):
        fetch(f"{server.url}/blob", dest, "1" * 64)
    assert all_files(tmp_path) == ["blob", "served/blob"] and dest.read_bytes() == b"old content"


def test_fetch_http_error_names_the_url(tmp_path, server):
    with pytest.raises(DownloadError, match=r"could not download http://127.0.0.1:\d+/missing: .*404"):
        fetch(f"{server.url}/missing", tmp_path / "dl" / "missing", "2" * 64)
    assert all_files(tmp_path / "dl") == []


def test_fetch_rejects_malformed_sha256(tmp_path):
    with pytest.raises(ValueError, match="sha256 must be 64 hexadecimal digits"):
        fetch("http://127.0.0.1:9/x", tmp_path / "x", "abc")


# ---------------------------------------------------------------- load() dispatch


def test_load_dispatches_names_and_directories(tmp_path):
    np.testing.assert_array_equal(load("digits", seed=2)["X_val"], load_digits(seed=2)["X_val"])

    write_cifar_batches(tmp_path / "c" / "cifar-10-batches-py")
    assert load(tmp_path / "c", num_val=5)["X_train"].shape == (15, 3, 32, 32)
    write_mnist(tmp_path / "m", gz=False)
    assert load(str(tmp_path / "m"), num_val=3)["X_train"].shape == (9, 1, 28, 28)

    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet': expected one of 'digits'"):
        load("imagenet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no dataset"):
        load(tmp_path / "empty")
