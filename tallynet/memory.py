"""Will a training step fit? The cost model's predicted peak against the memory the process may use.

``tallynet train``, ``profile``, ``gradcheck`` and ``bench`` call :func:`check_step_fits`
before they allocate anything: a step that does not fit would otherwise be killed by the
kernel's OOM killer after a minute (exit code 137, no message), or die in a MemoryError.

``train`` checks twice: before it builds the model, and again once the data are loaded
(CIFAR-10 takes 700 MB), against what is then left.

The memory available is the least of

- the cgroup's headroom: ``memory.max - memory.current`` (cgroup v2) or
  ``memory.limit_in_bytes - memory.usage_in_bytes`` (v1), where a limit is set;
- ``MemAvailable`` of ``/proc/meminfo``;

or, when set, ``$TALLYNET_MEMORY_LIMIT`` (bytes, or with a suffix K, M, G: ``512M``),
which overrides both (for tests, and for machines whose limits these files do not show).
On a system with none of these files the check is skipped.
"""

import os
import re

from .cost.render import fmt_bytes

MEMORY_ENV = "TALLYNET_MEMORY_LIMIT"
_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


class InsufficientMemory(RuntimeError):
    """A step's predicted peak exceeds the memory available; the message gives both figures
    and the largest batch that would fit."""


def parse_size(text, name=MEMORY_ENV):
    """``"512M"`` -> 536870912; a plain number is bytes."""
    match = _SIZE_RE.fullmatch(str(text))
    if not match:
        raise ValueError(f"{name} must be a size in bytes, optionally with a suffix K, M, G or T "
                         f"(e.g. 512M), got {text!r}")
    return int(float(match.group(1)) * _SUFFIXES[match.group(2).upper()])


def _read_int(path):
    """The integer in a cgroup or proc file, or None when it is absent, unreadable or "max"."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_dirs(root="/sys/fs/cgroup"):
    """This process's cgroup directory (from /proc/self/cgroup), then the root: a container
    often sees its own cgroup mounted as the root."""
    dirs = []
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split(":", 2)
                if len(parts) == 3 and parts[2].startswith("/"):
                    sub = "" if parts[1] in ("", "memory") else None
                    if sub is not None:
                        base = root if parts[1] == "" else os.path.join(root, "memory")
                        dirs.append(os.path.join(base, parts[2].lstrip("/")))
    except OSError:
        pass
    return dirs + [root, os.path.join(root, "memory")]


def _cgroup_headroom():
    """Limit minus usage of this process's cgroup, or None without a limit."""
    for directory in _cgroup_dirs():
        for limit_file, usage_file in (("memory.max", "memory.current"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes")):
            limit = _read_int(os.path.join(directory, limit_file))
            # cgroup v1 writes "no limit" as a huge number (2^63 rounded to pages)
            if limit is not None and limit < 1 << 60:
                usage = _read_int(os.path.join(directory, usage_file)) or 0
                return max(limit - usage, 0)
    return None


def _mem_available(path="/proc/meminfo"):
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_bytes():
    """``(bytes, source)``: the memory this process may still allocate and where the figure
    comes from; ``(None, None)`` when nothing says."""
    override = os.environ.get(MEMORY_ENV)
    if override:
        return parse_size(override), f"${MEMORY_ENV}"
    found = [(v, s) for v, s in ((_cgroup_headroom(), "the cgroup's limit"), (_mem_available(), "MemAvailable"))
             if v is not None]
    return min(found) if found else (None, None)


def largest_fitting_batch(peak_at, limit, batch):
    """The largest b <= ``batch`` with ``peak_at(b) <= limit`` (0 if not even 1): the peak grows
    with the batch, so a bisection over summaries (shapes only, cheap) finds it."""
    low, high = 0, batch  # peak_at(low) fits (or low is 0), peak_at(high) does not
    while high - low > 1:
        mid = (low + high) // 2
        if peak_at(mid) <= limit:
            low = mid
        else:
            high = mid
    return low


def check_step_fits(peak_at, batch, what="a training step", flag="--batch", allocated=0):
    """Raise :class:`InsufficientMemory` when ``peak_at(batch)`` (predicted peak bytes) exceeds
    :func:`available_bytes`; returns ``(peak, available)``. ``flag`` names the option that
    sets the batch, for the advice. ``allocated``: bytes of the peak that are already
    allocated (the parameters, once the model is built), which the memory available no
    longer includes; the check before anything is allocated passes 0."""
    available, source = available_bytes()
    peak = peak_at(batch)
    if available is None or peak - allocated <= available:
        return peak, available
    fits = largest_fitting_batch(lambda b: peak_at(b) - allocated, available, batch)
    advice = (f"the largest batch that fits is {fits} ({flag} {fits})" if fits else
              f"not even a batch of 1 fits (its peak is {fmt_bytes(peak_at(1))})")
    already = f", {fmt_bytes(allocated)} of it already allocated" if allocated else ""
    raise InsufficientMemory(
        f"{what} at batch {batch} needs about {fmt_bytes(peak)} ({peak:,} bytes, the cost model's "
        f"predicted peak{already}) but only {fmt_bytes(available)} ({available:,} bytes, {source}) is "
        f"available; {advice}; --force tries anyway")
