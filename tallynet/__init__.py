"""tallynet: neural networks from scratch in NumPy whose every layer keeps a tally of its own cost."""

from . import _openblas  # noqa: F401  (before NumPy: OpenBLAS's idle threads sleep; see its docstring)
from . import _allocator  # noqa: F401  (malloc keeps freed memory for the next step; see its docstring)
from .layers._threads import get_num_threads, set_num_threads

__version__ = "0.1.0"
__all__ = ["get_num_threads", "set_num_threads"]
