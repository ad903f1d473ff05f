"""Transformations of a network's spec: the what-if variants the cost model runs side by side.

Each function takes what :func:`~tallynet.cost.summary` takes (a model object, a spec dict,
a YAML spec path or a preset name) and returns a new spec dict; nothing is allocated.

Another sample shape (``input=3x64x64``) is :func:`tallynet.models.with_input`.

- :func:`with_width`: every convolution's filters and every hidden affine layer's units
  times k (``width=2``). The classifier, the last layer with filters or units, keeps its
  outputs (the classes); a depthwise convolution (groups = its input channels) stays
  depthwise, its groups times k too; other groups are kept.
- :func:`with_more_blocks`: ``n`` more blocks like the last (``blocks=+1``), for a chain of
  layers. The last block is the last group of :func:`~tallynet.cost.summary.blocks` (a
  convolution or affine layer and the layers after it, up to its pooling layer) that starts
  with a convolution or an affine layer and is not the classifier; the new block repeats its
  layers, its convolution's filters (or affine layer's units) doubled, as each of seed 001's
  blocks doubles the filters of the one before. So for seed-cnn the fourth block is Conv
  128 -> 256 3x3, batchnorm, ReLU and 2x2 max pooling, before the global average pooling:
  295,168 + 512 parameters, and the classifier reads 256 features instead of 128 (+1,280).
- :func:`with_depthwise`: every k x k convolution (k > 1, groups 1, more than one input
  channel) replaced by a depthwise-separable pair: a k x k depthwise convolution (groups =
  the input channels, the same stride, padding and dilation, no bias) and a 1 x 1 pointwise
  convolution to the filters, with the original's bias. Nothing goes between the two: the pair
  is a factorization of the convolution (Xception's separable convolution, PyTorch's usual
  depthwise + pointwise pair), so the network's other layers are unchanged and only the
  convolutions' cost moves. A depthwise bias would be redundant: the pointwise one absorbs
  it. ``keep_first=True`` keeps the first convolution standard, as MobileNet does.

Chains come back as ``layers:`` specs, graphs as ``nodes:`` specs with every node by name
(a depthwise pair of node ``x`` is ``x.depthwise`` and ``x.pointwise``).
"""

import copy

from ..models.nodes import MODEL_INPUT, node_shapes
from ..models.presets import read_spec
from .summary import blocks, network_nodes, summary

#: the fields that count a layer's outputs (its channels or features)
SIZE_FIELDS = {"conv": "filters", "conv_transpose": "filters", "affine": "units"}


def _entry(layer, name=None):
    """A layer as a spec entry ``{kind: fields}`` (its name among the fields, when it has one)."""
    fields = layer.config()
    if name or layer.name:
        fields["name"] = name or layer.name
    return {layer.kind: fields}


def _spec(about, nodes, names, input_shape):
    """A spec dict of ``nodes`` (``[(layer entry, inputs)]``) with the network's name, batch, dtype and loss."""
    spec = {"name": about["name"] or "network", "input": list(input_shape), "batch": about["batch"],
            "dtype": about["dtype"], "loss": about["loss"]}
    if names is None:
        spec["layers"] = [entry for entry, _ in nodes]
    else:
        spec["nodes"] = [{name: dict(entry, inputs=["input" if j == MODEL_INPUT else names[j] for j in inputs])}
                         for name, (entry, inputs) in zip(names, nodes)]
    return spec


def spec_of(network):
    """``network`` as a spec dict: a spec or preset as it is (a copy), a model object rebuilt from its layers."""
    if hasattr(network, "layers") and hasattr(network, "input_shape"):
        nodes, names, input_shape, about = network_nodes(network)
        return _spec(about, [(_entry(layer), inputs) for layer, inputs in nodes], names, input_shape)
    return copy.deepcopy(read_spec(network))


def _scaled(count, k, where):
    scaled = count * k
    if scaled != int(scaled) or scaled < 1:
        raise ValueError(f"{where} would have {scaled:g} outputs; expected a factor that makes "
                         "every count a whole number")
    return int(scaled)


def classifier_index(nodes):
    """The index of the classifier: the last layer with filters or units (None if there is none)."""
    return max((i for i, (layer, _) in enumerate(nodes) if layer.kind in SIZE_FIELDS), default=None)


