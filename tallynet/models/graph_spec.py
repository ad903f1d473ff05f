"""Graph specs: named nodes with ``inputs``, and blocks defined once and used with ``repeat``.

A spec with ``nodes:`` (instead of ``layers:``) describes a :class:`~tallynet.models.Graph`::

    name: resnet20
    input: [3, 32, 32]
    blocks:
      basic:                          # a block: its parameters (null: required) and its nodes
        params: {filters: null, stride: 1}
        nodes:
          - conv1: {conv: {filters: $filters, kernel: 3, stride: $stride, pad: 1, bias: false}}
          - bn1: batchnorm
          - relu1: relu
          - conv2: {conv: {filters: $filters, kernel: 3, pad: 1, bias: false}}
          - bn2: batchnorm
          - add: {add: null, inputs: [bn2, input]}     # "input": the block's input
          - relu2: relu
    nodes:
      - conv1: {conv: {filters: 16, kernel: 3, pad: 1, bias: false}}
      - bn1: batchnorm
      - relu: relu
      - layer1: {block: basic, filters: 16, repeat: 3}                # layer1.0 ... layer1.2
      - layer2: [{block: down, filters: 32}, {block: basic, filters: 32, repeat: 2}]
      - pool: global_avgpool
      - fc: {affine: {units: 10}}

A node is ``name: TYPE``, ``name: {TYPE: {fields}}`` or ``name: {TYPE: {fields}, inputs:
[names]}``; without ``inputs`` it takes the node before it (the first takes ``input``).
``inputs`` name earlier nodes of the same scope (a block's nodes, or the top level), or
``input``, the scope's input. A block use ``name: {block: B, ARG: value...}`` expands B's
nodes under the dotted names ``name.node``; with ``repeat: n`` (or a list of uses) under
``name.k.node``, k = 0, 1, ..., each copy taking the one before; a string ``$ARG`` anywhere in B's nodes is replaced by the
argument. A node's name is its path: ``layer1.0.conv1``, as torchvision names its modules.
A use may name its copies otherwise with ``names``, a pattern of their index ``{k}``:
``layers: {block: encoder_block, repeat: 12, names: "encoder_layer_{k}"}`` makes
``layers.encoder_layer_0.ln_1`` ... (torchvision's vision transformer).

Refused, naming the node and the block: an unknown input or one that comes later (a
cycle), a node whose output nothing takes (but the last), a block or argument that does
not exist, a required argument left out, and shapes that do not fit at a merge.
"""

import copy

from .nodes import MODEL_INPUT, label, node_shapes

INPUT = "input"


class _Scope:
    """The nodes being built, and the names visible where a block (or the top level) is expanded."""

    def __init__(self, builder, prefix, input_index, block):
        self.builder, self.prefix, self.block = builder, prefix, block
        self.names = {INPUT: input_index}
        self.last = input_index

    def where(self, name):
        within = f" in block {self.block!r}" if self.block else ""
        return f"node {self.prefix + name!r}{within}"


