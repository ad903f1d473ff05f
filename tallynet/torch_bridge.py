"""The PyTorch twin of a tallynet model: same layers, same weights, NCHW.

Needs ``pip install 'tallynet[torch]'``. Used as a reference oracle in tests and
as the baseline of ``tallynet bench``.
"""

import numpy as np


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the PyTorch bridge needs torch: pip install 'tallynet[torch]'") from None
    return torch


def to_torch(model):
    """An ``nn.Sequential`` computing what ``model`` computes, with copies of its weights.

    Each layer class says what its PyTorch equivalent is (``Layer.to_torch``): for
    example batchnorm's momentum is converted (PyTorch's ``momentum`` is 1 - tallynet's)
    and its running statistics copied; layernorm becomes LayerNorm on features and
    GroupNorm(1, C) on images; an affine layer becomes Flatten + Linear with the
    transposed weight matrix; a global average pool AdaptiveAvgPool2d(1) + Flatten.
    Dropout keeps its rate but draws its own masks.
    """
    torch = _torch()
    dtypes = {np.float32: torch.float32, np.float64: torch.float64}
    if model.dtype not in dtypes:
        raise ValueError(f"to_torch: model dtype must be float32 or float64, got {np.dtype(model.dtype).name}")
    modules = []
    for layer, keys, in_shape in zip(model.layers, model.param_keys, model.layer_shapes(batch=1)):
        params = {local: torch.from_numpy(np.array(model.params[key])) for local, key in keys.items()}
        try:
            modules += layer.to_torch(in_shape, params, torch.nn)
        except NotImplementedError as err:
            raise ValueError(f"to_torch: {err}") from None
    return torch.nn.Sequential(*modules).to(dtypes[model.dtype])
