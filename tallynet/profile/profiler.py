"""``profile(model or spec)``: each prediction of the cost model beside its measurement.

For every layer of the model (the same layer objects the trainer runs) the
profiler runs the real forward and backward passes of a training step on
random data and reports:

- FLOPs by kind, **counted** by executing the kernels on counting arrays
  (:mod:`tallynet.profile.counter`), beside the cost model's ``exact``
  prediction, forward and backward (input and parameter gradients together, as
  the training step runs them: no input gradient for the first layer with
  parameters, see ``tallynet.models.sequential.training_passes``);
- the bytes the layer's forward pass keeps in its cache for backward,
  **measured** with ``tracemalloc`` (NumPy reports its buffers to it), beside
  the cost model's ``cache_bytes``. Measured means: the NumPy bytes still
  allocated after ``forward`` returns (holding its output and cache) minus
  those before it (holding its input), minus the output's own buffer (nothing
  when the output is a view of the input). That is ``cache_bytes``'s
  definition, "allocated and kept besides the output and the input";
- time per layer, forward and backward: the median over ``steps`` uncounted,
  untraced steps; the achieved GFLOP/s (counted FLOPs over that time) and the
  layer's share of the median time of those same steps (SGD update included);
- the peak bytes of the forward pass, of the backward pass (loss included) and
  of a whole training step (forward, softmax loss, backward and an SGD update),
  measured: the NumPy bytes alive at the start (parameters, running averages,
  the batch and its labels) plus the largest growth ``tracemalloc`` saw, beside
  the cost model's ``peak_bytes_estimate``; measured on one thread, as the model
  describes (with more, each thread beyond the first holds its own band of a
  convolution's columns and partial dW, :mod:`tallynet.layers.conv_bands`);
- ``gemm_peak_gflops``: this machine's float32 matrix-multiply speed, the best
  of a few 1024 x 1024 by 1024 x 1024 products, against which the achieved
  GFLOP/s are read.

The model given is not changed: the profiler works on a copy.
"""

import collections
import copy
import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from .. import optim
from ..counts import KINDS, LayerFlops, Ops
from ..layers.losses import LOSSES
from ..layers._threads import num_threads
from ..layers.im2col import channel_major
from ..models.graph import run_backward, run_forward
from ..step import train_step
from ..cost.render import Rendered
from . import render
from .counter import Counter, counting
from .timeline import Timeline

#: FLOP kinds a counter can see (``mac`` exists only under the ``macs`` convention)
_COUNTED_KINDS = tuple(k for k in KINDS if k != "mac")


