"""Network specs: a plain dict (or a YAML file holding one) that describes a model.

A spec is either a list of layers::

    name: seed-cnn
    input: [3, 32, 32]        # one sample: channels, height, width (or [features])
    batch: 32                 # default batch for cost summaries
    layers:
      - conv: {filters: 32, kernel: 3, stride: 1, pad: 1}
      - batchnorm
      - relu
      - maxpool: {kernel: 2, stride: 2}
      - global_avgpool
      - affine: {units: 10}
    loss: softmax             # softmax | svm | mse

or the course's fully connected net::

    model: FullyConnectedNet
    input: [1, 8, 8]
    hidden_dims: [256, 128]
    normalization: batchnorm
    dropout_keep_ratio: 0.9

A layer entry is a bare type name (``relu``) or a one-key mapping from the type
name to its fields (``conv: {filters: 32, kernel: 3}``). The fields of a layer
type are the arguments of its class (``name`` included), so the spec format
cannot drift from the layers. Optional model keys: ``reg``, ``weight_scale``,
``dtype``, ``seed``, ``description``.
"""

import inspect
import json
import os

import numpy as np

from ..dtypes import DTYPES
from ..layers import LAYER_TYPES
from .fcnet import FullyConnectedNet, fcnet_layers
from .graph import Graph
from .graph_spec import GraphBuilder
from .nodes import chain
from .sequential import Sequential, layer_shapes


class SpecError(ValueError):
    """A spec that cannot be built; the message names the layer index, type and field."""


COMMON_KEYS = {"name", "input", "batch", "loss", "reg", "weight_scale", "dtype", "seed", "description"}
SEQUENTIAL_KEYS = COMMON_KEYS | {"layers"}
GRAPH_KEYS = COMMON_KEYS | {"nodes", "blocks"}
FCNET_LAYER_KEYS = ("num_classes", "dropout_keep_ratio", "normalization")
FCNET_KEYS = COMMON_KEYS | {"model", "hidden_dims", *FCNET_LAYER_KEYS}


