"""``summary(model or spec)``: every layer's shapes, parameters, memory and FLOPs.

Everything is computed from shapes alone, by asking the same layer objects the
trainer runs. Bytes are element counts times the dtype's itemsize.

Peak memory of a training step
------------------------------
``peak_bytes_estimate`` replays a step as ``Sequential.loss`` and the Solver run
it (forward, loss, backward holding every cache, with no input gradient for the
first layer with parameters, then one optimizer update per parameter with all
gradients alive) and takes the largest total along the way.
Adding up outputs and caches is not enough; ``tallynet profile``, which measures
the real peak with ``tracemalloc``, showed what else the estimate had to learn:

- which outputs stay alive: an output lives until backward only when a cache
  references it (affine, ReLU and the normalizations keep their input, sigmoid
  its output, max pooling on tiles both); the others are freed as soon as the
  next layer is done with them (a ReLU output read by a pooling layer that keeps
  only argmax indices, a pooling output copied into a convolution's padded input);
- each pass's own temporaries, from ``Layer.footprint``: a convolution's padded
  input (its cache) and one band of im2col columns in its forward, a band, the
  padded dout and dx in its backward (stride 1; ``dcols`` and col2im's padded buffer
  otherwise; activations and gradients are channel-major, see
  :mod:`tallynet.layers.im2col`, so neither pass reorders anything); max pooling's
  columns and argmax's transposed copy of them, argmax indices;
  ReLU's boolean mask; dropout's float64 uniforms and boolean mask; batchnorm's
  ``x - mean`` and the products beside ``x_hat``;
- the optimizer update: ``param - lr * grad`` holds two parameter-sized arrays
  beside all parameters and gradients (:data:`tallynet.optim.UPDATE_TEMPORARIES`), and
  the new parameters computed before it, since :func:`tallynet.step.train_step` commits
  none until all are computed; that is the peak of a step for a wide fully connected net
  or a ResNet at batch 1.

- mixed precision (``master_dtype`` float32 beside a 16-bit ``dtype``, as PyTorch's autocast
  trains): parameters, their gradients, running statistics and the optimizer state are of the
  master dtype, everything else 16-bit; autocast's 16-bit copies of the weights (the casts it
  caches for the forward pass, which the backward's saved tensors keep) are alive from the
  forward pass to the end of the backward pass.

- the loss: a few arrays of the scores' size (:data:`~tallynet.layers.losses.LOSS_ARRAYS`),
  small for a classifier but not for a regression net with large outputs.

The replay itself is :mod:`tallynet.cost.replay` (:meth:`Summary.step_timeline`: the bytes
alive after every pass), which also follows gradient checkpointing (``checkpoint=K``). That
is the memory model ``tallynet`` (the default); ``memory="torch"`` replays a PyTorch CPU
training step of the same network (:mod:`tallynet.cost.torch_memory`).

Left out: L2 regularization's gradient additions, arrays of the size of a
channel or a sample, NumPy's iteration buffers (tens of KB per operation and
thread), each further thread's band of columns and partial dW in a convolution,
and the padding around a convolution's dx where it is col2im's (dx is a view of
col2im's padded buffer, which stays alive with it).
"""

from dataclasses import dataclass, field

import copy
import io
import numpy as np

from .. import optim
from ..counts import LayerFlops, Ops
from ..dtypes import cost_dtype
from ..layers._checks import check_choice, check_int
from ..layers.base import Footprint
from ..layers.losses import LOSS_ARRAYS
from ..models.nodes import MODEL_INPUT, chain, input_list, node_shapes, training_passes
from ..models.spec import build_nodes
from ..models.checkpointing import check_checkpoint, recomputed_segments, segments
from .conventions import get_convention
from .memory_models import TALLYNET
from .replay import step_timeline
from .render import Rendered, fmt_bytes, fmt_flops_unit
from .torch_memory import TORCH_MEMORY

#: the memory models ``summary(..., memory=)`` takes, by name
MEMORY_MODELS = {m.name: m for m in (TALLYNET, TORCH_MEMORY)}


def get_memory_model(memory):
    """The :class:`~tallynet.cost.memory_models.MemoryModel` of a name in :data:`MEMORY_MODELS` (or itself)."""
    if isinstance(memory, str) and memory in MEMORY_MODELS:
        return MEMORY_MODELS[memory]
    if hasattr(memory, "node") and hasattr(memory, "frees_saved"):
        return memory
    raise ValueError(f"memory must be one of {', '.join(MEMORY_MODELS)}, got {memory!r}")


def _count(shape):
    return int(np.prod(shape)) if shape else 0