def gemm_peak_gflops(n=1024, repeats=5, dtype=np.float32):
    """This machine's matrix-multiply speed: the best of ``repeats`` (n, n) @ (n, n) products.

    FLOPs are counted as everywhere in tallynet, n * n * (2n - 1) per product.
    """
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    a @ b  # warm-up: thread pool start, page faults
    best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    return n * n * (2 * n - 1) / best / 1e9


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass
class LayerProfile:
    """One layer's row: predictions beside measurements. Shapes include the batch."""

    index: int
    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    predicted: LayerFlops
    counted_forward: Ops
    counted_backward: Ops
    predicted_cache_bytes: int
    measured_cache_bytes: int
    forward_seconds: float
    backward_seconds: float
    predicted_forward_peak_bytes: int   # Layer.footprint: most bytes forward holds at once, above its input
    forward_peak_bytes: int             # measured: the largest growth during forward
    predicted_backward_peak_bytes: int  # the same for backward, above dout and the cache
    backward_peak_bytes: int            # measured
    unknown: dict = field(default_factory=dict)  # operations the counter could not price
    training_pass: str = "full"         # what a training step runs of the backward (models.training_passes)
    predicted_recompute: Ops = field(default_factory=Ops)  # gradient checkpointing: the forward run again
    counted_recompute: Ops = field(default_factory=Ops)

    @property
    def predicted_forward(self):
        return self.predicted.forward

    @property
    def predicted_backward(self):
        return self.predicted.training_backward(self.training_pass)

    def mismatches(self):
        """``[(pass, kind, predicted, counted)]`` wherever prediction and count differ."""
        return [(phase, k, getattr(p, k), getattr(c, k))
                for phase, p, c in (("forward", self.predicted_forward, self.counted_forward),
                                    ("backward", self.predicted_backward, self.counted_backward),
                                    ("recompute", self.predicted_recompute, self.counted_recompute))
                for k in KINDS if getattr(p, k) != getattr(c, k)]

    @property
    def matches(self):
        return not self.mismatches()

    @property
    def seconds(self):
        return self.forward_seconds + self.backward_seconds

    @property
    def gflops(self):
        """Achieved GFLOP/s: counted forward and backward FLOPs over their time."""
        flops = self.counted_forward.total + self.counted_backward.total
        return flops / self.seconds / 1e9 if self.seconds else 0.0

    def as_dict(self, step_seconds):
        return {
            "name": self.name, "type": self.type,
            "input_shape": list(self.input_shape), "output_shape": list(self.output_shape),
            "predicted_forward_flops": self.predicted_forward.total,
            "counted_forward_flops": self.counted_forward.total,
            "predicted_backward_flops": self.predicted_backward.total,
            "counted_backward_flops": self.counted_backward.total,
            "predicted_recompute_flops": self.predicted_recompute.total,
            "counted_recompute_flops": self.counted_recompute.total,
            "flops_match": self.matches,
            "predicted_cache_bytes": self.predicted_cache_bytes,
            "measured_cache_bytes": self.measured_cache_bytes,
            "forward_seconds": self.forward_seconds, "backward_seconds": self.backward_seconds,
            "gflops": self.gflops,
            "share_of_step": self.seconds / step_seconds if step_seconds else 0.0,
            "predicted_forward_peak_bytes": self.predicted_forward_peak_bytes,
            "measured_forward_peak_bytes": self.forward_peak_bytes,
            "predicted_backward_peak_bytes": self.predicted_backward_peak_bytes,
            "measured_backward_peak_bytes": self.backward_peak_bytes,
            "flops_by_kind": {
                "predicted_forward": _kinds(self.predicted_forward),
                "counted_forward": _kinds(self.counted_forward),
                "predicted_backward": _kinds(self.predicted_backward),
                "counted_backward": _kinds(self.counted_backward),
            },
            "unknown_operations": dict(self.unknown),
        }


def _kinds(ops):
    return {k: getattr(ops, k) for k in _COUNTED_KINDS}


