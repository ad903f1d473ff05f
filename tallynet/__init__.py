"""tallynet: neural networks from scratch in NumPy whose every layer keeps a tally of its own cost.

Importing it changes nothing in the process; :func:`tune_process` applies the settings that
make training fast (see :mod:`tallynet.tuning`).
"""

from .layers._threads import get_num_threads, set_num_threads
from .tuning import tune_process

__version__ = "0.1.0"
__all__ = ["get_num_threads", "set_num_threads", "tune_process"]
