"""Process settings that make a training step fast, applied only on request.

Importing tallynet changes nothing in the process. :func:`tune_process` applies two
settings that ``tallynet`` commands (train, profile, bench, gradcheck, ...) and the
benchmarks apply before they run; call it yourself for the same speed in a notebook
or a script:

- malloc keeps freed memory for the next step (:mod:`tallynet._allocator`): no page
  faults after the first step; ``TALLYNET_KEEP_FREED_MEMORY=0`` leaves malloc alone;
- OpenBLAS's idle threads sleep instead of spinning (:mod:`tallynet._openblas`), so they
  leave the cores to tallynet's threaded passes and to other libraries.

Both are process-wide. The Solver does not call it: a library object should not change
the process of the notebook it runs in unasked.

tallynet's own threads (``tallynet.set_num_threads``) are a setting of tallynet, not of
the process, and need no call.
"""

from . import _allocator, _openblas


def tune_process():
    """Apply both settings; returns ``{"keep_freed_memory": bool, "openblas_idle_threads_sleep": bool}``,
    whether each is in effect (each is left alone where the platform lacks it)."""
    return {"keep_freed_memory": _allocator.keep_freed_memory(),
            "openblas_idle_threads_sleep": _openblas.let_idle_threads_sleep()}
