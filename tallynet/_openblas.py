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
OpenBLAS reads the variable once, when NumPy is first imported, so this takes
effect only when tallynet is imported before NumPy (the ``tallynet`` command
always is); otherwise set the variable in the environment yourself. A value
already in the environment is kept.
"""

import os
import sys

THREAD_TIMEOUT = "4"

#: True when tallynet came before NumPy, so the timeout was in the environment when
#: OpenBLAS read it; False when NumPy came first (then OpenBLAS has whatever was set then)
in_effect = False


def let_idle_threads_sleep():
    """Set OPENBLAS_THREAD_TIMEOUT (unless already set); returns :data:`in_effect`."""
    global in_effect
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", THREAD_TIMEOUT)
        in_effect = True
    return in_effect


let_idle_threads_sleep()
