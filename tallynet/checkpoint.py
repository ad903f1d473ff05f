"""Checkpoint files: one ``.npz`` archive, written atomically, read without pickle.

A payload is a tree of dicts (string keys), lists, ndarrays and JSON scalars
(None, bool, int, float, str; NumPy scalars are stored as their Python value).
:func:`save_checkpoint` moves every array into its own archive member, named
after its place in the tree (``arrays/optim_configs/W1/velocity``), and writes
the rest of the tree as one JSON document in the member ``__tallynet__``, with
``{"__ndarray__": member}`` where an array was. Floats round-trip exactly (JSON
writes the shortest repr that reads back to the same double) and so do integers
of any size, such as a random generator's 128-bit state.

The file is never seen half-written: the archive goes to a temporary file in the
same directory, is flushed and fsynced, and then ``os.replace``-d over the
target, which is atomic. A crash or Ctrl-C leaves either the old file or the new.
"""

import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "tallynet-checkpoint"
VERSION = 1
_META = "__tallynet__"
_ARRAYS = "arrays/"
_ARRAY_TAG = "__ndarray__"


class CheckpointError(ValueError):
    """A file that is not a readable tallynet checkpoint; the message names the file."""


def _flatten(node, path, arrays):
    """JSON-able copy of ``node`` whose arrays are moved into ``arrays`` (member name -> array)."""
    where = path or "<root>"
    if isinstance(node, np.ndarray):
        if node.dtype.hasobject:
            raise TypeError(f"checkpoint entry {where!r} is an object array, which needs pickle")
        key = path or "root"
        while key in arrays:  # only when keys themselves contain "/"
            key += "_"
        arrays[key] = node
        return {_ARRAY_TAG: key}
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not isinstance(key, str) or key == _ARRAY_TAG:
                raise TypeError(f"checkpoint entry {where!r} has the key {key!r}; keys must be strings "
                                f"other than {_ARRAY_TAG!r}")
            out[key] = _flatten(value, f"{path}/{key}" if path else key, arrays)
        return out
    if isinstance(node, (list, tuple)):
        return [_flatten(value, f"{path}/{i}", arrays) for i, value in enumerate(node)]
    if isinstance(node, np.generic):
        return node.item()
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    raise TypeError(f"checkpoint entry {where!r} has type {type(node).__name__}; a checkpoint holds only "
                    "arrays, numbers, strings, None, lists and dicts")


def _unflatten(node, members, path):
    if isinstance(node, dict):
        if set(node) == {_ARRAY_TAG}:
            key = _ARRAYS + node[_ARRAY_TAG]
            if key not in members:
                raise CheckpointError(f"checkpoint {path!r} lacks the array member {key!r}")
            return members[key]
        return {key: _unflatten(value, members, path) for key, value in node.items()}
    if isinstance(node, list):
        return [_unflatten(value, members, path) for value in node]
    return node


def save_checkpoint(path, payload):
    """Write ``payload`` (see the module docstring) to ``path`` atomically.

    Missing parent directories are created. Raises ``TypeError`` naming the entry
    that a checkpoint cannot hold, before anything is written.
    """
    path = os.fspath(path)
    arrays = {}
    meta = {"format": FORMAT, "version": VERSION, "payload": _flatten(payload, "", arrays)}
    members = {_ARRAYS + key: value for key, value in arrays.items()}
    members[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_file(path, "wb") as f:
        np.savez(f, **members)
    _fsync_directory(os.path.dirname(os.path.abspath(path)))
    return path


@contextlib.contextmanager
def atomic_file(path, mode="w"):
    """A file to write ``path`` through: a temporary file beside it (``.<stem>-XXXX<ext>.tmp``),
    synced and renamed over ``path`` when the block ends, removed when it raises. So ``path``
    is never half-written, whatever kills the process."""
    directory, base = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(base)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{stem}-", suffix=f"{ext}.tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX; directories cannot be opened on Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint` and return its payload.

    Arrays come back as ndarrays with their saved dtype, tuples as lists. Raises
    ``FileNotFoundError`` when ``path`` does not exist and :class:`CheckpointError`
    when it is truncated, corrupt or not a tallynet checkpoint; both name the file.
    Nothing is unpickled.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint {path!r} is a directory; expected a .npz file written by tallynet")
    try:
        archive = np.load(path, allow_pickle=False)
        if isinstance(archive, np.ndarray):
            members = {}  # a single .npy array: reported below as not a checkpoint
        else:
            with archive:
                members = {name: archive[name] for name in archive.files}
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as err:
        # NumPy takes a file that is neither .npz nor .npy for a pickle and suggests loading it
        # "unsafely using allow_pickle": advice a checkpoint reader must not give
        why = "it is neither an .npz archive nor an .npy array" if "pickle" in str(err) else str(err)
        raise CheckpointError(f"cannot read checkpoint {path!r} (truncated or corrupt?): {why}; expected "
                              "a .npz archive written by tallynet") from err
    if _META not in members:
        raise CheckpointError(f"{path!r} is not a tallynet checkpoint (it has no {_META!r} entry)")
    try:
        meta = json.loads(members[_META].tobytes().decode("utf-8"))
    except ValueError as err:
        raise CheckpointError(f"checkpoint {path!r} has unreadable metadata: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "payload" not in meta:
        raise CheckpointError(f"{path!r} is not a tallynet checkpoint (unknown metadata format)")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path!r} has format version {meta.get('version')!r}; "
                              f"this tallynet reads version {VERSION}")
    return _unflatten(meta["payload"], members, path)
