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

    BatchNorm momentum is converted (PyTorch's ``momentum`` is 1 - tallynet's) and its
    running statistics are copied; layernorm becomes LayerNorm on features and
    GroupNorm(1, C) on images; an
    affine layer becomes Flatten + Linear with the transposed weight matrix; a
    global average pool becomes AdaptiveAvgPool2d(1) + Flatten. Dropout keeps its
    rate but draws its own masks.
    """
    torch = _torch()
    nn = torch.nn
    dtypes = {np.float32: torch.float32, np.float64: torch.float64}
    if model.dtype not in dtypes:
        raise ValueError(f"to_torch: model dtype must be float32 or float64, got {np.dtype(model.dtype).name}")
    dtype = dtypes[model.dtype]
    modules = []
    shapes = model.layer_shapes(batch=1)
    for layer, keys, in_shape in zip(model.layers, model.param_keys, shapes):
        p = {local: torch.from_numpy(np.array(model.params[key])) for local, key in keys.items()}
        kind = layer.kind
        if kind == "conv":
            m = nn.Conv2d(in_shape[1], layer.filters, (layer.kh, layer.kw), stride=layer.stride, padding=layer.pad,
                          bias=layer.bias)
            m.weight.data = p["W"]
            if layer.bias:
                m.bias.data = p["b"]
            modules.append(m)
        elif kind == "affine":
            m = nn.Linear(int(np.prod(in_shape[1:])), layer.units)
            m.weight.data, m.bias.data = p["W"].T.contiguous(), p["b"]
            modules += [nn.Flatten(), m]
        elif kind == "batchnorm":
            cls = nn.BatchNorm2d if len(in_shape) == 4 else nn.BatchNorm1d
            m = cls(in_shape[1], eps=layer.eps, momentum=1 - layer.momentum)
            m.weight.data, m.bias.data = p["gamma"], p["beta"]
            state = layer.get_state()
            if state:
                m.running_mean.data = torch.from_numpy(state["running_mean"].copy())
                m.running_var.data = torch.from_numpy(state["running_var"].copy())
            modules.append(m)
        elif kind == "layernorm":
            m = nn.GroupNorm(1, in_shape[1], eps=layer.eps) if len(in_shape) == 4 else nn.LayerNorm(in_shape[1],
                                                                                                  eps=layer.eps)
            m.weight.data, m.bias.data = p["gamma"], p["beta"]
            modules.append(m)
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "sigmoid":
            modules.append(nn.Sigmoid())
        elif kind == "maxpool":
            modules.append(nn.MaxPool2d((layer.kh, layer.kw), stride=layer.stride))
        elif kind == "avgpool":
            modules.append(nn.AvgPool2d((layer.kh, layer.kw), stride=layer.stride))
        elif kind == "global_avgpool":
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "dropout":
            modules.append(nn.Dropout(1 - layer.keep))
        else:
            raise ValueError(f"to_torch: no PyTorch equivalent for layer type {kind!r}")
    return nn.Sequential(*modules).to(dtype)
