"""Walking a traced fx graph into the nodes of a tallynet graph spec.

Every fx node gets a value: a :class:`Tensor` (the output of a tallynet node, or the model's
input) for the tensors the model computes, a Python value (an int, a tuple) for what only
feeds shapes (``x.size(0)``, ``c // groups``), or one of the partial values of
:mod:`.operations` (a tensor seen as groups of channels, the chunks of a split) that a
recognised pattern of operations turns into one tallynet node. Shapes come from the tallynet
layers themselves (``Layer.output_shape``), so nothing is executed: a model built on the meta
device imports as well as one with weights. The batch axis is :data:`BATCH`, an int that
remembers it is the batch, so that ``x.view(x.size(0), -1)`` is recognised as a flatten.

Node names are the fx targets: a module call is named by the module's path
(``layer1.0.conv1``, so parameters stay ``layer1.0.conv1.W``, torchvision's module names), a
function or method by the module whose forward calls it and the operation (``layer1.0.add``);
a name used twice (a ReLU module called twice) takes ``_1``, ``_2``, ...
"""

import operator
import re
from dataclasses import dataclass

import torch
from torch.fx.node import map_arg

from ..layers import LAYER_TYPES
from .tracing import UnsupportedOperation, class_source, source_line


class _Batch(int):
    """The batch size in a traced shape: an int (2) that knows it is the batch axis."""

    def __repr__(self):
        return "N"


BATCH = _Batch(2)


@dataclass(frozen=True)
class Tensor:
    """A tensor the model computes: the output of tallynet node ``node`` (``"input"``: the model's
    input), of ``shape`` (batch first, :data:`BATCH`)."""

    node: str
    shape: tuple


class Refused(Exception):
    """A handler's refusal; the walk names the operation, the fx node and the source line."""


