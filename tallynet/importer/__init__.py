"""Import a PyTorch ``nn.Module`` as a tallynet graph model: ``from_torch(module, input_shape)``.

The module is traced with ``torch.fx`` (:mod:`.tracing`), its graph walked into the nodes of a
tallynet graph spec (:mod:`.walk`; modules in :mod:`.modules`, functions and tensor methods in
:mod:`.operations`), and the model built from that spec by the spec machinery like any other
(``from_spec``), then given the module's parameters and running statistics. So an imported
network is a :class:`~tallynet.models.Graph`: ``summary``, the walkthrough, ``profile``,
training and ``to_torch`` take it as they take a preset. Node names are the module paths
(``layer1.0.conv1``; parameters ``layer1.0.conv1.W``, torchvision's ``layer1.0.conv1.weight``).
torchvision's CNNs and vision transformers import (``tests/test_torch_import.py``).

An operation that no tallynet layer computes is refused with :class:`UnsupportedOperation`,
naming the operation, the fx node and the line of the model's source; it is never counted as
zero. Needs ``pip install 'tallynet[torch]'``.
"""

import warnings

import numpy as np

__all__ = ["from_torch", "torch_spec", "UnsupportedOperation"]


def __getattr__(name):
    # torch is imported when a model is imported, not with the package: the command line's
    # loader of package.module:callable (.callables) also serves models without torch
    if name == "UnsupportedOperation":
        from .tracing import UnsupportedOperation

        return UnsupportedOperation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_input_shape(input_shape):
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    if (not isinstance(input_shape, (tuple, list)) or not input_shape
            or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in input_shape)):
        raise ValueError(f"input_shape must be the shape of one sample, e.g. (3, 224, 224), got {input_shape!r}")
    return tuple(int(d) for d in input_shape)


def _walk(module, input_shape):
    import torch

    from .dispatch import Handlers
    from .tracing import UnsupportedOperation, trace
    from .walk import Walk

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch takes a torch.nn.Module, got {type(module).__name__}")
    walk = Walk(module, trace(module), _check_input_shape(input_shape), Handlers())
    output = walk.run()
    if output.node == "input":
        raise UnsupportedOperation(f"{type(module).__name__} computes nothing tallynet counts: its output is its input")
    unused = [name for name, p in module.named_parameters() if id(p) not in walk.used_params]
    if unused:
        warnings.warn(f"{type(module).__name__}: {len(unused)} parameters are used by no operation of the traced "
                      f"forward (eval mode) and are not imported: {', '.join(unused[:4])}"
                      f"{', ...' if len(unused) > 4 else ''}", stacklevel=3)
    return walk, output


def _spec(walk, output, name):
    nodes = [{node: {kind: fields or None, "inputs": inputs}} for node, kind, fields, inputs in walk.entries]
    return {"name": name, "input": list(walk.input_shape), "batch": 1, "nodes": nodes,
            # a classifier's scores are (N, classes); any other output is compared with targets
            "loss": "softmax" if len(output.shape) == 2 else "mse"}


def torch_spec(module, input_shape, name=None):
    """The tallynet graph spec (a dict) of what ``module`` computes on samples of ``input_shape``
    (one sample's shape, e.g. ``(3, 224, 224)``), without its weights: what the cost model needs.
    The module may live on the meta device (nothing is executed)."""
    return _spec(*_walk(module, input_shape), name or type(module).__name__)


def from_torch(module, input_shape, dtype=np.float32, name=None):
    """A tallynet :class:`~tallynet.models.Graph` computing what ``module`` computes (in eval
    mode: batchnorm with its running statistics) on samples of ``input_shape``, holding copies
    of its parameters and running statistics in ``dtype`` (float32 or float64)."""
    from ..models.spec import from_spec

    walk, output = _walk(module, input_shape)
    model = from_spec(_spec(walk, output, name or type(module).__name__), dtype=dtype)
    for node, params in walk.params.items():
        for local, tensor in params.items():
            key = f"{node}.{local}"
            model.params[key] = _array(tensor, key, model.params[key].shape, dtype)
    model.set_state({f"{node}.{stat}": _array(tensor, f"{node}.{stat}", tensor.shape, dtype)
                     for node, stats in walk.state.items() for stat, tensor in stats.items()})
    return model


def _array(tensor, key, shape, dtype):
    """A module tensor as a NumPy array of ``dtype``, checked against the shape tallynet expects."""
    if tensor.is_meta:
        raise ValueError(f"{key}: the module lives on the meta device, so it has no weights to import; "
                         "torch_spec gives its architecture")
    value = tensor.detach().cpu().numpy().astype(dtype)
    if value.shape != tuple(shape):  # pragma: no cover - the handlers map shapes one to one
        raise ValueError(f"{key}: the module's tensor has shape {value.shape}, tallynet expects {tuple(shape)}")
    return np.ascontiguousarray(value)
