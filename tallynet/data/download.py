"""Download files with SHA-256 verification and atomic placement, and the cache directory.

A download is streamed into a temporary file beside its destination, hashed while
it arrives, and moved into place with ``os.replace`` only once its SHA-256 matches,
so an interrupted or corrupt download never leaves a file that looks complete, and
a failed one leaves no ``.part`` file behind.

``timeout`` is the deadline of the whole download, not of each read: a server that
trickles a byte a second would otherwise keep a download alive forever.
"""

import hashlib
import math
import os
import re
import socket
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from http.client import HTTPException
from pathlib import Path

from .errors import ChecksumError, DownloadError

CACHE_ENV = "TALLYNET_CACHE"
_CHUNK = 1 << 20
#: reads of at most this much return as soon as any data is there, so the deadline is
#: checked often however slowly the bytes arrive
_READ = 1 << 16
#: a read that gets no byte for this long fails before the deadline: a dead connection
_STALL = 60.0
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
    - timeout: seconds the whole download may take, connection included (its deadline);
      a transfer still running then fails with :class:`DownloadError`, as does one that
      receives nothing for 60 s (or the whole timeout, if shorter)
    - progress: optional ``progress(done_bytes, total_bytes)`` called after each
      chunk; ``total_bytes`` is None when the server sends no Content-Length

    Returns ``dest`` as a Path. A present file with a different digest is downloaded
    again. Raises :class:`ChecksumError` (expected and received digests, the URL)
    when the download does not match, leaving nothing behind, and
    :class:`DownloadError` when the transfer itself fails.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
            math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
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
    """Copy the body of ``url`` into the open file ``out`` within ``timeout`` seconds; return
    its hex SHA-256."""
    digest = hashlib.sha256()
    deadline = time.monotonic() + timeout
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=min(timeout, _STALL)) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            while True:
                _limit_next_read(response, deadline, url, timeout, done)
                chunk = response.read1(_READ) if hasattr(response, "read1") else response.read(_READ)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except DownloadError:
        raise
    except (socket.timeout, TimeoutError) as e:
        raise _too_slow(url, timeout, done) from e
    except (OSError, HTTPException) as e:  # URLError and HTTPError are OSErrors
        if isinstance(getattr(e, "reason", None), (socket.timeout, TimeoutError)):
            raise _too_slow(url, timeout, done) from e
        raise DownloadError(f"could not download {url}: {e}") from e
    return digest.hexdigest()


def _too_slow(url, timeout, done):
    return DownloadError(f"could not download {url}: it stalled or did not finish within the timeout of "
                         f"{timeout:g} s (the deadline of the whole download; {done:,} bytes had arrived); "
                         "pass a larger timeout for a slow connection")


def _limit_next_read(response, deadline, url, timeout, done):
    """Fail once the deadline has passed, else let the next read wait no longer than what is left."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _too_slow(url, timeout, done)
    # the socket under http.client's buffered reader; other handlers (file:, data:) have none
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(min(left, _STALL))