class Walk:
    """One walk over an fx graph: ``run()`` returns the output :class:`Tensor`; ``entries`` are
    the tallynet nodes ``(name, kind, fields, input names)``, ``params`` and ``state`` the
    module tensors each node takes (``{node: {local name: tensor}}``)."""

    def __init__(self, root, graph, input_shape, handlers):
        self.root, self.graph, self.handlers = root, graph, handlers
        self.input_shape = tuple(int(d) for d in input_shape)
        self.entries, self.params, self.state = [], {}, {}
        self.names, self.used_params, self.called = {"input"}, set(), set()
        self.env, self.current = {}, None

    # --- the walk ------------------------------------------------------------------------
    def run(self):
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        live = _live(self.graph)
        for node in self.graph.nodes:
            if node not in live and node.op != "placeholder":
                continue
            self.current = node
            try:
                if node.op == "placeholder":
                    self.env[node] = self._placeholder(node, placeholders)
                elif node.op == "output":
                    return self.tensor(self.env[node.args[0]] if isinstance(node.args[0], torch.fx.Node)
                                       else map_arg(node.args[0], self.env.__getitem__), "the model's output")
                elif node.op == "get_attr":
                    self.env[node] = self._attribute(node.target)
                else:
                    self.env[node] = self._call(node)
            except Refused as refusal:
                raise self._error(node, str(refusal)) from None
            except TypeError as err:  # a handler given arguments it does not take (out=, a new keyword)
                raise self._error(node, f"called with arguments the import does not take ({err})") from None
        raise UnsupportedOperation("the traced graph has no output")  # pragma: no cover - fx always adds one

    def _placeholder(self, node, placeholders):
        if node is placeholders[0]:
            return Tensor("input", (BATCH,) + self.input_shape)
        if node.args:  # an optional argument of forward: its default
            return node.args[0]
        raise Refused(f"forward takes more than one input ({', '.join(p.target for p in placeholders)}); "
                      "tallynet models take one")

    def _call(self, node):
        args = map_arg(node.args, self.env.__getitem__)
        kwargs = map_arg(node.kwargs, self.env.__getitem__)
        if node.op == "call_module":
            module = self.root.get_submodule(node.target)
            self._module_called(node.target, module)
            return self.handlers.module(module)(self, module, *args, **kwargs)
        if node.op == "call_method":
            if not self.handlers.is_traced(args[0]):  # a method of a Python value (a shape)
                return getattr(args[0], node.target)(*args[1:], **kwargs)
            return self.handlers.method(node.target)(self, *args, **kwargs)
        if not any(self.handlers.is_traced(a) for a in _flat(args, kwargs)) and _is_python(node.target):
            return node.target(*args, **kwargs)  # shape arithmetic: c // groups, size[0]
        return self.handlers.function(node.target)(self, *args, **kwargs)

    # --- what handlers call --------------------------------------------------------------------
    def tensor(self, value, what):
        """``value`` as a :class:`Tensor`, or a refusal naming ``what`` it was meant to be."""
        if isinstance(value, Tensor):
            return value
        raise Refused(self.handlers.describe_partial(value, what))

    def layer(self, kind, fields, inputs, params=None, state=None, base=None, name=None):
        """Add a tallynet node of ``kind`` with ``fields`` taking the :class:`Tensor` s ``inputs``;
        ``params`` / ``state``: ``{local name: module tensor}``. Returns its output Tensor."""
        fields = dict(fields or {})
        inputs = [self.tensor(t, f"the input of a tallynet {kind!r} layer") for t in inputs]
        try:
            layer = LAYER_TYPES[kind](**fields)
            shapes = [t.shape for t in inputs]
            out = layer.output_shape(shapes[0] if len(shapes) == 1 else shapes)
        except (TypeError, ValueError) as err:
            raise Refused(f"as a tallynet {kind!r} layer: {err}") from None
        name = self._unique(name or self._name(base))
        self.entries.append((name, kind, fields, [t.node for t in inputs]))
        for table, values in ((self.params, params), (self.state, state)):
            if values:
                table[name] = dict(values)
        return Tensor(name, (BATCH,) + tuple(int(d) for d in out[1:]))

    def _attribute(self, target):
        """A parameter the forward reads itself: a value for the handlers of its patterns (class token,
        positional embedding); a buffer or a constant tensor no tallynet layer holds."""
        from .operations import Attribute

        owner, _, name = target.rpartition(".")
        if name not in dict(self.root.get_submodule(owner).named_parameters(recurse=False)):
            raise Refused(f"the forward reads the tensor {target!r} directly (a buffer or a constant); no "
                          "tallynet layer holds it")
        return Attribute(target, self.root.get_parameter(target))

    def learned(self, kind, attribute, x):
        """A ``class_token`` or ``pos_embedding`` node holding the parameter ``attribute``, named by the
        module that holds it (``encoder``: parameter ``encoder.pos_embedding``, torchvision's name)."""
        self._module_called(attribute.target, [attribute.tensor])
        return self.layer(kind, None, [x], params={kind: attribute.tensor}, name=attribute.owner)

    def _module_called(self, target, module):
        """Note a call of a module with parameters (or a use of a parameter, a list of one); a second
        would share them, which tallynet's nodes (each holding its own) cannot."""
        params = list(module.parameters()) if hasattr(module, "parameters") else list(module)
        if params:
            if target in self.called:
                raise Refused(f"the module {target!r} is called more than once, sharing its parameters; "
                              "tallynet's nodes each hold their own")
            self.called.add(target)
            self.used_params.update(id(p) for p in params)

    # --- names ------------------------------------------------------------------------------------
    def _name(self, base=None):
        node = self.current
        if node.op == "call_module":
            return node.target if base is None else f"{node.target}.{base}"
        stack = node.meta.get("nn_module_stack") or {}
        prefix = next(reversed(stack.values()))[0] if stack else ""
        base = base or re.sub(r"_\d+$", "", node.name)
        return f"{prefix}.{base}" if prefix else base

    def _unique(self, name):
        candidate, k = name, 0
        while candidate in self.names:
            k += 1
            candidate = f"{name}_{k}"
        self.names.add(candidate)
        return candidate

    # --- errors -------------------------------------------------------------------------------------
    def _error(self, node, reason):
        where = source_line(self.root, node.name)
        location = f"called at {where}" if where else "source line unknown"
        if node.op == "call_module":
            cls = type(self.root.get_submodule(node.target))
            defined = class_source(cls)
            what = f"module {node.target!r} ({cls.__module__}.{cls.__qualname__})"
            location += f"; class {cls.__name__} defined at {defined}" if defined else ""
        elif node.op == "call_method":
            what = f"method Tensor.{node.target}"
        elif node.op in ("call_function",):
            what = qualified_name(node.target)
        else:
            what = f"{node.op} {node.target!r}"
        return UnsupportedOperation(f"cannot import {what} at fx node {node.name!r} ({location}): {reason}")


def _live(graph):
    """The nodes the output depends on: fx keeps values that are computed but never used."""
    output = next(n for n in reversed(graph.nodes) if n.op == "output")
    live, stack = set(), [output]
    while stack:
        node = stack.pop()
        if node not in live:
            live.add(node)
            stack.extend(node.all_input_nodes)
    return live


def qualified_name(target):
    """``torch.cumsum``, ``torch.nn.functional.relu``, ``operator.add``: how errors name a function."""
    name = getattr(target, "__name__", repr(target))
    module = getattr(target, "__module__", None)
    if module in (None, "torch._C._VariableFunctions") and getattr(torch, name, None) is target:
        module = "torch"
    module = {"_operator": "operator", "builtins": None}.get(module, module)
    return f"{module}.{name}" if module else name


def _flat(args, kwargs):
    """The values among ``args`` and ``kwargs``, lists and tuples unpacked."""
    out = []
    for a in list(args) + list(kwargs.values()):
        out.extend(_flat(a, {}) if isinstance(a, (list, tuple)) else [a])
    return out


def _is_python(target):
    """Whether a function is plain Python arithmetic or access (operator's, getattr, len), safe to
    run on the shape values the walk holds; torch's functions are never run."""
    return getattr(target, "__module__", None) in ("_operator", "operator", "builtins", "math") or target in (
        getattr, len, operator.getitem)
