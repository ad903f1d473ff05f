"""Gradient checkpointing: the forward pass keeps only segment boundaries, the backward pass
recomputes each segment's forward just before its backward.

Segments are K consecutive nodes in execution order (the topological order the executor
runs): for a chain, K layers. A graph's edge may cross several segments (a residual
block's skip connection): a segment's *boundary* is then every output of an earlier
segment that one of its nodes reads, wherever it comes from. So the rule is the same for
chains and graphs, and stays correct where an edge skips a segment.

What a checkpointed training step does (:class:`Checkpointed` is the forward's record):

- forward: every node runs as usual; at the end of each segment but the last, the caches
  of its nodes are dropped, and the outputs that a recomputed segment will read are kept
  (its boundary). The last segment keeps its caches: its backward starts at once, so
  recomputing it would only repeat work (as PyTorch's ``checkpoint_sequential`` does).
- backward: on reaching a segment, the caches of the segment after it are let go, then
  the segment's forward runs again (train mode) from its boundary, giving the caches its
  backward reads; a boundary output is let go once the earliest segment reading it has
  been recomputed. A segment whose nodes run no backward (before the first layer with
  parameters, see :func:`~tallynet.models.nodes.training_passes`) is not recomputed.
- randomness and state: before a recomputed segment's first forward, the state of its
  layers (``Layer.get_state``: dropout's generator, batchnorm's running averages) is
  saved; the recomputation starts from that state, so dropout draws the same masks and
  batchnorm updates its running averages from where the step found them, with the same
  batch statistics: it leaves the state the first forward left (one update per step, not
  two), and the gradients are bitwise those of a normal step.

The cost model (:mod:`tallynet.cost.replay`) replays the same segments with
:func:`segments`, :func:`recomputed_segments` and :func:`boundary_release`.
"""

from ..layers._checks import check_int
from .nodes import MODEL_INPUT, consumers, label, last_uses, training_passes


def check_checkpoint(k, nodes):
    """``k`` as an int, or None for no checkpointing; refuses k < 1 and k above the node count."""
    if k is None:
        return None
    k = check_int("checkpoint", k, 1)
    if k > len(nodes):
        raise ValueError(f"checkpoint={k} exceeds the network's {len(nodes)} layers (nodes); expected 1 to "
                         f"{len(nodes)} layers per segment ({len(nodes)}: one segment, nothing recomputed)")
    for i, (layer, _) in enumerate(nodes):
        if getattr(layer, "numpy_global", False) and not getattr(layer, "fixed", False):
            raise ValueError(f"checkpointing cannot replay {label(layer, i)}: it draws from NumPy's global "
                             "generator, which a recomputation would advance; give the layer a generator "
                             "of its own (Dropout without use_numpy_global)")
    return k


def segments(nodes, k):
    """Per node, the index of its segment: node ``i`` is in segment ``i // k``."""
    return [i // k for i in range(len(nodes))]


def recomputed_segments(nodes, k):
    """The segments whose forward the backward pass runs again: all but the last, except those
    whose nodes run no backward at all (pass ``"none"``)."""
    seg, passes = segments(nodes, k), training_passes(nodes)
    last = seg[-1] if seg else 0
    return {s for s, p in zip(seg, passes) if s != last and p != "none"}


def boundary_release(nodes, k):
    """``{node: segment}`` for the outputs a checkpointed forward keeps: an output is kept
    when a recomputed later segment reads it, until the earliest such segment is recomputed."""
    seg, again = segments(nodes, k), recomputed_segments(nodes, k)
    release = {}
    for j, readers in enumerate(consumers(nodes)):
        later = {seg[i] for i in readers if seg[i] != seg[j] and seg[i] in again}
        if later:
            release[j] = min(later)
    return release


def segment_last_uses(nodes, k):
    """Per node, the last node of its own segment that reads it (itself when none does): a
    recomputation lets an output go after that node."""
    seg = segments(nodes, k)
    return [max((i for i in readers if seg[i] == seg[j]), default=j) for j, readers in enumerate(consumers(nodes))]


class Checkpointed:
    """What a checkpointed forward pass leaves for the backward: the caches it kept (the last
    segment's), the boundary outputs, the saved layer states; :meth:`cache` gives node
    ``i``'s cache, recomputing its segment when the backward first reaches it."""

    def __init__(self, graph, k, X):
        self.graph, self.k, self.X = graph, k, X
        self.seg = segments(graph.nodes, k)
        self.recomputed = recomputed_segments(graph.nodes, k)
        self.release = boundary_release(graph.nodes, k)
        self.in_segment_last = segment_last_uses(graph.nodes, k)
        self.caches = [None] * len(graph.nodes)
        self.kept = {}      # node -> its output, for the recomputations that read it
        self.states = {}    # segment -> {node: Layer.get_state()} before its first forward
        self.current = None  # the segment whose caches are alive during the backward

    def members(self, s):
        return range(s * self.k, min((s + 1) * self.k, len(self.seg)))

    def save_states(self, s):
        if s in self.recomputed:
            states = {i: self.graph.layers[i].get_state() for i in self.members(s)}
            self.states[s] = {i: state for i, state in states.items() if state}

    def end_of_segment(self, s, last):
        """After segment ``s``'s forward: drop its caches unless it is the last."""
        if s != last:
            for i in self.members(s):
                self.caches[i] = None

    def cache(self, i, hook):
        """Node ``i``'s cache for its backward; entering a new segment lets the previous one's
        caches go and recomputes this one's forward with ``hook`` (see :meth:`Graph.forward`)."""
        s = self.seg[i]
        if s != self.current:
            if self.current is not None:
                for j in self.members(self.current):
                    self.caches[j] = None
            self.current = s
            if s in self.recomputed:
                self._recompute(s, hook)
            for j in [j for j, r in self.release.items() if r == s]:
                del self.kept[j], self.release[j]
        return self.caches[i]

    def _recompute(self, s, hook):
        graph, members = self.graph, self.members(s)
        for i, state in self.states.pop(s).items():
            graph.layers[i].set_state(state)
        values = dict(self.kept)
        values[MODEL_INPUT] = self.X
        for i in members:
            self.caches[i] = graph.run_node(i, values, self.in_segment_last, hook, "train")
            if self.in_segment_last[i] == i:
                del values[i]  # read only by later segments, which have run their backward


def checkpointed_forward(graph, X, k, hook):
    """The train-mode forward pass of :meth:`Graph.forward` with checkpointing every ``k``
    nodes: ``(scores, Checkpointed)``."""
    record = Checkpointed(graph, k, X)
    values, last = {MODEL_INPUT: X}, last_uses(graph.nodes)
    final = record.seg[-1]
    for i in range(len(graph.nodes)):
        s = record.seg[i]
        if i % k == 0:
            record.save_states(s)
        record.caches[i] = graph.run_node(i, values, last, hook, "train")
        if i in record.release:
            record.kept[i] = values[i]
        if i == len(graph.nodes) - 1 or record.seg[i + 1] != s:
            record.end_of_segment(s, final)
    return values[len(graph.nodes) - 1], record