@dataclass
class LayerCost:
    """One layer's row of the summary. Shapes include the batch dimension."""

    index: int
    name: str
    type: str
    layer: object = field(repr=False)
    inputs: tuple            # the indices of the nodes it takes (-1: the model's input)
    input_shape: tuple
    output_shape: tuple
    params: int              # trainable parameters
    state: int               # non-trainable values (running mean / var)
    param_bytes: int
    activation_bytes: int    # bytes of the output
    cache_bytes: int         # extra bytes the forward pass keeps for backward (under the memory model)
    input_grad_bytes: int    # bytes of dL/dx
    flops: LayerFlops
    footprint: Footprint = field(default_factory=Footprint, repr=False)  # the passes' peaks, what is kept
    largest_param_bytes: int = 0  # bytes of the layer's largest parameter array
    training_pass: str = "full"   # what a training step runs of its backward (models.training_passes)

    @property
    def step_backward(self):
        """:class:`Ops` of the backward pass a training step runs (no dx for the first layer with parameters)."""
        return self.flops.training_backward(self.training_pass)

    @property
    def forward_flops(self):
        return self.flops.forward.total

    @property
    def backward_flops(self):
        return self.flops.backward.total

    def as_dict(self):
        return {
            "name": self.name, "type": self.type,
            "input_shape": list(self.input_shape), "output_shape": list(self.output_shape),
            "params": self.params, "state": self.state, "param_bytes": self.param_bytes,
            "activation_bytes": self.activation_bytes, "cache_bytes": self.cache_bytes,
            "input_grad_bytes": self.input_grad_bytes,
            "forward_flops": self.forward_flops, "backward_flops": self.backward_flops,
            "backward_input_flops": self.flops.backward_input.total,
            "backward_params_flops": self.flops.backward_params.total,
            "training_pass": self.training_pass, "step_backward_flops": self.step_backward.total,
            "flops_by_kind": {
                "forward": self.flops.forward.as_dict(),
                "backward_input": self.flops.backward_input.as_dict(),
                "backward_params": self.flops.backward_params.as_dict(),
            },
        }


#: the groups of the layers a block starts with (seed 001: a convolution or affine layer)
BLOCK_ANCHORS = ("Convolution", "Fully Connected")


def blocks(layer_costs):
    """Group the layers into seed 001's blocks: lists of consecutive :class:`LayerCost` rows.

    A block is a convolution or affine layer and the layers after it, up to and including
    the next pooling layer or up to the next convolution / affine layer; a layer outside
    any block is a group of its own. In a graph whose nodes are named by their block uses
    (a residual block, an inverted residual, a fire module, ...), a block is such a use.
    """
    if any("." in l.name for l in layer_costs) and any(l.inputs != (l.index - 1,) for l in layer_costs):
        return _blocks_by_path(layer_costs)
    groups, open_block = [], False
    for l in layer_costs:
        anchor = l.layer.group in BLOCK_ANCHORS
        if anchor or not open_block:
            groups.append([])
            open_block = anchor
        groups[-1].append(l)
        if l.layer.group == "Pooling":
            open_block = False
    return groups


def _blocks_by_path(layer_costs):
    """A graph's blocks: consecutive nodes under one block use (``layer1.0.conv1``, ``layer1.0.add``,
    ``layer1.0.downsample.0`` make block ``layer1.0``; ``features.3.squeeze`` block ``features.3``);
    a node outside any block (``conv1``, ``features.0``) is a group of its own."""
    groups, prefix = [], None
    for l in layer_costs:
        parts = l.name.split(".")
        here = ".".join(parts[:2]) if len(parts) > 2 else None
        if here is None or here != prefix:
            groups.append([])
        groups[-1].append(l)
        prefix = here
    return groups


def display_names(layers, names=None):
    """Seed 001's layer names: the type's display name, numbered when the type repeats; a
    graph's node names (``layer1.0.conv1``) when given."""
    if names is not None:
        return list(names)
    kinds = [layer.kind for layer in layers]
    seen = {}
    names = []
    for layer in layers:
        base = layer.display_name
        seen[layer.kind] = seen.get(layer.kind, 0) + 1
        numbered = f"{base}{seen[layer.kind]}" if kinds.count(layer.kind) > 1 else base
        names.append(layer.name or numbered)
    return names


