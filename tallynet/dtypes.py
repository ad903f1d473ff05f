"""The dtypes tallynet knows, by name: the cost model's and the command line's choices."""

from dataclasses import dataclass

import numpy as np

#: every dtype a layer computes in and the cost model sizes
DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}

#: the dtypes a training step and its profile run in (float32 to train, float64 to check
#: gradients); float16 is for sizing networks
TRAINING_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class StorageType:
    """A dtype the cost model sizes but NumPy cannot compute in: it has what the cost model
    reads of a ``np.dtype``, its ``name`` and its ``itemsize``."""

    name: str
    itemsize: int


#: storage-only dtypes: bfloat16 (8 exponent and 7 mantissa bits, as PyTorch and TPUs store it)
STORAGE_TYPES = {"bfloat16": StorageType("bfloat16", 2)}

#: every dtype the cost model sizes: the computing ones and the storage-only ones
COST_DTYPES = (*DTYPES, *STORAGE_TYPES)


def cost_dtype(dtype):
    """The ``np.dtype`` (or :class:`StorageType`) the cost model sizes values of ``dtype`` (a name) with."""
    if isinstance(dtype, StorageType) or dtype in STORAGE_TYPES:
        return STORAGE_TYPES.get(dtype, dtype)
    try:
        found = np.dtype(dtype)
    except TypeError:
        found = None
    if found is None or found.name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(COST_DTYPES)}, got {dtype!r}")
    return found
