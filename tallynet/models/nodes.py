"""A model as nodes over edges: each node a layer and the nodes its inputs come from.

A chain of layers is the graph whose node ``i`` takes node ``i - 1`` (node 0 takes the
model's input, :data:`MODEL_INPUT`); the last node is the output. The walks below
(shapes, training passes, when an output is last used) and the executor in
:mod:`tallynet.models.sequential` are written over these edges, so that a branching
graph reuses them. A node is a ``(layer, inputs)`` pair, ``inputs`` a tuple of node
indices, each smaller than the node's own (the nodes are in execution order).
"""

MODEL_INPUT = -1


def chain(layers):
    """The nodes of a chain: every layer takes the one before."""
    return [(layer, (i - 1,)) for i, layer in enumerate(layers)]


def label(layer, index):
    """``layer 3 (conv 'stem')``: how errors name a node."""
    kind = f"{layer.kind} {layer.name!r}" if layer.name else layer.kind
    return f"layer {index} ({kind})"


def input_list(shape):
    """A node's input shape as a list of shapes, one per input (a merge's is already one)."""
    return list(shape) if isinstance(shape, list) else [shape]


def node_shapes(nodes, input_shape, batch=1):
    """``(input_shapes, output_shapes)``: per node, the shape of its input and of its output.

    ``input_shape`` is one sample's shape; every returned shape starts with ``batch``.
    Works from shapes alone (nothing is allocated), and raises ``ValueError`` naming the
    node's index and type where a shape does not fit.
    """
    outputs = {MODEL_INPUT: (int(batch),) + tuple(input_shape)}
    inputs_of = []
    for i, (layer, inputs) in enumerate(nodes):
        shape = outputs[inputs[0]] if len(inputs) == 1 else [outputs[j] for j in inputs]  # a merge takes a list
        try:
            outputs[i] = tuple(layer.output_shape(shape))
        except ValueError as err:
            raise ValueError(f"{label(layer, i)} with input shape {shape}: {err}") from None
        inputs_of.append(shape)
    return inputs_of, [outputs[i] for i in range(len(nodes))]


def consumers(nodes):
    """Per node, the indices of the nodes that take its output."""
    taken_by = [[] for _ in nodes]
    for i, (_, inputs) in enumerate(nodes):
        for j in inputs:
            if j != MODEL_INPUT:
                taken_by[j].append(i)
    return taken_by


def last_uses(nodes):
    """Per node, the last node whose forward pass reads its output (itself when none does:
    the model's output)."""
    return [max(taken, default=i) for i, taken in enumerate(consumers(nodes))]


def training_passes(nodes):
    """What a training step runs of each node's backward: ``"full"`` (dx and the parameter
    gradients), ``"params"`` (:meth:`Layer.param_grads`: no input of the node needs a
    gradient, so dx would be wasted) or ``"none"`` (nothing before the node, and the node
    itself, has parameters).

    So the first layer with parameters computes no input gradient, and the layers before
    it run no backward at all, as in PyTorch, whose inputs do not require gradients. The
    cost model reports both the layers' whole backward passes and this (``step_backward``).
    """
    needs_grad, passes = [], []
    for layer, inputs in nodes:
        upstream = any(j != MODEL_INPUT and needs_grad[j] for j in inputs)
        needs_grad.append(bool(layer.param_names) or upstream)
        passes.append("full" if upstream else "params" if layer.param_names else "none")
    return passes