class Summary(Rendered):
    """The cost of one network at one batch size under one convention.

    Attributes: ``layers`` (list of :class:`LayerCost`), ``input_shape``, ``batch``,
    ``convention``, ``dtype``, ``optimizer``, ``loss``, ``name``, ``checkpoint`` (layers per
    checkpointed segment, or None), ``memory`` (the memory model, a
    :class:`~tallynet.cost.memory_models.MemoryModel`: what the caches and peaks describe);
    ``totals()`` gives the sums.
    Render with ``to_markdown()``, ``to_json()``, ``to_csv()``, ``to_table()`` (rich)
    or ``to_html()``; in Jupyter it shows itself as an HTML table.
    """

    def __init__(self, nodes, input_shape, batch, convention, dtype, optimizer, name=None, loss="softmax",
                 names=None, master_dtype=None, checkpoint=None, memory=TALLYNET):
        self.name = name or "network"
        self.checkpoint = check_checkpoint(checkpoint, nodes)
        self.loss = loss
        self.memory = memory
        self.batch = batch
        self.convention = convention
        self.dtype = cost_dtype(dtype)  # of the activations, their gradients and the caches
        self.master_dtype = cost_dtype(master_dtype or self.dtype)  # of the parameters, gradients, optimizer state
        self.optimizer = optimizer
        itemsize, param_itemsize = self.dtype.itemsize, self.master_dtype.itemsize
        in_shapes, out_shapes = node_shapes(nodes, input_shape, batch)
        self.input_shape = (int(batch),) + tuple(input_shape)
        self.layers = []
        passes = training_passes(nodes)
        layers = [layer for layer, _ in nodes]
        for i, ((layer, inputs), name, in_shape, out_shape) in enumerate(zip(nodes, display_names(layers, names),
                                                                             in_shapes, out_shapes)):
            params = sum(_count(s) for s in layer.param_shapes(in_shape).values())
            kept, footprint = memory.node(layer, in_shape, self.dtype, passes[i])
            self.layers.append(LayerCost(
                index=i, name=name, type=layer.kind, layer=layer, inputs=tuple(inputs),
                input_shape=in_shape, output_shape=out_shape,
                params=params, state=sum(_count(s) for s in layer.state_shapes(in_shape).values()),
                param_bytes=params * param_itemsize,
                activation_bytes=_count(out_shape) * itemsize,
                cache_bytes=kept,
                input_grad_bytes=sum(_count(s) for s in input_list(in_shape)) * itemsize,
                flops=convention.flops(layer, in_shape),
                footprint=footprint,
                largest_param_bytes=max((_count(s) for s in layer.param_shapes(in_shape).values()), default=0)
                * param_itemsize,
                training_pass=passes[i],
            ))

    @property
    def precision(self):
        """``float32``; ``mixed float16 (float32 master weights)`` for mixed-precision training."""
        if self.master_dtype == self.dtype:
            return self.dtype.name
        return f"mixed {self.dtype.name} ({self.master_dtype.name} master weights)"

    @property
    def weight_copy_bytes(self):
        """Bytes of mixed precision's 16-bit copies of the weights (0 when there is one dtype)."""
        if self.master_dtype == self.dtype:
            return 0
        return sum(l.params for l in self.layers) * self.dtype.itemsize

    @property
    def is_graph(self):
        """Whether some node takes other inputs than the node before it."""
        return any(l.inputs != (l.index - 1,) for l in self.layers)

    def input_names(self, l):
        """The names of the nodes a row takes (``input``: the model's input)."""
        return ["input" if j == MODEL_INPUT else self.layers[j].name for j in l.inputs]

    @property
    def input_bytes(self):
        return _count(self.input_shape) * self.dtype.itemsize

    def totals(self):
        """Network totals: parameters, bytes, FLOPs, ratios. Activation bytes include the input."""
        L = self.layers
        params = sum(l.params for l in L)
        param_bytes = sum(l.param_bytes for l in L)
        activation_bytes = self.input_bytes + sum(l.activation_bytes for l in L)
        gradient_bytes = param_bytes
        optimizer_bytes = optim.STATE_ARRAYS[self.optimizer] * param_bytes  # the same in PyTorch's optimizers
        cache_bytes = sum(l.cache_bytes for l in L)
        peaks = self.step_peaks()
        forward = sum((l.flops.forward for l in L), Ops())
        backward = sum((l.flops.backward for l in L), Ops())
        step_backward = sum((l.step_backward for l in L), Ops())
        recompute = sum((l.flops.forward for l in self.recomputed_layers()), Ops())
        return {
            "params": params,
            "trainable_params": params,
            "non_trainable_params": sum(l.state for l in L),
            "param_bytes": param_bytes,
            "state_bytes": sum(l.state for l in L) * self.master_dtype.itemsize,
            "weight_copy_bytes": self.weight_copy_bytes,
            "activation_bytes": activation_bytes,
            "input_grad_bytes": sum(l.input_grad_bytes for l in L),
            "cache_bytes": cache_bytes,
            "gradient_bytes": gradient_bytes,
            "optimizer_state_bytes": optimizer_bytes,
            "memory_model": self.memory.name,
            "peak_bytes_estimate": max(peaks.values()),
            "forward_peak_bytes_estimate": peaks["forward"],
            "backward_peak_bytes_estimate": peaks["backward"],
            "update_peak_bytes_estimate": peaks["update"],
            "forward_flops": forward.total,
            "backward_flops": backward.total,
            "total_flops": forward.total + backward.total,
            "backward_forward_ratio": backward.total / forward.total if forward.total else float("nan"),
            # what a training step runs: the first layer with parameters computes no dx
            "step_backward_flops": step_backward.total,
            "step_flops": forward.total + step_backward.total + recompute.total,
            # gradient checkpointing: the forward passes the backward runs again
            "checkpoint": self.checkpoint,
            "recompute_flops": recompute.total,
            "recompute_flops_by_kind": recompute.as_dict(),
            "step_backward_flops_by_kind": step_backward.as_dict(),
            "forward_flops_by_kind": forward.as_dict(),
            "backward_flops_by_kind": backward.as_dict(),
        }

    def recomputed_layers(self):
        """The rows whose forward pass a checkpointed step runs twice (none without checkpointing)."""
        if not self.checkpoint:
            return []
        nodes = [(l.layer, l.inputs) for l in self.layers]
        again = recomputed_segments(nodes, self.checkpoint)
        return [l for l, s in zip(self.layers, segments(nodes, self.checkpoint)) if s in again]

    def checkpoint_note(self):
        """One sentence on gradient checkpointing's segments, extra FLOPs and peak, or ''."""
        if not self.checkpoint:
            return ""
        t, plain = self.totals(), self.with_checkpoint(None).totals()
        segment_count = -(-len(self.layers) // self.checkpoint)
        return (f"Gradient checkpointing every {self.checkpoint} layers ({segment_count} segments, "
                f"{len(self.recomputed_layers())} layers recomputed): the backward runs "
                f"{fmt_flops_unit(t['recompute_flops'])} of forward passes again "
                f"(+{100 * t['recompute_flops'] / t['forward_flops']:.1f} % of the forward) and the step's peak is "
                f"{fmt_bytes(t['peak_bytes_estimate'])} instead of {fmt_bytes(plain['peak_bytes_estimate'])}.")

    def with_checkpoint(self, checkpoint):
        """A copy of this summary with another checkpointing (None: none)."""
        other = copy.copy(self)
        other.checkpoint = check_checkpoint(checkpoint, [(l.layer, l.inputs) for l in self.layers])
        return other

    def step_note(self):
        """One sentence on what a training step leaves out of the backward totals, or ''."""
        first = next((l for l in self.layers if l.training_pass == "params"), None)
        step_backward = sum(l.step_backward.total for l in self.layers)
        if first is None or step_backward == sum(l.backward_flops for l in self.layers):
            return ""
        return (f"A training step runs {fmt_flops_unit(step_backward)} of the backward: it computes no "
                f"gradient of the input batch, so {first.name} skips its input gradient "
                f"({fmt_flops_unit(first.flops.backward_input.total)}), as PyTorch does for inputs.")

    def step_timeline(self):
        """The replayed step, pass by pass: a list of :class:`~tallynet.cost.replay.Point`
        (see :mod:`tallynet.cost.replay`), checkpointed as :attr:`checkpoint` says."""
        if self.checkpoint and self.memory.frees_saved:
            raise ValueError(f"memory={self.memory.name!r} does not model gradient checkpointing; "
                             "use memory='tallynet' with checkpoint")
        return step_timeline(self, self.checkpoint)

    def step_peaks(self):
        """Estimated peak bytes of a training step's phases: ``{"forward", "backward", "update"}``
        (the backward includes the loss and, checkpointed, the recomputed forward passes), from
        :meth:`step_timeline`, under the summary's memory model."""
        points = self.step_timeline()
        phase = {"start": "forward", "forward": "forward", "loss": "backward", "recompute": "backward",
                 "backward": "backward", "update": "update"}
        peaks = {"forward": 0, "backward": 0, "update": 0}
        for p in points:
            peaks[phase[p.phase]] = max(peaks[phase[p.phase]], p.peak)
        return peaks

    def by_type(self):
        """Forward and backward FLOPs per layer group, in network order of first appearance."""
        groups = {}
        for l in self.layers:
            g = groups.setdefault(l.layer.group, {"forward_flops": 0, "backward_flops": 0, "params": 0})
            g["forward_flops"] += l.forward_flops
            g["backward_flops"] += l.backward_flops
            g["params"] += l.params
        return groups

    def as_dict(self):
        return {
            "name": self.name, "convention": self.convention.name, "batch": self.batch,
            "dtype": self.dtype.name, "master_dtype": self.master_dtype.name, "optimizer": self.optimizer,
            "memory": self.memory.name,
            "input_shape": list(self.input_shape),
            "layers": [l.as_dict() for l in self.layers],
            "totals": self.totals(),
            "by_type": self.by_type(),
        }

    def __str__(self):
        return self.to_markdown()

    def __repr__(self):
        """The text table, as ``tallynet summary`` prints it (markdown when rich is absent)."""
        try:
            from rich.console import Console
        except ImportError:  # pragma: no cover - depends on the environment
            return self.to_markdown()
        console = Console(file=io.StringIO(), width=160, color_system=None)
        console.print(self.to_table())
        return console.file.getvalue().rstrip()


def summary(network, batch=None, convention="exact", dtype=None, optimizer="sgd", master_dtype=None,
            checkpoint=None, memory="tallynet"):
    """The cost :class:`Summary` of a model object, a spec dict, a YAML spec path or a preset name.

    - batch: batch size (default: the model's or spec's ``batch``, else 32)
    - convention: a name in :data:`tallynet.cost.CONVENTIONS` (``"exact"``, ``"walkthrough"``,
      ``"macs"``, ``"torch"``) or a Convention object
    - dtype: a name in :data:`tallynet.dtypes.COST_DTYPES` (default: the model's); changes the bytes
    - master_dtype: the dtype of the parameters, their gradients and the optimizer state when it
      differs from ``dtype``: ``dtype="float16", master_dtype="float32"`` is mixed-precision
      training as PyTorch's autocast holds it (see the module docstring)
    - optimizer: a rule of :mod:`tallynet.optim` (``"sgd"``, ``"momentum"``, ``"rmsprop"``,
      ``"adam"``, ...): sizes the optimizer state and the update's temporaries
    - checkpoint: gradient checkpointing every ``checkpoint`` layers (nodes), as
      :mod:`tallynet.models.checkpointing` runs it: the peak is replayed with it and the
      totals gain the recomputed forward FLOPs (default: the model's own ``checkpoint``)
    - memory: the memory model of the caches and the peak (:data:`MEMORY_MODELS`): ``"tallynet"``
      for tallynet's own kernels, ``"torch"`` for a PyTorch CPU training step of the same network
    """
    optimizer = optim.rule_name(optimizer)
    convention = get_convention(convention)
    memory = get_memory_model(memory)
    nodes, names, input_shape, about = network_nodes(network)
    loss = check_choice("loss", about["loss"], tuple(LOSS_ARRAYS))
    dtype = cost_dtype(dtype or about["dtype"]).name
    master_dtype = None if master_dtype is None else cost_dtype(master_dtype).name
    batch = check_int("batch", about["batch"] if batch is None else batch, 1)  # 2.5 is refused, not truncated
    checkpoint = about["checkpoint"] if checkpoint is None else checkpoint
    return Summary(nodes, input_shape, batch, convention, dtype, optimizer, name=about["name"], loss=loss,
                   names=names, master_dtype=master_dtype, checkpoint=checkpoint, memory=memory)


def network_nodes(network):
    """``(nodes, names, input_shape, about)`` of a model object, a spec dict, a YAML spec path or a
    preset name, with no parameter allocated: what the cost model walks. ``names`` are a graph's
    node names (None for a chain); ``about`` holds the network's ``name``, ``dtype``, ``batch``,
    ``loss`` and ``checkpoint`` (a model's gradient checkpointing, None for a spec)."""
    from ..models.presets import resolve_spec
    from ..models.sequential import Sequential

    network = resolve_spec(network)
    if hasattr(network, "layers") and hasattr(network, "input_shape"):
        nodes, input_shape = getattr(network, "nodes", None) or chain(network.layers), network.input_shape
        names = None if isinstance(network, Sequential) else getattr(network, "node_names", None)
        about = {"name": getattr(network, "name", None) or type(network).__name__,
                 "dtype": np.dtype(network.dtype).name, "batch": getattr(network, "batch", 32),
                 "loss": getattr(network, "loss_name", "softmax"), "checkpoint": getattr(network, "checkpoint", None)}
    else:
        nodes, names, input_shape, spec = build_nodes(network)
        about = {"name": spec.get("name"), "dtype": spec.get("dtype", "float32"), "batch": spec.get("batch", 32),
                 "loss": spec.get("loss", "softmax"), "checkpoint": None}
    return nodes, names, tuple(input_shape), about