def with_width(network, k):
    """``network`` with every convolution's filters and every hidden affine layer's units times ``k``."""
    nodes, names, input_shape, about = network_nodes(network)
    in_shapes, _ = node_shapes(nodes, input_shape)
    classifier = classifier_index(nodes)
    widened = []
    for i, (layer, inputs) in enumerate(nodes):
        entry = _entry(layer)
        fields = entry[layer.kind]
        where = f"{'node ' + repr(names[i]) if names else 'layer ' + str(i)} ({layer.kind})"
        if layer.kind in SIZE_FIELDS and i != classifier:
            fields[SIZE_FIELDS[layer.kind]] = _scaled(fields[SIZE_FIELDS[layer.kind]], k, where)
        if layer.kind == "conv" and layer.groups > 1 and layer.groups == in_shapes[i][1]:
            fields["groups"] = _scaled(layer.groups, k, where)  # a depthwise convolution stays depthwise
        widened.append((entry, inputs))
    return _spec(about, widened, names, input_shape)


def _separable(layer, channels):
    """The depthwise and pointwise entries that replace convolution ``layer`` on ``channels`` inputs."""
    depthwise = {"filters": channels, "kernel": layer.config()["kernel"], "stride": layer.stride, "pad": layer.pad,
                 "groups": channels, "bias": False, **({"dilation": layer.dilation} if layer.dilation != 1 else {})}
    pointwise = {"filters": layer.filters, "kernel": 1, "bias": layer.bias}
    if layer.name:  # a named layer of a chain: its pair is named after it
        depthwise["name"], pointwise["name"] = f"{layer.name}.depthwise", f"{layer.name}.pointwise"
    return {"conv": depthwise}, {"conv": pointwise}


def separable_candidates(network):
    """The indices of the convolutions :func:`with_depthwise` replaces: k x k with k > 1, groups 1,
    more than one input channel."""
    nodes, _, input_shape, _ = network_nodes(network)
    in_shapes, _ = node_shapes(nodes, input_shape)
    return [i for i, (layer, _) in enumerate(nodes)
            if layer.kind == "conv" and layer.kh * layer.kw > 1 and layer.groups == 1 and in_shapes[i][1] > 1]


def with_depthwise(network, keep_first=False):
    """``network`` with its convolutions replaced by depthwise-separable pairs (see the module
    docstring); ``keep_first`` keeps the first one standard."""
    nodes, names, input_shape, about = network_nodes(network)
    in_shapes, _ = node_shapes(nodes, input_shape)
    chosen = separable_candidates(network)[1 if keep_first else 0:]
    if not chosen:
        raise ValueError("the network has no convolution to replace (k x k with k > 1, groups 1, "
                         "more than one input channel)")
    new_nodes, new_names, moved = [], [], {MODEL_INPUT: MODEL_INPUT}  # moved: old index -> new index
    for i, (layer, inputs) in enumerate(nodes):
        inputs = tuple(moved[j] for j in inputs)
        name = names[i] if names else None
        if i in chosen:
            depthwise, pointwise = _separable(layer, in_shapes[i][1])
            new_nodes += [(depthwise, inputs), (pointwise, (len(new_nodes),))]
            new_names += [f"{name}.depthwise", f"{name}.pointwise"] if names else []
        else:
            new_nodes.append((_entry(layer), inputs))
            new_names += [name] if names else []
        moved[i] = len(new_nodes) - 1
    return _spec(about, new_nodes, new_names if names else None, input_shape)


def last_block(network):
    """The rows (:class:`~tallynet.cost.summary.LayerCost`) of the block :func:`with_more_blocks`
    repeats: the last that starts with a convolution or an affine layer and is not the classifier."""
    nodes, _, _, about = network_nodes(network)
    if any(inputs != (i - 1,) for i, (_, inputs) in enumerate(nodes)):
        raise ValueError(f"{about['name'] or 'the network'} is a graph; one more block like the last is defined "
                         "for a chain of layers (a spec with layers:)")
    classifier = classifier_index(nodes)
    last = next((g for g in reversed(blocks(summary(network).layers))
                 if g[0].type in SIZE_FIELDS and classifier not in [l.index for l in g]), None)
    if last is None:
        raise ValueError(f"{about['name'] or 'the network'} has no block that starts with a convolution or an "
                         "affine layer before its classifier")
    return last


def with_more_blocks(network, n=1):
    """``network`` (a chain) with ``n`` more blocks like its last, each doubling the one before
    (see the module docstring)."""
    last = last_block(network)
    nodes, names, input_shape, about = network_nodes(network)
    entries = [_entry(layer, names[i] if names else None) for i, (layer, _) in enumerate(nodes)]
    block, added = [_entry(l.layer) for l in last], []
    for _ in range(n):
        block = copy.deepcopy(block)
        next(iter(block[0].values()))[SIZE_FIELDS[last[0].type]] *= 2  # the anchor's filters or units
        added += block
    end = last[-1].index + 1
    return _spec(about, [(e, None) for e in entries[:end] + added + entries[end:]], None, input_shape)


__all__ = ["spec_of", "with_width", "with_depthwise", "with_more_blocks", "last_block", "separable_candidates",
           "classifier_index"]
