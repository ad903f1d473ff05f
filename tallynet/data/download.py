"""Download files with SHA-256 verification and atomic placement, and the cache directory.

A download is streamed into a temporary file beside its destination, hashed while
it arrives, and moved into place with ``os.replace`` only once its SHA-256 matches,
so an interrupted or corrupt download never leaves a file that looks complete.
"""

import hashlib
import os
import re
import tempfile
import urllib.request
from contextlib import contextmanager
from http.client import HTTPException
from pathlib import Path

from .errors import ChecksumError, DownloadError

CACHE_ENV = "TALLYNET_CACHE"
_CHUNK = 1 << 20
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def cache_dir(path=None):
    """The directory downloads go to: ``path`` if given, else ``$TALLYNET_CACHE``,
    else ``~/.cache/tallynet``. It is not created here."""
    chosen = path if path is not None else os.environ.get(CACHE_ENV) or "~/.cache/tallynet"
    return Path(chosen).expanduser()


def sha256_file(path):
    """Hex SHA-256 digest of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def atomic_write(dest):
    """Context manager yielding a binary file that appears at ``dest`` only on success.

    The data goes to a temporary file in ``dest``'s directory (created if needed),
    so that the final ``os.replace`` is a rename within one file system, hence
    atomic. If the block raises (even KeyboardInterrupt) the temporary file is
    deleted and ``dest`` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch(url, dest, sha256, timeout=60.0, progress=None):
    """Download ``url`` to ``dest`` unless ``dest`` already holds a file with that SHA-256.

    - url: the address to download (any scheme urllib opens)
    - dest: the destination file; its parent directory is created if needed
    - sha256: the expected hex SHA-256 digest of the file (64 hex digits)
    - timeout: seconds to wait on the connection or on any read
    - progress: optional ``progress(done_bytes, total_bytes)`` called after each
      chunk; ``total_bytes`` is None when the server sends no Content-Length

    Returns ``dest`` as a Path. A present file with a different digest is downloaded
    again. Raises :class:`ChecksumError` (expected and received digests, the URL)
    when the download does not match, leaving nothing behind, and
    :class:`DownloadError` when the transfer itself fails.
    """
    expected = str(sha256).lower()
    if not _SHA256_RE.fullmatch(expected):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    dest = Path(dest)
    if dest.is_file() and sha256_file(dest) == expected:
        return dest
    with atomic_write(dest) as out:
        got = _stream(url, out, timeout, progress)
        if got != expected:
            raise ChecksumError(
                f"SHA-256 mismatch for {url}: expected {expected}, got {got}; "
                f"the download was discarded and {dest} was not written"
            )
    return dest


def _stream(url, out, timeout, progress):
    """Copy the body of ``url`` into the open file ``out``; return its hex SHA-256."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            done = 0
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except (OSError, HTTPException) as e:  # URLError and HTTPError are OSErrors
        raise DownloadError(f"could not download {url}: {e}") from e
    return digest.hexdigest()
