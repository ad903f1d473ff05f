"""A training run's output directory: refused when it holds another run, locked while in use.

``tallynet train --out DIR`` writes ``checkpoint_epoch_<k>.npz``, ``checkpoint_last.npz``,
``best.npz``, ``metrics.jsonl``, ``curves.png`` and ``result.json`` there. So that no run
silently destroys or mixes with another:

- a directory that already holds files is refused unless the run resumes it (``--resume``)
  or replaces it (``--overwrite``, which deletes the files tallynet writes, and refuses
  when the directory holds anything else: it never deletes a file it did not write);
- a run holds an exclusive ``flock`` on ``DIR/.tallynet.lock`` until it exits (the kernel
  releases it even after a SIGKILL), so a second run into DIR fails at once, naming the
  process that holds it;
- temporary files of writes that were killed half-way (``.*.tmp``) are removed once the
  lock is held, when no other run can be writing them;
- ``metrics.jsonl`` is rewritten from the records a checkpoint carries when a run resumes,
  so a kill between an epoch's checkpoint and its metrics line loses no line.
"""

import contextlib
import json
import os
import re

from .checkpoint import atomic_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, runs are not locked
    fcntl = None

LOCK_NAME = ".tallynet.lock"
METRICS_NAME = "metrics.jsonl"
LAST_CHECKPOINT = "checkpoint_last.npz"
#: the files a run writes, which --overwrite may delete
_RUN_FILES = re.compile(r"checkpoint_last\.npz|checkpoint_epoch_\d+\.npz|best\.npz|metrics\.jsonl|curves\.png"
                        r"|result\.json|\..*\.tmp")


class RunDirectoryError(ValueError):
    """A run directory that cannot be used as asked; the message names it and says what to do."""


def is_temp_file(name):
    return name.startswith(".") and name.endswith(".tmp")


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    with atomic_file(path) as f:
        f.write(text)


class RunDirectory:
    """``with RunDirectory(path, resume=..., overwrite=...) as run:`` checks and locks ``path``.

    Entering creates the directory if needed, takes the lock and checks its contents
    against the mode; nothing in it is changed until :meth:`prepare`.
    """

    def __init__(self, path, resume=False, overwrite=False):
        if resume and overwrite:
            raise RunDirectoryError("--resume and --overwrite exclude each other: --resume continues the "
                                    "run in --out, --overwrite deletes it")
        self.path, self.resume, self.overwrite = os.fspath(path), resume, overwrite
        self._lock = None

    # --- entering: lock and check -------------------------------------------------
    def __enter__(self):
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunDirectoryError(f"--out {self.path!r} is a file; expected a directory for the run's "
                                    "checkpoints and metrics (a new or an existing one)")
        if self.resume and not os.path.isdir(self.path):
            raise RunDirectoryError(f"--resume: --out {self.path!r} does not exist, so there is no checkpoint to resume from; "
                                    "start the run without --resume")
        os.makedirs(self.path, exist_ok=True)
        self._acquire_lock()
        try:
            self._check_contents()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _acquire_lock(self):
        if fcntl is None:  # pragma: no cover
            return
        lock = open(os.path.join(self.path, LOCK_NAME), "a+", encoding="utf-8")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise RunDirectoryError(f"--out {self.path!r} is in use by {holder}; wait for that run to end "
                                    "or choose another --out") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"process {os.getpid()} (tallynet train)\n")
        lock.flush()
        self._lock = lock

    def close(self):
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def contents(self):
        """The directory's entries, without the lock file and temporary files."""
        return sorted(n for n in os.listdir(self.path) if n != LOCK_NAME and not is_temp_file(n))

    def _check_contents(self):
        names = self.contents()
        if self.resume:
            if LAST_CHECKPOINT not in names:
                raise RunDirectoryError(f"--resume: no checkpoint {os.path.join(self.path, LAST_CHECKPOINT)!r} "
                                        "to resume from; start the run without --resume")
            return
        if not names:
            return
        if not self.overwrite:
            listed = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            raise RunDirectoryError(
                f"--out {self.path!r} already holds files ({listed}); continue that run with --resume, "
                "replace it with --overwrite, or choose another --out")
        foreign = [n for n in names if not _RUN_FILES.fullmatch(n)]
        if foreign:
            raise RunDirectoryError(
                f"--overwrite: --out {self.path!r} holds files a tallynet run does not write "
                f"({', '.join(foreign[:4])}); --overwrite deletes only a run's own files, so remove "
                "these yourself or choose another --out")

    # --- once every check has passed ------------------------------------------------
    def prepare(self, records=()):
        """Delete what the mode replaces and write ``metrics.jsonl`` from ``records`` (the
        epochs a resumed checkpoint carries; none for a new run). Returns the temporary
        files of interrupted writes that were removed."""
        removed = [n for n in os.listdir(self.path) if is_temp_file(n)]
        doomed = removed + (self.contents() if self.overwrite else [])
        for name in doomed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.path, name))
        write_atomic(self.file(METRICS_NAME), "".join(json.dumps(r) + "\n" for r in records))
        return removed

    def file(self, name):
        return os.path.join(self.path, name)

    def append_metrics(self, record):
        with open(self.file(METRICS_NAME), "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
