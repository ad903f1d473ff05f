"""The memory replay of a training step: bytes alive after each pass, and each pass's peak.

:meth:`Summary.step_timeline <tallynet.cost.summary.Summary.step_timeline>` replays a step
as the executor (:class:`tallynet.models.Graph`) runs it, from shapes alone: parameters,
running averages, optimizer state and the batch (inputs, and mse's targets of the scores'
shape; class labels are left out) are alive throughout; each node's pass adds its
``footprint`` peak to what is alive when it starts. The forward side is replayed as Python
frees it, by reference: each buffer (a node's output, its cache) has holders (the
executor's table of outputs, a cache that references it, a checkpoint's boundary, the
scores) and is freed when the last holder lets go. An output lives in the buffer of its
node, or of its input's when the node is a view; a cache holds its input's buffer when the
layer keeps its input, its output's when it keeps its output.

With gradient checkpointing (:mod:`tallynet.models.checkpointing`) the replay follows the
same segments: a segment's caches are let go at its end (but the last's), its boundary
outputs are held until the earliest segment reading them is recomputed, and on reaching a
recomputed segment the backward lets the caches of the segment after it go and runs its
forward passes again ("recompute" points).

Each :class:`Point` is taken where the profiler measures (``tallynet.profile.profiler``):
when a pass returns, before the executor lets its inputs (or its dout) go.

What each node keeps and holds, the loss's arrays, the batch and the update's temporaries
come from the summary's memory model (:mod:`tallynet.cost.memory_models`): tallynet's
kernels, whose caches live until the end of the backward pass, or PyTorch's
(:mod:`tallynet.cost.torch_memory`), whose autograd lets a node's saved tensors go once its
backward has run (``frees_saved``).
"""

import math
from dataclasses import dataclass

from .. import optim
from ..models.checkpointing import boundary_release, recomputed_segments, segment_last_uses, segments
from ..models.nodes import MODEL_INPUT, input_list, last_uses


@dataclass(frozen=True)
class Point:
    """One pass of the replayed step: ``phase`` is ``forward``, ``loss``, ``recompute``,
    ``backward`` or ``update``; ``index`` the node (-1 for the loss and the update)."""

    phase: str
    index: int
    name: str
    peak: int   # the most bytes alive during the pass
    after: int  # bytes alive when the pass returns


class _Buffers:
    """Buffers and their holders; ``alive`` counts every byte, gradients included (added directly)."""

    def __init__(self, alive):
        self.alive, self.size, self.holders, self._next = alive, {}, {}, 0

    def new(self, nbytes, holder):
        key, self._next = self._next, self._next + 1
        self.size[key], self.holders[key] = nbytes, {holder}
        self.alive += nbytes
        return key

    def hold(self, key, holder):
        if key is not None:  # None: the batch, the caller's
            self.holders[key].add(holder)

    def drop(self, key, holder):
        if key is None or key not in self.holders:
            return
        self.holders[key].discard(holder)
        if not self.holders[key]:
            self.alive -= self.size.pop(key)
            del self.holders[key]

    def drop_holder(self, holder):
        for key in [k for k, h in self.holders.items() if holder in h]:
            self.drop(key, holder)


