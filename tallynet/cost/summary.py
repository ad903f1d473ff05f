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
  only argmax indices, a pooling output turned into im2col columns);
- each pass's own temporaries, from ``Layer.footprint``: the padded input beside
  the im2col columns in a convolution's forward, ``dcols`` and col2im's padded
  buffer in its backward (activations and gradients are channel-major, see
  :mod:`tallynet.layers.im2col`, so neither pass reorders anything); max pooling's
  columns and argmax's transposed copy of them, argmax indices;
  ReLU's boolean mask; dropout's float64 uniforms and boolean mask; batchnorm's
  ``x - mean`` and the products beside ``x_hat``;
- the optimizer update: ``param - lr * grad`` holds two parameter-sized arrays
  beside all parameters and gradients (:data:`UPDATE_TEMPORARIES`), which is the
  peak of a step for a wide fully connected net.

- the loss: a few arrays of the scores' size (:data:`~tallynet.layers.losses.LOSS_ARRAYS`),
  small for a classifier but not for a regression net with large outputs.

Left out: L2 regularization's gradient additions, arrays of the size of a
channel or a sample, NumPy's iteration buffers (tens of KB per operation and
thread), and the padding around a convolution's dx (dx is a view of col2im's
padded buffer, which stays alive with it).
"""

from dataclasses import dataclass, field

import io
import numpy as np

from ..counts import LayerFlops, Ops
from ..layers._checks import check_choice
from ..layers.base import Footprint
from ..layers.losses import LOSS_ARRAYS
from ..models.sequential import layer_shapes, training_passes
from ..models.spec import DTYPES, build_layers
from .conventions import get_convention
from .render import Rendered, fmt_flops

#: optimizer state kept per trainable parameter, in parameter-sized arrays
OPTIMIZER_STATE = {"sgd": 0, "sgd_momentum": 1, "momentum": 1, "rmsprop": 1, "adam": 2}

#: parameter-sized temporaries an update of one parameter holds at once (tallynet.optim,
#: measured with tracemalloc): sgd ``w - lr * dw`` has lr * dw and the new w; momentum
#: ``momentum * v`` and ``lr * dw``; rmsprop and adam one and three more for their moments
UPDATE_TEMPORARIES = {"sgd": 2, "sgd_momentum": 2, "momentum": 2, "rmsprop": 3, "adam": 5}

#: how layer types are named in tables (seed 001: Conv1, BatchNorm1, ReLU1, MaxPool1, GAP, FC)
DISPLAY = {"conv": "Conv", "batchnorm": "BatchNorm", "layernorm": "LayerNorm", "relu": "ReLU",
           "sigmoid": "Sigmoid", "maxpool": "MaxPool", "avgpool": "AvgPool", "global_avgpool": "GAP",
           "affine": "FC", "dropout": "Dropout", "flatten": "Flatten"}

#: layer types grouped as in seed 001's breakdown by layer type
GROUP = {"conv": "Convolution", "batchnorm": "Batch Normalization", "layernorm": "Layer Normalization",
         "relu": "Activation (ReLU)", "sigmoid": "Activation (sigmoid)", "maxpool": "Pooling",
         "avgpool": "Pooling", "global_avgpool": "Pooling", "affine": "Fully Connected",
         "dropout": "Dropout", "flatten": "Reshape"}


def _count(shape):
    return int(np.prod(shape)) if shape else 0


@dataclass
class LayerCost:
    """One layer's row of the summary. Shapes include the batch dimension."""

    index: int
    name: str
    type: str
    layer: object = field(repr=False)
    input_shape: tuple
    output_shape: tuple
    params: int              # trainable parameters
    state: int               # non-trainable values (running mean / var)
    param_bytes: int
    activation_bytes: int    # bytes of the output
    cache_bytes: int         # extra bytes the forward pass keeps for backward
    input_grad_bytes: int    # bytes of dL/dx
    flops: LayerFlops
    footprint: Footprint = field(default_factory=Footprint, repr=False)  # the passes' peaks, what the cache keeps
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


def display_names(layers):
    """Seed 001's layer names: the type's display name, numbered when the type repeats."""
    kinds = [layer.kind for layer in layers]
    seen = {}
    names = []
    for layer in layers:
        base = DISPLAY.get(layer.kind, layer.kind)
        seen[layer.kind] = seen.get(layer.kind, 0) + 1
        numbered = f"{base}{seen[layer.kind]}" if kinds.count(layer.kind) > 1 else base
        names.append(layer.name or numbered)
    return names