class Profile(Rendered):
    """A profiled training step: per-layer :class:`LayerProfile` rows and whole-step totals.

    Attributes: ``layers``, ``summary`` (the cost model's :class:`~tallynet.cost.Summary`
    at the same batch), ``name``, ``batch``, ``dtype``, ``steps``, ``gemm_peak_gflops``,
    ``step_seconds`` (median time of a whole training step), ``loss_flops`` and
    ``update_flops`` (counted), ``measured_peaks`` (``{"forward", "backward", "step"}``
    in bytes), ``predicted_timeline`` and ``measured_timeline`` (the bytes alive after each
    pass of the measured step and each pass's peak, lists of :class:`~tallynet.cost.replay.Point`
    at the same points), ``checkpoint``. Renders like a Summary: ``to_markdown()``, ``to_json()``, ``to_csv()``,
    ``to_html()``, ``to_table()`` (rich); in Jupyter it shows itself as HTML.
    """

    _renderer = render

    def __init__(self, layers, summary, steps, gemm_peak, step_seconds, loss_flops, update_flops, measured_peaks,
                 measured_timeline=()):
        self.layers = layers
        self.checkpoint = summary.checkpoint
        self.predicted_timeline = summary.step_timeline()
        self.measured_timeline = list(measured_timeline)
        self.summary = summary
        self.name = summary.name
        self.batch = summary.batch
        self.dtype = summary.dtype
        self.steps = steps
        self.gemm_peak_gflops = gemm_peak
        self.step_seconds = step_seconds
        self.loss_flops = loss_flops
        self.update_flops = update_flops
        self.measured_peaks = measured_peaks

    @property
    def unknown(self):
        """Operations the counter could not price, over every layer: ``{name: calls}``."""
        merged = {}
        for l in self.layers:
            for name, calls in l.unknown.items():
                merged[name] = merged.get(name, 0) + calls
        return merged

    def mismatches(self):
        """``[(layer name, pass, kind, predicted, counted)]`` for every FLOP count that differs."""
        return [(l.name, *m) for l in self.layers for m in l.mismatches()]

    def totals(self):
        L = self.layers
        predicted = self.summary.totals()
        seconds = sum(l.seconds for l in L)
        counted = sum(l.counted_forward.total + l.counted_backward.total for l in L)
        achieved = counted / seconds / 1e9 if seconds else 0.0
        return {
            "predicted_forward_flops": sum(l.predicted_forward.total for l in L),
            "counted_forward_flops": sum(l.counted_forward.total for l in L),
            "predicted_backward_flops": sum(l.predicted_backward.total for l in L),
            "counted_backward_flops": sum(l.counted_backward.total for l in L),
            "checkpoint": self.checkpoint,
            "predicted_recompute_flops": sum(l.predicted_recompute.total for l in L),
            "counted_recompute_flops": sum(l.counted_recompute.total for l in L),
            "flops_match": all(l.matches for l in L),
            "counted_loss_flops": self.loss_flops.total,
            "counted_update_flops": self.update_flops.total,
            "predicted_cache_bytes": sum(l.predicted_cache_bytes for l in L),
            "measured_cache_bytes": sum(l.measured_cache_bytes for l in L),
            "forward_seconds": sum(l.forward_seconds for l in L),
            "backward_seconds": sum(l.backward_seconds for l in L),
            "step_seconds": self.step_seconds,
            "predicted_peak_bytes": predicted["peak_bytes_estimate"],
            "measured_peak_bytes": self.measured_peaks["step"],
            "predicted_forward_peak_bytes": predicted["forward_peak_bytes_estimate"],
            "measured_forward_peak_bytes": self.measured_peaks["forward"],
            "predicted_backward_peak_bytes": predicted["backward_peak_bytes_estimate"],
            "measured_backward_peak_bytes": self.measured_peaks["backward"],
            "achieved_gflops": achieved,
            "gemm_peak_gflops": self.gemm_peak_gflops,
            "fraction_of_gemm_peak": achieved / self.gemm_peak_gflops if self.gemm_peak_gflops else 0.0,
        }

    def as_dict(self):
        return {
            "name": self.name, "batch": self.batch, "dtype": self.dtype.name, "steps": self.steps,
            "input_shape": list(self.summary.input_shape),
            "layers": [l.as_dict(self.step_seconds) for l in self.layers],
            "totals": self.totals(),
            "unknown_operations": self.unknown,
            "timeline": [{"phase": p.phase, "layer": p.name, "predicted_peak_bytes": p.peak,
                          "predicted_after_bytes": p.after, "measured_peak_bytes": m.peak,
                          "measured_after_bytes": m.after}
                         for p, m in zip(self.predicted_timeline, self.measured_timeline)],
        }

    def __str__(self):
        return self.to_markdown()


# --- running the model layer by layer ---------------------------------------------------------
def random_batch(model, batch, rng):
    """A batch of standard normal inputs and matching targets (class labels, or values for mse)."""
    X = rng.standard_normal((batch,) + model.input_shape).astype(model.dtype)
    out_shape = (batch,) + tuple(model.output_shape)
    if model.loss_name == "mse":
        return X, rng.standard_normal(out_shape).astype(model.dtype)
    return X, rng.integers(out_shape[-1], size=batch)


def _sgd(name, w, dw):
    return optim.sgd(w, dw)[0]


