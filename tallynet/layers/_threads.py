"""Splitting memory-bound NumPy work over threads.

Outside the matrix products (which BLAS already runs on every core), a training
step is copies and elementwise passes: im2col, batchnorm, ReLU, pooling. Each is
limited by what one core can move through memory, and NumPy releases the GIL
inside its loops, copies and reductions, so two threads that each run the same
operation on their own part of an array really do run in parallel (1.4x to 1.9x
on two cores, measured).

:func:`split` does that: it calls ``fn(part)`` for consecutive slices ``part`` of
one axis, one per thread, the calling thread included. Callers split along an
axis whose parts are independent (batchnorm's channels, a convolution's
samples), so the result is the same as one call over the whole axis, and the
operation counts add up to exactly those of one call.

It runs ``fn`` once over the whole axis, on the calling thread, when

- only one thread is allowed (:func:`set_num_threads`);
- the work is small (under :data:`MIN_ELEMENTS` elements in the arrays given):
  a hand-off to a thread costs about 100 microseconds (measured), which a
  pass over a million float32 values about pays back;
- any array given is not a plain ``numpy.ndarray``: the profiler's counting
  arrays are counted one operation at a time, on one thread.
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._openblas import can_run_one_thread_here, run_on_one_blas_thread

#: below this many elements (summed over the arrays given) work runs on the calling thread
MIN_ELEMENTS = 1 << 20


def _default_threads():
    """TALLYNET_NUM_THREADS if set, else the cores this process may run on."""
    env = os.environ.get("TALLYNET_NUM_THREADS")
    if env is not None:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"TALLYNET_NUM_THREADS must be a positive integer, got {env!r}") from None
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_threads = _default_threads()
_pool, _pool_key = None, None


def set_num_threads(n):
    """Use up to ``n`` threads (n >= 1) for tallynet's elementwise work; BLAS keeps its own setting."""
    global _threads
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of threads must be an integer >= 1, got {n!r}")
    _threads = int(n)


def get_num_threads():
    """How many threads :func:`split` may use."""
    return _threads


@contextlib.contextmanager
def num_threads(n):
    """Use ``n`` threads inside the ``with`` block, then the setting before it."""
    before = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(before)


def _executor():
    """The worker threads, made again after a fork (a child process inherits none of them)."""
    global _pool, _pool_key
    key = (os.getpid(), _threads)
    if _pool_key != key:
        if _pool is not None and _pool_key[0] == key[0]:
            _pool.shutdown(wait=False)  # the thread count changed
        _pool = ThreadPoolExecutor(max_workers=_threads - 1, thread_name_prefix="tallynet")
        _pool_key = key
    return _pool


def along(axis, part):
    """The index that takes slice ``part`` of ``axis`` and everything of the axes before it."""
    return (slice(None),) * axis + (part,)


def outer_axis(a):
    """The axis with the largest stride: splitting it cuts ``a`` into the largest contiguous blocks."""
    return int(np.argmax(a.strides)) if a.ndim else 0


def elementwise(fn, out, *inputs):
    """``fn(*inputs, out=out)`` for an elementwise ``fn``, split along out's outer axis.

    Array inputs must have out's shape; scalars are passed to every part as they are.
    Returns ``out``.
    """
    if out.ndim == 0:
        fn(*inputs, out=out)
        return out
    axis = outer_axis(out)
    arrays = [a for a in inputs if isinstance(a, np.ndarray) and a.ndim]

    def part(s):
        index = along(axis, s)
        fn(*(a[index] if isinstance(a, np.ndarray) and a.ndim else a for a in inputs), out=out[index])
    split(part, out.shape[axis], out, *arrays)
    return out


def _parts(length, arrays, elements=None):
    """The consecutive slices covering ``range(length)`` that :func:`split` hands out, one per
    thread; a single slice when the work is not split (see the module docstring). ``elements``:
    the size of the work, when not that of the arrays."""
    parts = min(_threads, length)
    if elements is None:
        elements = sum(a.size for a in arrays)
    if parts < 2 or elements < MIN_ELEMENTS or any(type(a) is not np.ndarray for a in arrays):
        return [slice(0, length)]
    bounds = [length * k // parts for k in range(parts + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _run(fn, slices):
    """``[fn(part) for part in slices]``, the first part on the calling thread, the others on workers."""
    futures = [_executor().submit(fn, part) for part in slices[1:]]
    try:
        first = fn(slices[0])
    finally:
        results = [future.result() for future in futures]  # wait for every part, even when this one raised
    return [first] + results


def split(fn, length, *arrays):
    """Call ``fn(part)`` for consecutive slices ``part`` that together cover ``range(length)``.

    ``arrays`` are the arrays ``fn`` reads and writes; they decide whether the work
    is split at all (see the module docstring). Returns nothing: ``fn`` writes its
    results into arrays allocated beforehand.
    """
    _run(fn, _parts(length, arrays))


def split_products(fn, length, elements, *arrays):
    """:func:`split` for work made of many small matrix products; returns ``[fn(part), ...]``.

    ``elements``: the size of the work (a convolution's im2col columns, which it makes and
    multiplies), many times that of ``arrays``.

    With several parts, each part's products run on its own thread with one BLAS thread
    (:func:`tallynet._openblas.run_on_one_blas_thread`, set by the calling thread around
    the whole split, and by each part for itself where the setting is per thread): two
    threads each running their own products, on data still in their core's cache, beat
    BLAS splitting every product in two (convolutions by bands, :mod:`.conv_bands`: 2x,
    measured on 2 cores). Where the BLAS cannot be limited, one part runs on the calling
    thread and BLAS keeps its own threads.
    """
    slices = _parts(length, arrays, elements) if can_run_one_thread_here() else [slice(0, length)]
    if len(slices) == 1:
        return [fn(slices[0])]
    return run_on_one_blas_thread(_run, lambda part: run_on_one_blas_thread(fn, part), slices)