class Summary(Rendered):
    """The cost of one network at one batch size under one convention.

    Attributes: ``layers`` (list of :class:`LayerCost`), ``input_shape``, ``batch``,
    ``convention``, ``dtype``, ``optimizer``, ``loss``, ``name``; ``totals()`` gives the sums.
    Render with ``to_markdown()``, ``to_json()``, ``to_csv()``, ``to_table()`` (rich)
    or ``to_html()``; in Jupyter it shows itself as an HTML table.
    """

    def __init__(self, layers, input_shape, batch, convention, dtype, optimizer, name=None, loss="softmax"):
        self.name = name or "network"
        self.loss = loss
        self.batch = batch
        self.convention = convention
        self.dtype = np.dtype(dtype)
        self.optimizer = optimizer
        itemsize = self.dtype.itemsize
        shapes = layer_shapes(layers, input_shape, batch)
        self.input_shape = shapes[0]
        self.layers = []
        passes = training_passes(layers)
        for i, (layer, name, in_shape, out_shape) in enumerate(zip(layers, display_names(layers), shapes, shapes[1:])):
            params = sum(_count(s) for s in layer.param_shapes(in_shape).values())
            self.layers.append(LayerCost(
                index=i, name=name, type=layer.kind, layer=layer,
                input_shape=in_shape, output_shape=out_shape,
                params=params, state=sum(_count(s) for s in layer.state_shapes(in_shape).values()),
                param_bytes=params * itemsize,
                activation_bytes=_count(out_shape) * itemsize,
                cache_bytes=layer.cache_bytes(in_shape, itemsize),
                input_grad_bytes=_count(in_shape) * itemsize,
                flops=convention.flops(layer, in_shape),
                footprint=layer.footprint(in_shape, itemsize),
                largest_param_bytes=max((_count(s) for s in layer.param_shapes(in_shape).values()), default=0)
                * itemsize,
                training_pass=passes[i],
            ))

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
        optimizer_bytes = OPTIMIZER_STATE[self.optimizer] * param_bytes
        cache_bytes = sum(l.cache_bytes for l in L)
        peaks = self.step_peaks()
        forward = sum((l.flops.forward for l in L), Ops())
        backward = sum((l.flops.backward for l in L), Ops())
        step_backward = sum((l.step_backward for l in L), Ops())
        return {
            "params": params,
            "trainable_params": params,
            "non_trainable_params": sum(l.state for l in L),
            "param_bytes": param_bytes,
            "state_bytes": sum(l.state for l in L) * self.dtype.itemsize,
            "activation_bytes": activation_bytes,
            "input_grad_bytes": sum(l.input_grad_bytes for l in L),
            "cache_bytes": cache_bytes,
            "gradient_bytes": gradient_bytes,
            "optimizer_state_bytes": optimizer_bytes,
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
            "step_flops": forward.total + step_backward.total,
            "step_backward_flops_by_kind": step_backward.as_dict(),
            "forward_flops_by_kind": forward.as_dict(),
            "backward_flops_by_kind": backward.as_dict(),
        }

    def step_note(self):
        """One sentence on what a training step leaves out of the backward totals, or ''."""
        first = next((l for l in self.layers if l.training_pass == "params"), None)
        step_backward = sum(l.step_backward.total for l in self.layers)
        if first is None or step_backward == sum(l.backward_flops for l in self.layers):
            return ""
        return (f"A training step runs {fmt_flops(step_backward)}FLOPs of the backward: it computes no "
                f"gradient of the input batch, so {first.name} skips its input gradient "
                f"({fmt_flops(first.flops.backward_input.total)}FLOPs), as PyTorch does for inputs.")

    def step_peaks(self):
        """Estimated peak bytes of a training step's phases: ``{"forward", "backward", "update"}``.

        Replays the step (see the module docstring): parameters, running averages,
        optimizer state and the batch (inputs, and mse's targets of the scores' shape;
        class labels are left out) are alive throughout; each layer's pass adds its
        ``footprint`` peak to what is alive when it starts.
        """
        L = self.layers
        param_bytes = sum(l.param_bytes for l in L)
        targets = L[-1].activation_bytes if L and self.loss == "mse" else 0
        base = (param_bytes + sum(l.state for l in L) * self.dtype.itemsize
                + OPTIMIZER_STATE[self.optimizer] * param_bytes + self.input_bytes + targets)
        # Layer i's output lives in the buffer of layer owner[i] (-1: the input batch, which
        # the caller holds); a view layer passes its input's buffer on.
        owner, kept = [], set()
        for i, l in enumerate(L):
            owner.append((owner[-1] if i else -1) if l.footprint.is_view else i)
        for i, l in enumerate(L):
            if i == len(L) - 1 or l.footprint.keeps_output or L[i + 1].footprint.keeps_input:
                kept.add(owner[i])
        alive = forward = base
        for i, l in enumerate(L):
            forward = max(forward, alive + l.footprint.forward_peak)
            if l.footprint.is_view:
                continue
            alive += l.activation_bytes + l.cache_bytes
            if i and owner[i - 1] not in kept and owner[i - 1] != -1:
                alive -= L[owner[i - 1]].activation_bytes  # the input, no longer referenced
        # The loss and backward: the caches live until the end; dscores is held by the loss,
        # each later dout is freed once the layer below has turned it into its dx.
        dout = L[-1].activation_bytes if L else 0
        backward = alive + LOSS_ARRAYS[self.loss] * dout
        alive += dout
        freeable = False
        for l in reversed(L):
            if l.training_pass == "none":
                break
            backward = max(backward, alive + l.footprint.training_backward_peak(l.training_pass))
            if l.footprint.is_view:
                continue
            dx = l.input_grad_bytes if l.training_pass == "full" else 0
            alive += dx + l.param_bytes - (dout if freeable else 0)
            dout, freeable = dx, True
        largest = max((l.largest_param_bytes for l in L), default=0)
        update = base + param_bytes + UPDATE_TEMPORARIES[self.optimizer] * largest
        return {"forward": forward, "backward": backward, "update": update}

    def by_type(self):
        """Forward and backward FLOPs per layer group, in network order of first appearance."""
        groups = {}
        for l in self.layers:
            g = groups.setdefault(GROUP.get(l.type, l.type), {"forward_flops": 0, "backward_flops": 0, "params": 0})
            g["forward_flops"] += l.forward_flops
            g["backward_flops"] += l.backward_flops
            g["params"] += l.params
        return groups

    def as_dict(self):
        return {
            "name": self.name, "convention": self.convention.name, "batch": self.batch,
            "dtype": self.dtype.name, "optimizer": self.optimizer,
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


def summary(network, batch=None, convention="exact", dtype=None, optimizer="sgd"):
    """The cost :class:`Summary` of a model object, a spec dict, a YAML spec path or a preset name.

    - batch: batch size (default: the model's or spec's ``batch``, else 32)
    - convention: ``"exact"``, ``"walkthrough"``, ``"macs"``, ``"torch"`` or a Convention object
    - dtype: ``"float16"``, ``"float32"`` or ``"float64"`` (default: the model's); changes the bytes
    - optimizer: ``"sgd"``, ``"momentum"``, ``"rmsprop"`` or ``"adam"``: sizes the optimizer state
    """
    from ..models.presets import resolve_spec

    if optimizer not in OPTIMIZER_STATE:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZER_STATE)}, got {optimizer!r}")
    convention = get_convention(convention)
    network = resolve_spec(network)
    if hasattr(network, "layers") and hasattr(network, "input_shape"):
        layers, input_shape = network.layers, network.input_shape
        default_dtype, default_batch = np.dtype(network.dtype).name, getattr(network, "batch", 32)
        name = getattr(network, "name", None) or type(network).__name__
        loss = getattr(network, "loss_name", "softmax")
    else:
        layers, input_shape, spec = build_layers(network)
        default_dtype, default_batch, name = spec.get("dtype", "float32"), spec.get("batch", 32), spec.get("name")
        loss = spec.get("loss", "softmax")
    check_choice("loss", loss, tuple(LOSS_ARRAYS))
    dtype = np.dtype(dtype or default_dtype).name
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    batch = int(default_batch if batch is None else batch)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    return Summary(layers, input_shape, batch, convention, dtype, optimizer, name=name, loss=loss)