def _time_layers(model, X, y, steps):
    """Median forward and backward seconds of each layer over ``steps`` steps, and the
    median seconds of those same steps, SGD update included: timing the layers and the
    step in the same runs keeps their shares of the step below 100 %."""
    n = len(model.layers)
    fwd, bwd = [[] for _ in range(n)], [[] for _ in range(n)]

    def forward(i, layer, x, params, mode):
        start = time.perf_counter()
        result = run_forward(i, layer, x, params, mode)
        fwd[i].append(time.perf_counter() - start)
        return result

    def backward(i, layer, dout, cache, pass_):
        start = time.perf_counter()
        result = run_backward(i, layer, dout, cache, pass_)
        bwd[i].append(time.perf_counter() - start)
        return result

    train_step(model, X, y, _sgd)  # warm-up
    step_seconds = statistics.median(
        _seconds(lambda: train_step(model, X, y, _sgd, forward_hook=forward, backward_hook=backward,
                                    recompute_hook=run_forward))
        for _ in range(steps))
    return ([statistics.median(t) for t in fwd], [statistics.median(t) if t else 0.0 for t in bwd],  # no backward: 0
            step_seconds)


def _count_layers(model, X, y):
    """Counted FLOPs of each layer's forward, of its forward run again by a checkpointed step,
    of its backward, of the loss, and what could not be priced."""
    n = len(model.layers)
    fwd, again, bwd, unknown, loss_flops = [None] * n, [Ops()] * n, [Ops()] * n, [collections.Counter()
                                                                                    for _ in range(n)], []

    def counted_forward(into):
        def forward(i, layer, x, params, mode):
            with Counter(owners=[layer]) as c:
                result = run_forward(i, layer, counting(x), counting(params), mode)
            into[i] = c.flops
            unknown[i].update(c.unknown)
            return result
        return forward

    def backward(i, layer, dout, cache, pass_):
        with Counter(owners=[layer]) as c:
            result = run_backward(i, layer, counting(dout), cache, pass_)
        bwd[i] = c.flops
        unknown[i].update(c.unknown)
        return result

    def loss(scores, y):
        with Counter() as c:
            result = LOSSES[model.loss_name](scores, y)
        loss_flops.append(c.flops)
        return result

    model.loss(X, y, forward_hook=counted_forward(fwd), backward_hook=backward, loss_hook=loss,
               recompute_hook=counted_forward(again))
    return fwd, again, bwd, [dict(u) for u in unknown], loss_flops[0]


def count_layer(layer, input_shape, dtype=np.float32, seed=0):
    """Counted :class:`~tallynet.counts.Ops` of one layer's forward (train mode) and backward pass.

    Runs the layer on standard normal data of ``input_shape`` (batch included) with
    fresh parameters. Returns ``(forward, backward, unknown)``; ``unknown`` maps the
    operations the counter could not price to their number of calls.
    """
    rng = np.random.default_rng(seed)
    params = layer.init_params(input_shape, rng, "he", dtype)
    layer.reset_state(input_shape, dtype)
    x = random_input(input_shape, rng, dtype)
    with Counter(owners=[layer]) as f:
        out, cache = layer.forward(counting(x), counting(params), "train")
    dout = rng.standard_normal(out.shape).astype(dtype)
    with Counter(owners=[layer]) as b:
        layer.backward(counting(dout), cache)
    return f.flops, b.flops, dict(f.unknown + b.unknown)


# --- memory -----------------------------------------------------------------------------------------
def _numpy_bytes():
    """Bytes of NumPy buffers tracemalloc currently traces."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.DomainFilter(inclusive=True, domain=np.lib.tracemalloc_domain)])
    return sum(trace.size for trace in snapshot.traces)


def _growth(fn):
    """Run ``fn``; return its result and the largest traced growth during it, in bytes."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = fn()
    return result, tracemalloc.get_traced_memory()[1] - before