class GraphBuilder:
    """Expands a graph spec into ``nodes`` (``[(layer, inputs)]``), ``names`` and ``blocks`` (the
    block each node was expanded from, or None). ``parse_layer(where, entry)`` builds a layer."""

    def __init__(self, spec, parse_layer, error):
        self.parse_layer, self.error = parse_layer, error
        self.blocks = spec.get("blocks") or {}
        if not isinstance(self.blocks, dict):
            raise error(f"spec: field 'blocks' must map block names to {{params, nodes}}, got {self.blocks!r}")
        self.nodes, self.names, self.node_blocks = [], [], []
        entries = spec.get("nodes")
        if not isinstance(entries, list) or not entries:
            raise error("spec: field 'nodes' must be a non-empty list of nodes")
        self._expand(entries, _Scope(self, "", MODEL_INPUT, None))
        self._check_all_used()

    # --- expansion ----------------------------------------------------------------
    def _expand(self, entries, scope):
        for position, entry in enumerate(entries):
            name, body = self._split(entry, position, scope)
            if name in scope.names:
                raise self.error(f"{scope.where(name)}: the name is used twice")
            if isinstance(body, list) or (isinstance(body, dict) and "block" in body):
                scope.names[name] = scope.last = self._use_blocks(name, body, scope)
            else:
                scope.names[name] = scope.last = self._add_node(name, body, scope)
        return scope.last

    def _split(self, entry, position, scope):
        if isinstance(entry, str):
            return str(position), entry
        if isinstance(entry, dict) and len(entry) == 1:
            (name, body), = entry.items()
            return str(name), body
        raise self.error(f"node {scope.prefix + str(position)!r}{' in block ' + repr(scope.block) if scope.block else ''}"
                         f": expected a layer type or a one-key mapping {{name: layer}}, got {entry!r}")

    def _add_node(self, name, body, scope):
        where = scope.where(name)
        inputs = [scope.last]
        if isinstance(body, dict) and "inputs" in body:
            body = dict(body)
            inputs = [self._resolve(ref, scope, where) for ref in self._input_list(body.pop("inputs"), where)]
        layer = self.parse_layer(where, body)
        self.nodes.append((layer, tuple(inputs)))
        self.names.append(scope.prefix + name)
        self.node_blocks.append(scope.block)
        return len(self.nodes) - 1

    def _input_list(self, refs, where):
        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise self.error(f"{where}: 'inputs' must be a node name or a list of them, got {refs!r}")
        return refs

    def _resolve(self, ref, scope, where):
        if ref not in scope.names:
            known = ", ".join(scope.names)
            raise self.error(f"{where}: unknown input {ref!r} (inputs must name earlier nodes of the same "
                             f"block, or 'input'; a later node would make a cycle); known here: {known}")
        return scope.names[ref]

    def _use_blocks(self, name, uses, scope):
        if isinstance(uses, dict) and not {"repeat", "names"} & set(uses):  # one use: its nodes are name.node
            block = uses["block"]
            return self._expand(self._instantiate(block, _arguments(uses), scope.where(name)),
                                _Scope(self, f"{scope.prefix}{name}.", scope.last, block))
        uses = uses if isinstance(uses, list) else [uses]
        last, index = scope.last, 0
        for use in uses:
            if not isinstance(use, dict) or "block" not in use:
                raise self.error(f"{scope.where(name)}: expected a block use like {{block: basic, repeat: 2}}, "
                                 f"got {use!r}")
            block, repeat, names = use["block"], use.get("repeat", 1), use.get("names", "{k}")
            if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
                raise self.error(f"{scope.where(name)}: 'repeat' must be an integer >= 1, got {repeat!r}")
            if not isinstance(names, str) or "{k}" not in names or "{" in names.replace("{k}", ""):
                raise self.error(f"{scope.where(name)}: 'names' must be a pattern of the copies' index {{k}}, "
                                 f"like 'encoder_layer_{{k}}', got {names!r}")
            nodes = self._instantiate(block, _arguments(use), scope.where(name))
            for _ in range(repeat):
                inner = _Scope(self, f"{scope.prefix}{name}.{names.format(k=index)}.", last, block)
                last = self._expand(nodes, inner)
                index += 1
        return last

    def _instantiate(self, block, args, where):
        """The block's node entries with ``$ARG`` replaced by the use's arguments."""
        if block not in self.blocks:
            raise self.error(f"{where}: unknown block {block!r}; expected one of {', '.join(self.blocks) or '(none)'}")
        definition = self.blocks[block]
        if not isinstance(definition, dict) or not isinstance(definition.get("nodes"), list):
            raise self.error(f"block {block!r}: expected {{params: {{...}}, nodes: [...]}}, got {definition!r}")
        params = dict(definition.get("params") or {})
        for arg in args:
            if arg not in params:
                raise self.error(f"{where}: block {block!r} has no parameter {arg!r}; "
                                 f"expected one of {', '.join(params) or '(none)'}")
        values = {**params, **args}
        missing = [p for p, v in values.items() if v is None]
        if missing:
            raise self.error(f"{where}: block {block!r} needs parameter {missing[0]!r}")
        return _substitute(copy.deepcopy(definition["nodes"]), values, block, self.error)

    # --- checks --------------------------------------------------------------------
    def _check_all_used(self):
        used = {j for _, inputs in self.nodes for j in inputs}
        for i, name in enumerate(self.names[:-1]):
            if i not in used:
                block = f" in block {self.node_blocks[i]!r}" if self.node_blocks[i] else ""
                raise self.error(f"node {name!r}{block}: its output is taken by no node (only the last node may "
                                 "be the network's output)")

    def check_shapes(self, input_shape):
        """Walk the shapes, naming the node and its block where they do not fit."""
        try:
            node_shapes(self.nodes, input_shape)
        except ValueError as err:
            index = next((i for i, (layer, _) in enumerate(self.nodes) if str(err).startswith(label(layer, i))), None)
            if index is None:
                raise
            block = f" in block {self.node_blocks[index]!r}" if self.node_blocks[index] else ""
            detail = str(err)[len(label(*self.nodes[index][:1], index)):]
            raise self.error(f"node {self.names[index]!r}{block}{detail}") from None


def _arguments(use):
    """A block use's arguments: everything but ``block``, ``repeat`` and ``names``."""
    return {k: v for k, v in use.items() if k not in ("block", "repeat", "names")}


def _substitute(node, values, block, error):
    if isinstance(node, str) and node.startswith("$"):
        if node[1:] not in values:
            raise error(f"block {block!r}: {node} names no parameter of the block; expected one of "
                        f"{', '.join('$' + p for p in values) or '(none)'}")
        return values[node[1:]]
    if isinstance(node, list):
        return [_substitute(v, values, block, error) for v in node]
    if isinstance(node, dict):
        return {k: _substitute(v, values, block, error) for k, v in node.items()}
    return node
