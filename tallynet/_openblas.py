"""Let OpenBLAS's idle threads sleep instead of spinning.

After a matrix product, OpenBLAS (NumPy's BLAS) keeps its worker threads
busy-waiting for the next one, by default for 2**28 cycles (about 0.1 s). A
training step alternates matrix products with memory-bound passes that tallynet
splits over threads of its own (:mod:`tallynet.layers._threads`): on a machine
with as many cores as threads, a spinning BLAS thread takes a core away from
them, and from any other library sharing the cores. Measured on seed 001's CNN
at batch 128, 2 cores: tallynet's test-mode forward pass 41 -> 33 ms, its
training step 140 -> 101 ms, and PyTorch's step, run beside it in
``tallynet bench``, 142 -> 83 ms.

``OPENBLAS_THREAD_TIMEOUT=4`` (2**4 cycles, the smallest value OpenBLAS takes)
sends them to sleep at once; waking one costs microseconds, not milliseconds.
:func:`tallynet.tune_process` applies it (the ``tallynet`` command and ``tallynet
bench`` call it; importing tallynet changes nothing). OpenBLAS reads its
environment when it is loaded, with NumPy:

- before NumPy is loaded: the variable is set, and OpenBLAS reads it when NumPy
  loads it;
- after (importing tallynet loads NumPy): OpenBLAS has read
  its environment already, so tallynet sets the variable, has OpenBLAS read its
  environment again (``openblas_read_env``) and stops its worker threads
  (``blas_thread_shutdown_``, which OpenBLAS itself runs before every fork); the next
  matrix product starts them again, with the new timeout. Both functions are
  exported by every OpenBLAS build; where either is missing, or the BLAS is not
  OpenBLAS, nothing changes. Do not call it while another thread is inside a
  matrix product.

A value already in the environment is the user's choice and is kept, and then
OpenBLAS is not touched.
"""

import ctypes
import functools
import os
import sys

VARIABLE = "OPENBLAS_THREAD_TIMEOUT"
THREAD_TIMEOUT = "4"

#: whether OpenBLAS runs with the timeout in the environment (when tallynet came before
#: NumPy, set in advance; otherwise as OpenBLAS reports it)
in_effect = False


def _loaded_openblas():
    """A ctypes handle of the OpenBLAS library this process has loaded, or None (Linux only)."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:  # not Linux
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)  # already loaded: this only looks it up
            functions = lib.openblas_read_env, lib.blas_thread_shutdown_, lib.openblas_thread_timeout
        except (OSError, AttributeError):
            continue
        for function in functions:
            function.argtypes = ()
        functions[2].restype = ctypes.c_int
        return lib
    return None


def let_idle_threads_sleep():
    """Apply :data:`THREAD_TIMEOUT` as the module docstring says; returns :data:`in_effect`."""
    global in_effect
    if "numpy" not in sys.modules:
        os.environ.setdefault(VARIABLE, THREAD_TIMEOUT)
        in_effect = True
        return in_effect
    lib = _loaded_openblas()
    if lib is None:
        return in_effect
    if VARIABLE not in os.environ:
        os.environ[VARIABLE] = THREAD_TIMEOUT
        lib.openblas_read_env()
        lib.blas_thread_shutdown_()
    try:
        in_effect = lib.openblas_thread_timeout() == int(os.environ[VARIABLE])
    except ValueError:  # the user's value is not a number; OpenBLAS ignores it too
        in_effect = False
    return in_effect


# --- one BLAS thread per calling thread ----------------------------------------------
# OpenBLAS 0.3.27 and later have openblas_set_num_threads_local(n), which sets the number of
# threads for the products of the calling thread and returns the previous value. In NumPy's
# OpenBLAS 0.3.31 (pthreads) it changes it for every thread (measured: a product on the main
# thread ran 1.8x slower while another thread had set 1), so a caller that splits work over
# threads sets it around the whole split and restores it once every part is done
# (tallynet.layers._threads.split_products): restoring it from each part, in whatever order
# the parts finish, could leave it at 1. tallynet's banded convolutions
# (tallynet.layers.conv_bands) run their bands' matrix products on threads of their own, each
# on one BLAS thread, instead of one product at a time split by OpenBLAS.
@functools.cache  # looked up once
def _thread_count_setter():
    """OpenBLAS's ``openblas_set_num_threads_local``, or None (another BLAS, an older OpenBLAS)."""
    lib = _loaded_openblas()
    setter = getattr(lib, "openblas_set_num_threads_local", None) if lib is not None else None
    if setter is not None:
        setter.argtypes, setter.restype = (ctypes.c_int,), ctypes.c_int
    return setter


def can_run_one_thread_here():
    """Whether :func:`run_on_one_blas_thread` can limit BLAS to one thread per calling thread."""
    return _thread_count_setter() is not None


def run_on_one_blas_thread(fn, *args):
    """``fn(*args)`` with the matrix products it runs on this thread using one BLAS thread
    (see :func:`can_run_one_thread_here`; where it cannot, BLAS keeps its setting)."""
    setter = _thread_count_setter()
    if setter is None:
        return fn(*args)
    before = setter(1)
    try:
        return fn(*args)
    finally:
        setter(before)