def _measured_forward(layer, x, params, mode):
    """``(out, cache, cache bytes, peak growth)`` of one forward pass (tracing must be on)."""
    gc.collect()
    before = _numpy_bytes()
    (out, cache), peak = _growth(lambda: layer.forward(x, params, mode))
    output_bytes = 0 if any(np.shares_memory(out, a) for a in (x if isinstance(x, list) else [x])) else out.nbytes
    return out, cache, _numpy_bytes() - before - output_bytes, peak


def _measure_layers(model, X, y):
    """Per layer: measured cache bytes and the forward and backward peaks (tracing must be on).

    On one thread: the passes split over threads allocate the same arrays, but how long the
    threads' temporaries overlap depends on the scheduler, so a measured peak would too.
    """
    n = len(model.layers)
    cache_bytes, fwd_peak, bwd_peak = [0] * n, [0] * n, [0] * n

    def forward(i, layer, x, params, mode):
        out, cache, cache_bytes[i], fwd_peak[i] = _measured_forward(layer, x, params, mode)
        return out, cache

    def backward(i, layer, dout, cache, pass_):
        result, bwd_peak[i] = _growth(lambda: run_backward(i, layer, dout, cache, pass_))
        return result

    with num_threads(1):
        model.loss(X, y)  # warm-up: running averages replaced by traced arrays
        model.loss(X, y, forward_hook=forward, backward_hook=backward, recompute_hook=run_forward)
    return cache_bytes, fwd_peak, bwd_peak


def random_input(input_shape, rng, dtype, as_in_a_model=False):
    """Standard normal data of ``input_shape`` (a list of them for a merge's list of shapes).

    ``as_in_a_model``: laid out as a model keeps its activations, images channel-major (see
    :mod:`tallynet.layers.im2col`), where the footprints' views and copies are the ones they say.
    """
    if isinstance(input_shape, list):
        return [random_input(s, rng, dtype, as_in_a_model) for s in input_shape]
    a = rng.standard_normal(input_shape).astype(dtype)
    if not as_in_a_model or a.ndim != 4:
        return a
    out = channel_major(a.shape, a.dtype)
    out[...] = a
    return out


def measure_layer(layer, input_shape, dtype=np.float32, seed=0):
    """Measured memory of one layer's train-mode passes on standard normal data of
    ``input_shape`` (batch included), on one thread: ``(cache bytes, forward peak, backward
    peak)``, as :class:`Profile` measures them, to set beside ``Layer.cache_bytes`` and
    ``Layer.footprint``."""
    rng = np.random.default_rng(seed)
    params = layer.init_params(input_shape, rng, "he", dtype)
    x, dout = (random_input(shape, rng, dtype, as_in_a_model=True)
               for shape in (input_shape, layer.output_shape(input_shape)))
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        layer.reset_state(input_shape, dtype)  # running averages allocated while tracing
        with num_threads(1):
            _, cache, cache_bytes, forward = _measured_forward(layer, x, params, "train")
            _, backward = _growth(lambda: layer.backward(dout, cache))
    finally:
        if not tracing:
            tracemalloc.stop()
    return cache_bytes, forward, backward


def _measure_peaks(model, X, y):
    """Measured peak bytes of the forward pass, of loss + backward, and of a whole training step,
    and the step's :class:`~tallynet.profile.timeline.Timeline` points.

    Each peak is the NumPy bytes alive when the phase starts plus the largest growth during it.
    """
    # Copies made while tracing, so that every buffer alive is one tracemalloc knows
    # (the update frees the old parameters; only freeing what it saw allocated counts).
    model.params = {k: w.copy() for k, w in model.params.items()}
    for layer in model.layers:
        for attr, value in list(vars(layer).items()):
            if isinstance(value, np.ndarray):
                setattr(layer, attr, value.copy())
    X, y = X.copy(), y.copy()

    def peak(fn):
        gc.collect()
        alive = _numpy_bytes()
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        result = fn()
        return result, alive + tracemalloc.get_traced_memory()[1] - start

    (scores, caches), forward = peak(lambda: model.forward(X, "train"))
    grads, backward = peak(lambda: model.backward(LOSSES[model.loss_name](scores, y)[1], caches))
    del scores, caches, grads
    gc.collect()
    timeline = Timeline(model, _numpy_bytes())
    # the step's passes record themselves; what follows the last backward is the update
    timeline.add("update", -1, lambda: train_step(model, X, y, timeline.update(_sgd), **timeline.hooks()))
    return {"forward": forward, "backward": backward, "step": timeline.peak}, timeline.points