def load_spec(path):
    """Read a YAML spec file into a dict; a parse error names the file and the line."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("reading YAML specs needs PyYAML: pip install 'tallynet[cli]'") from None
    if os.path.isdir(path):
        raise SpecError(f"spec {path!r} is a directory; expected a YAML spec file or a preset name")
    if not os.path.isfile(path):
        raise SpecError(f"spec file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        try:
            spec = yaml.safe_load(f)
        except UnicodeDecodeError as err:
            raise SpecError(f"spec file {path!r} is not UTF-8 text (byte {err.start}: {err.reason}); "
                            "expected a YAML file in UTF-8") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(err, "problem", None) or str(err)
            raise SpecError(f"spec file {path!r} is not valid YAML{where}: {problem}") from None
    if not isinstance(spec, dict):
        raise SpecError(f"spec file {path!r} must hold a mapping with 'input' and 'layers', got {type(spec).__name__}")
    spec.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    return spec


def parse_layer(index, entry, where=None):
    """Build one layer object from a spec entry; errors name the index (or ``where``, e.g. a
    graph's node), the type and the field."""
    if where is not None:
        try:
            return parse_layer(index, entry)
        except SpecError as err:
            raise SpecError(str(err).replace(f"layer {index}", where, 1)) from None
    if isinstance(entry, str):
        kind, fields = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        (kind, fields), = entry.items()
        fields = {} if fields is None else fields
    else:
        raise SpecError(f"layer {index}: expected a layer type name or a one-key mapping "
                        f"like {{conv: {{filters: 32, kernel: 3}}}}, got {entry!r}")
    if kind not in LAYER_TYPES:
        raise SpecError(f"layer {index}: unknown layer type {kind!r}; expected one of {', '.join(sorted(LAYER_TYPES))}")
    if not isinstance(fields, dict):
        raise SpecError(f"layer {index} ({kind}): fields must be a mapping, got {fields!r}")
    cls = LAYER_TYPES[kind]
    signature = inspect.signature(cls.__init__)
    allowed = [p for p in signature.parameters if p != "self"]
    for field in fields:
        if field not in allowed:
            raise SpecError(f"layer {index} ({kind}): unknown field {field!r}; expected one of {', '.join(allowed)}")
    for p in signature.parameters.values():
        if p.name != "self" and p.default is inspect.Parameter.empty and p.name not in fields:
            raise SpecError(f"layer {index} ({kind}): missing required field {p.name!r}")
    try:
        return cls(**fields)
    except (TypeError, ValueError) as err:
        raise SpecError(f"layer {index} ({kind}): {err}") from None


def _check_fields(spec):
    """The model-level fields' types; errors name the field, the value and what was expected."""
    def bad(field, expected):
        raise SpecError(f"spec: field {field!r} must be {expected}, got {spec[field]!r}")

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if "batch" in spec and not (is_int(spec["batch"]) and spec["batch"] >= 1):
        bad("batch", "an integer >= 1")
    if "reg" in spec and not (isinstance(spec["reg"], (int, float)) and not isinstance(spec["reg"], bool)
                              and spec["reg"] >= 0):
        bad("reg", "a number >= 0")
    if "seed" in spec and spec["seed"] is not None and not (is_int(spec["seed"]) and spec["seed"] >= 0):
        bad("seed", "an integer >= 0")
    if "name" in spec and not isinstance(spec["name"], str):
        bad("name", "a string")
    if "dtype" in spec and not (isinstance(spec["dtype"], str) and spec["dtype"] in DTYPES):
        bad("dtype", f"one of {', '.join(DTYPES)}")
    if "hidden_dims" in spec and not (isinstance(spec["hidden_dims"], list)
                                      and all(is_int(h) and h >= 1 for h in spec["hidden_dims"])):
        bad("hidden_dims", "a list of integers >= 1")


def _input_shape(spec):
    shape = spec.get("input")
    if shape is None:
        raise SpecError("spec: missing required field 'input' (the shape of one sample, e.g. [3, 32, 32])")
    if isinstance(shape, int):
        shape = [shape]
    if not isinstance(shape, (list, tuple)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise SpecError(f"spec: field 'input' must be a list of positive integers, got {shape!r}")
    return tuple(shape)


def _read(spec):
    if isinstance(spec, (str, os.PathLike)):
        spec = load_spec(os.fspath(spec))
    if not isinstance(spec, dict):
        raise SpecError(f"spec must be a dict or a path to a YAML file, got {type(spec).__name__}")
    is_fcnet = spec.get("model") == "FullyConnectedNet"
    if "model" in spec and not is_fcnet:
        raise SpecError(f"spec: field 'model' must be 'FullyConnectedNet' (or absent for a layer list), got {spec['model']!r}")
    allowed = FCNET_KEYS if is_fcnet else GRAPH_KEYS if "nodes" in spec else SEQUENTIAL_KEYS
    for key in spec:
        if key not in allowed:
            raise SpecError(f"spec: unknown field {key!r}; expected one of {', '.join(sorted(allowed))}")
    return spec, is_fcnet


def _present(spec, keys):
    """The spec's values of ``keys`` that it sets, so that the class's own defaults apply to the rest."""
    return {k: spec[k] for k in keys if k in spec}


def build_layers(spec):
    """The layer objects and one sample's input shape of a spec, with no parameter allocated.

    This is what the cost model walks for a spec: a 138M-parameter VGG-16 costs
    nothing to describe. Returns ``(layers, input_shape, spec_dict)``.
    """
    spec, is_fcnet = _read(spec)
    _check_fields(spec)
    shape = _input_shape(spec)
    try:
        if is_fcnet:  # the layers FullyConnectedNet builds (from_spec builds the net itself)
            layers = fcnet_layers(spec.get("hidden_dims", []), **_present(spec, FCNET_LAYER_KEYS))
        else:
            entries = spec.get("layers")
            if not isinstance(entries, list) or not entries:
                raise SpecError("spec: field 'layers' must be a non-empty list of layers")
            layers = [parse_layer(i, entry) for i, entry in enumerate(entries)]
        layer_shapes(layers, shape)
    except SpecError:
        raise
    except (TypeError, ValueError) as err:
        raise SpecError(f"spec {spec.get('name', '')!r}: {err}") from None
    return layers, shape, spec


def build_nodes(spec):
    """The nodes (``[(layer, inputs)]``), their names (None for a chain), one sample's input
    shape and the spec dict, with no parameter allocated: what the cost model walks."""
    spec, _ = _read(spec)
    if "nodes" not in spec:
        layers, shape, spec = build_layers(spec)
        return chain(layers), None, shape, spec
    _check_fields(spec)
    shape = _input_shape(spec)
    graph = GraphBuilder(spec, lambda where, entry: parse_layer(0, entry, where), SpecError)
    graph.check_shapes(shape)
    return graph.nodes, graph.names, shape, spec


def from_spec(spec, dtype=None, seed=None):
    """Build a model from a spec dict or the path of a YAML spec file.

    ``dtype`` and ``seed`` override the spec's own. The model remembers its spec
    (``model.spec``) and the spec's default batch (``model.batch``).
    """
    nodes, names, shape, spec = build_nodes(spec)
    dtype_name = spec.get("dtype", "float32") if dtype is None else np.dtype(dtype).name
    if dtype_name not in DTYPES:
        raise SpecError(f"spec: field 'dtype' must be one of {', '.join(DTYPES)}, got {dtype_name!r}")
    seed = spec.get("seed") if seed is None else seed
    if spec.get("model") == "FullyConnectedNet" and spec.get("loss", "softmax") != "softmax":
        raise SpecError(f"spec: field 'loss' must be 'softmax' for FullyConnectedNet, got {spec['loss']!r}")
    options = dict(loss=spec.get("loss", "softmax"), reg=spec.get("reg", 0.0),
                   weight_scale=spec.get("weight_scale", "he"), dtype=DTYPES[dtype_name], seed=seed)
    try:
        if spec.get("model") == "FullyConnectedNet":
            # the course's class itself, its defaults included, drawing from the spec's
            # seeded generator instead of NumPy's global one (a spec run is reproducible)
            model = FullyConnectedNet(spec.get("hidden_dims", []), input_dim=shape, dtype=DTYPES[dtype_name],
                                      rng=np.random.default_rng(seed),
                                      **_present(spec, FCNET_LAYER_KEYS + ("reg", "weight_scale")))
        elif names is None:
            model = Sequential([layer for layer, _ in nodes], shape, **options)
        else:
            model = Graph(nodes, shape, names=names, **options)
    except (TypeError, ValueError) as err:
        raise SpecError(f"spec {spec.get('name', '')!r}: {err}") from None
    model.name = spec.get("name")
    model.spec = spec
    model.batch = int(spec.get("batch", 32))
    return model


def canonical_spec(model):
    """The spec of what ``model`` computes, in one canonical form: the input shape, every
    layer as ``{kind: config()}`` with all its fields filled in, the loss, L2 strength and
    dtype; JSON-able (lists, not tuples). Two models with the same canonical spec run the
    same function of their parameters; a FullyConnectedNet and the layer list it expands
    to have the same one. Checkpoints record it, and a resume compares it field by field."""
    spec = {"input": list(model.input_shape), "loss": model.loss_name, "reg": float(model.reg),
            "dtype": np.dtype(model.dtype).name}
    nodes = getattr(model, "nodes", None) or chain(model.layers)
    if all(inputs == (i - 1,) for i, (_, inputs) in enumerate(nodes)):
        spec["layers"] = [{layer.kind: layer.config()} for layer in model.layers]
    else:  # a graph: every node by name, with the names of its inputs
        names = model.node_names
        spec["nodes"] = [{name: {layer.kind: layer.config(), "inputs": [names[j] if j >= 0 else "input"
                                                                        for j in inputs]}}
                         for name, (layer, inputs) in zip(names, nodes)]
    # the round trip turns tuples into lists and NumPy scalars into numbers, as a checkpoint stores them
    return json.loads(json.dumps(spec, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
