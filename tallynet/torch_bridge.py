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
    """A ``torch.nn.Module`` computing what ``model`` computes, with copies of its weights:
    an ``nn.Sequential`` for a chain, a module running the nodes in order for a graph.

    Each layer class says what its PyTorch equivalent is (``Layer.to_torch``): for
    example batchnorm's momentum is converted (PyTorch's ``momentum`` is 1 - tallynet's)
    and its running statistics copied; layernorm becomes LayerNorm on features and
    GroupNorm(1, C) on images; an affine layer becomes Flatten + Linear with the
    transposed weight matrix; a global average pool AdaptiveAvgPool2d(1) + Flatten.
    Dropout keeps its rate but draws its own masks. The modules' parameters come in the
    order of the model's nodes.
    """
    torch = _torch()
    dtypes = {np.float32: torch.float32, np.float64: torch.float64}
    if model.dtype not in dtypes:
        raise ValueError(f"to_torch: model dtype must be float32 or float64, got {np.dtype(model.dtype).name}")
    in_shapes, _ = model.node_shapes(batch=1)
    twins = []
    for layer, keys, in_shape in zip(model.layers, model.param_keys, in_shapes):
        params = {local: torch.from_numpy(np.array(model.params[key])) for local, key in keys.items()}
        try:
            twins.append(torch.nn.Sequential(*layer.to_torch(in_shape, params, torch.nn)))
        except NotImplementedError as err:
            raise ValueError(f"to_torch: {err}") from None
    if all(inputs == (i - 1,) for i, (_, inputs) in enumerate(model.nodes)):
        return torch.nn.Sequential(*(m for twin in twins for m in twin)).to(dtypes[model.dtype])
    return _graph_module(torch)(twins, [inputs for _, inputs in model.nodes]).to(dtypes[model.dtype])


def _graph_module(torch):
    class GraphModule(torch.nn.Module):
        """Runs its node modules in order, each on the outputs of its input nodes, and lets go
        of each output after its last use, as a model's forward written in Python does (what
        autograd saved of it stays alive)."""

        def __init__(self, nodes, inputs):
            super().__init__()
            self.nodes, self.inputs = torch.nn.ModuleList(nodes), inputs
            self.last_use = {j: i for i, taken in enumerate(inputs) for j in taken}

        def forward(self, x):
            values = {-1: x}
            for i, (node, inputs) in enumerate(zip(self.nodes, self.inputs)):
                args = [values[j] for j in inputs]
                values[i] = node(args[0] if len(args) == 1 else args)
                for j in set(inputs):
                    if self.last_use[j] == i:
                        del values[j]
                del args
            return values[len(self.nodes) - 1]
    return GraphModule


def merge_module(kind):
    """The ``nn.Module`` of a merge node, taking the list of its inputs: ``add``, ``concat``, ``mul``."""
    torch = _torch()

    class Merge(torch.nn.Module):
        def forward(self, xs):
            if kind == "add":
                return sum(xs[1:], xs[0])
            if kind == "concat":
                return torch.cat(xs, dim=1)
            x, s = xs
            return x * s.reshape(s.shape + (1,) * (x.dim() - s.dim()))
    Merge.__name__ = Merge.__qualname__ = f"Merge_{kind}"
    return Merge()


def optimizer(rule, params, learning_rate=None):
    """PyTorch's optimizer of a tallynet update rule (:data:`tallynet.optim.UPDATE_RULES`, or an
    alias) over ``params``, with the rule's default hyperparameters (``learning_rate`` replaces
    its default): sgd and sgd_momentum are ``SGD`` (momentum 0.9), rmsprop ``RMSprop`` (alpha
    = decay_rate 0.99, eps 1e-8 added after the square root, as tallynet's), adam ``Adam``."""
    from .optim import rule_name

    torch = _torch()
    rule = rule_name(rule)
    lr = {"sgd": 1e-2, "sgd_momentum": 1e-2, "rmsprop": 1e-2, "adam": 1e-3}[rule] if learning_rate is None \
        else learning_rate
    if rule == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    if rule == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-8)
    return torch.optim.SGD(params, lr=lr, momentum=0.9 if rule == "sgd_momentum" else 0)


def function_module(name, forward, params=None):
    """An ``nn.Module`` named ``name`` computing ``forward(x, *parameters)``, holding ``params``
    (``{name: tensor}``, in that order) as its parameters: the twin of a layer that PyTorch
    writes as a tensor operation (``x.permute``, ``torch.matmul``) rather than a module."""
    torch = _torch()
    names = list(params or {})

    class Function(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for key in names:
                self.register_parameter(key, torch.nn.Parameter(params[key].clone()))

        def forward(self, x):
            return forward(x, *(getattr(self, key) for key in names))
    Function.__name__ = Function.__qualname__ = name
    return Function()


def from_torch(module, input_shape, dtype=np.float32, name=None):
    """A tallynet graph model computing what the ``torch.nn.Module`` computes, with its weights:
    see :func:`tallynet.importer.from_torch`."""
    from .importer import from_torch as import_module
    return import_module(module, input_shape, dtype=dtype, name=name)