# --- the entry point ----------------------------------------------------------------------------------
def _build(network, seed, dtype):
    """A private model: a copy of a model object, or one built from a spec, YAML path or preset name."""
    from ..models import from_spec, resolve_spec

    if hasattr(network, "layers") and hasattr(network, "params"):
        model = copy.deepcopy(network)
        if dtype is not None and np.dtype(dtype) != np.dtype(model.dtype):
            raise ValueError(f"dtype {np.dtype(dtype).name} differs from the model's {np.dtype(model.dtype).name}; "
                             "build the model in that dtype instead")
        return model
    return from_spec(resolve_spec(network), dtype=dtype, seed=seed)


def profile(network, batch=None, steps=5, seed=0, dtype=None, gemm_peak=None, checkpoint=None):
    """Profile a training step of a model object, spec dict, YAML spec path or preset name.

    - batch: batch size (default: the model's or spec's ``batch``, else 32)
    - steps: timed steps; times are medians over them (counting and memory use one step each)
    - seed: seeds the weights (for specs) and the random batch
    - dtype: ``"float32"`` or ``"float64"`` for specs (default: the spec's)
    - gemm_peak: this machine's GEMM GFLOP/s if already known (default: measured now
      with :func:`gemm_peak_gflops`)
    - checkpoint: profile the step with gradient checkpointing every ``checkpoint`` layers
      (default: the model's own); the recomputed forward passes are counted apart

    Returns a :class:`Profile`. The model given is not modified.
    """
    from ..cost import summary

    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    gemm_peak = gemm_peak_gflops() if gemm_peak is None else float(gemm_peak)
    model = _build(network, seed, dtype)
    if checkpoint is not None:
        model.checkpoint = checkpoint
    batch = int(getattr(model, "batch", 32) if batch is None else batch)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    s = summary(model, batch=batch)
    again = s.recomputed_layers()
    X, y = random_batch(model, batch, np.random.default_rng(seed))

    fwd_s, bwd_s, step_seconds = _time_layers(model, X, y, steps)
    fwd_ops, again_ops, bwd_ops, unknown, loss_flops = _count_layers(model, X, y)
    with Counter() as update:
        for key, w in model.params.items():
            optim.sgd(counting(w), counting(w))  # any gradient will do: the count depends on shapes

    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        cache_bytes, fwd_peak, bwd_peak = _measure_layers(model, X, y)
        with num_threads(1):  # the memory model's: each further thread holds a convolution's band and partial dW
            peaks, timeline = _measure_peaks(model, X, y)
    finally:
        if not tracing:
            tracemalloc.stop()

    rows = [LayerProfile(index=i, name=c.name, type=c.type, input_shape=c.input_shape, output_shape=c.output_shape,
                         predicted=c.flops, counted_forward=fwd_ops[i], counted_backward=bwd_ops[i],
                         predicted_cache_bytes=c.cache_bytes, measured_cache_bytes=cache_bytes[i],
                         forward_seconds=fwd_s[i], backward_seconds=bwd_s[i],
                         predicted_forward_peak_bytes=c.footprint.forward_peak, forward_peak_bytes=fwd_peak[i],
                         predicted_backward_peak_bytes=c.footprint.training_backward_peak(c.training_pass),
                         backward_peak_bytes=bwd_peak[i], unknown=unknown[i], training_pass=c.training_pass,
                         predicted_recompute=c.flops.forward if c in again else Ops(), counted_recompute=again_ops[i])
            for i, c in enumerate(s.layers)]
    return Profile(rows, s, steps, gemm_peak, step_seconds, loss_flops, update.flops, peaks, timeline)