class _Step:
    """One replayed step over a Summary's rows; :meth:`run` returns the points."""

    def __init__(self, s, checkpoint):
        self.s, self.L, self.k = s, s.layers, checkpoint
        L = self.L
        self.param_bytes = sum(l.param_bytes for l in L)
        self.base = (self.param_bytes + sum(l.state for l in L) * s.master_dtype.itemsize
                     + optim.STATE_ARRAYS[s.optimizer] * self.param_bytes + s.memory.batch_bytes(s))
        # mixed precision's 16-bit copies of the weights live from the forward through the
        # backward; the update runs without them
        self.mem = _Buffers(self.base + s.weight_copy_bytes)
        self.points = []
        nodes = [(l.layer, l.inputs) for l in L]
        if checkpoint:
            self.seg = segments(nodes, checkpoint)
            self.recomputed = recomputed_segments(nodes, checkpoint)
            self.release = boundary_release(nodes, checkpoint)
            self.in_segment_last = segment_last_uses(nodes, checkpoint)
        self.last = last_uses(nodes)
        self.current = None

    def point(self, phase, index, peak, after=None):
        name = self.L[index].name if index >= 0 else phase
        self.points.append(Point(phase, index, name, peak, self.mem.alive if after is None else after))

    def members(self, s):
        return range(s * self.k, min((s + 1) * self.k, len(self.L)))

    def run_node(self, i, buf, last, tag, phase):
        """A node's forward pass: its output and cache allocated, then its inputs let go."""
        l, mem = self.L[i], self.mem
        peak = mem.alive + l.footprint.forward_peak
        out = buf[l.inputs[0]] if l.footprint.is_view else mem.new(l.activation_bytes, (tag, i))
        mem.hold(out, (tag, i))
        buf[i] = out
        if l.cache_bytes and not l.footprint.is_view:
            mem.new(l.cache_bytes, ("cache", i))
        for j in (l.inputs if l.footprint.keeps_input else ()):
            mem.hold(buf[j], ("cache", i))
        if l.footprint.keeps_output:
            mem.hold(out, ("cache", i))
        self.point(phase, i, peak)
        for j in set(l.inputs):
            if j != MODEL_INPUT and last[j] == i:
                mem.drop(buf[j], (tag, j))

    def forward(self):
        self.buf = {MODEL_INPUT: None}
        final = self.seg[-1] if self.k and self.L else None
        for i in range(len(self.L)):
            self.run_node(i, self.buf, self.last, "value", "forward")
            if not self.k:
                continue
            if i in self.release:
                self.mem.hold(self.buf[i], ("boundary", i))
            if self.seg[i] != final and (i + 1 == len(self.L) or self.seg[i + 1] != self.seg[i]):
                for j in self.members(self.seg[i]):
                    self.mem.drop_holder(("cache", j))

    def enter(self, s):
        """The backward reaches segment ``s``: the previous segment's caches go, ``s`` is recomputed."""
        if s == self.current:
            return
        if self.current is not None:
            for j in self.members(self.current):
                self.mem.drop_holder(("cache", j))
        self.current = s
        if s in self.recomputed:
            buf = {MODEL_INPUT: None, **{j: self.buf[j] for j in self.release}}
            for i in self.members(s):
                self.run_node(i, buf, self.in_segment_last, "recomputed", "recompute")
                if self.in_segment_last[i] == i:
                    self.mem.drop(buf[i], ("recomputed", i))
        for j in [j for j, r in self.release.items() if r == s]:
            self.mem.drop(self.buf[j], ("boundary", j))
            del self.release[j]

    def backward(self):
        """The loss, then each node's backward: the caches live until the end (or, checkpointed,
        until the backward leaves their segment; or, with ``frees_saved``, until the node's own
        backward has run); dscores is held by the loss (unless the memory model's loss lets it
        go), each later dout is freed once its node has turned it into its dx."""
        L, mem, itemsize, model = self.L, self.mem, self.s.dtype.itemsize, self.s.memory
        loss = model.loss(self.s.loss)
        dout = L[-1].activation_bytes if L else 0
        peak = mem.alive + loss.forward * dout
        kept = mem.new(loss.kept * dout, "loss") if loss.kept else None
        if L and not loss.keeps_scores:
            mem.drop(self.buf[len(L) - 1], ("value", len(L) - 1))  # the loss was the scores' last use
        peak = max(peak, mem.alive + loss.backward * dout)
        mem.alive += dout
        if model.frees_saved:
            mem.drop(kept, "loss")
        self.point("loss", -1, peak)
        pending = {len(L) - 1: (dout, not loss.holds_dscores)}  # per node: (bytes of its dout, may it be freed)
        for i in reversed(range(len(L))):
            l = L[i]
            if l.training_pass == "none" or i not in pending:
                continue
            if self.k:
                self.enter(self.seg[i])
            size, freeable = pending.pop(i)
            peak = mem.alive + l.footprint.training_backward_peak(l.training_pass)
            sizes = [math.prod(shape) * itemsize for shape in input_list(l.input_shape)]
            if (l.footprint.is_view and not l.footprint.dx_allocated) or l.footprint.grads_are_views:
                # each dx is a view of dout: the first input's carries its buffer on
                mem.alive += 0 if l.footprint.is_view else l.param_bytes
                self.point("backward", i, peak)
                gradients = [(j, n, freeable and k == 0) for k, (j, n) in enumerate(zip(l.inputs, sizes))]
            else:
                mem.alive += l.param_bytes
                gradients = []
                if l.training_pass == "full":
                    mem.alive += l.input_grad_bytes
                    gradients = [(j, n, True) for j, n in zip(l.inputs, sizes)]
                self.point("backward", i, peak)
                mem.alive -= size if freeable else 0
            for j, n, may_free in gradients:
                if j in pending:  # the two gradients are summed into a new array, then let go
                    before, before_free = pending.pop(j)
                    mem.alive += n - (before if before_free else 0) - (n if may_free else 0)
                    may_free = True
                pending[j] = (n, may_free)
            if model.frees_saved:  # autograd lets the node's saved tensors go
                mem.drop_holder(("cache", i))

    def update(self):
        peak = self.base + self.param_bytes + self.s.memory.update_temporaries(self.s)
        self.point("update", -1, peak, self.base)

    def run(self):
        self.point("start", -1, self.base)
        self.forward()
        self.backward()
        self.update()
        return self.points


def step_timeline(s, checkpoint=None):
    """The :class:`Point` list of a training step of Summary ``s``, checkpointed every
    ``checkpoint`` nodes when given."""
    return _Step(s, checkpoint).run()
