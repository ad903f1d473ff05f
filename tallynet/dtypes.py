"""The dtypes tallynet knows, by name: the cost model's and the command line's choices."""

import numpy as np

#: every dtype a layer computes in and the cost model sizes
DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}

#: the dtypes a training step and its profile run in (float32 to train, float64 to check
#: gradients); float16 is for sizing networks
TRAINING_DTYPES = ("float32", "float64")
