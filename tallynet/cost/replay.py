"""The replay of a training step's forward and backward passes over a graph's edges, which
both memory models run (:meth:`Summary.step_peaks`: tallynet's kernels; and
:mod:`tallynet.cost.torch_memory`: PyTorch's).

Each node says how its passes hold memory (:class:`NodeMemory`: its output, what it keeps
for backward, its :class:`~tallynet.layers.base.Footprint`); the replay walks the nodes
in order, then backwards, adding and freeing bytes as the executor does, and returns the
largest totals along the way. The models differ in what a node keeps and in when it lets
go: tallynet's caches live until the end of the backward pass; PyTorch's autograd frees a
node's saved tensors once its backward has run (``frees_saved``), and with them the
activations nothing else holds.
"""

from dataclasses import dataclass

from .. import optim
from ..layers.losses import LOSS_ARRAYS
from ..models.nodes import MODEL_INPUT, last_uses


@dataclass(frozen=True)
class NodeMemory:
    """One node's part in the replay, in bytes."""

    inputs: tuple            # the indices of the nodes it takes (MODEL_INPUT: the batch)
    output_bytes: int
    kept_bytes: int          # arrays of its own the forward pass keeps for backward (caches, saved tensors)
    footprint: object        # a Footprint: the passes' peaks, what the node keeps of its input and output
    param_bytes: int         # its parameter gradients, allocated by its backward
    input_bytes: tuple       # the bytes of each input, the size of each dx
    training_pass: str       # "full", "params" or "none" (models.nodes.training_passes)


@dataclass(frozen=True)
class LossMemory:
    """The loss's arrays, in multiples of the scores' bytes."""

    forward: int = 0         # held at once by the loss's forward pass
    kept: int = 0            # of those, kept for its backward
    backward: int = 0        # held at once by its backward pass, dscores included
    keeps_scores: bool = True  # whether the scores stay alive until the loss's backward
    holds_dscores: bool = True  # whether dscores stays alive to the end (tallynet's loss returns it)


def _owners(nodes):
    """The node whose buffer holds each output (MODEL_INPUT: the batch): a view's is its input's."""
    owner = []
    for n in nodes:
        view, first = n.footprint.is_view, n.inputs[0]
        owner.append((owner[first] if first != MODEL_INPUT else MODEL_INPUT) if view else len(owner))
    return owner


def _held(nodes, owner, loss):
    """Per node (len(nodes): the loss), the buffers its kept arrays reference: its output's
    where it keeps its output, its inputs' where it keeps its input (never the batch's)."""
    held = {}
    for i, n in enumerate(nodes):
        buffers = {owner[i]} if n.footprint.keeps_output else set()
        if n.footprint.keeps_input:
            buffers |= {owner[j] for j in n.inputs if j != MODEL_INPUT}
        held[i] = buffers - {MODEL_INPUT}
    held[len(nodes)] = {owner[-1]} - {MODEL_INPUT} if nodes and loss.keeps_scores else set()
    return held


def replay(nodes, base, loss, frees_saved=False):
    """``{"forward", "backward"}``: the peak bytes of a step's forward (the loss's included) and
    backward passes, ``base`` bytes (parameters, state, the batch) alive throughout.

    Forward: each node adds its ``forward_peak`` to what is alive when it starts, then keeps
    its output and ``kept_bytes``; a buffer is freed after its last consumer's forward
    unless a node keeps it. Backward, from the last node: dscores, then each node's
    ``backward_peak`` above its dout; its dout is freed once it has made its dx (a dx that
    is a view of dout carries dout's buffer on), two gradients of one output are summed
    into a new array; its parameter gradients stay. With ``frees_saved``, a node's kept
    arrays are freed after its backward, and so is every buffer no node still keeps.
    """
    owner = _owners(nodes)
    held = _held(nodes, owner, loss)
    holders = {}  # per buffer kept past its last use: how many nodes' kept arrays reference it
    for buffers in held.values():
        for b in buffers:
            holders[b] = holders.get(b, 0) + 1
    freed_after = {}
    for i, last in enumerate(last_uses([(None, n.inputs) for n in nodes])):
        freed_after[owner[i]] = max(freed_after.get(owner[i], last), last)
    alive = forward = base
    for i, n in enumerate(nodes):
        forward = max(forward, alive + n.footprint.forward_peak)
        if n.footprint.is_view:
            continue
        alive += n.output_bytes + n.kept_bytes
        alive -= sum(nodes[b].output_bytes for b in {owner[j] for j in n.inputs if j != MODEL_INPUT}
                     if b != MODEL_INPUT and b not in holders and freed_after[b] == i)
    scores = nodes[-1].output_bytes if nodes else 0
    forward = max(forward, alive + loss.forward * scores)
    alive += loss.kept * scores
    if nodes and owner[-1] != MODEL_INPUT and owner[-1] not in holders:
        alive -= scores  # the loss was the scores' last use

    def release(i, kept_bytes):
        """Node ``i``'s backward has run (i = len(nodes): the loss's): free what only it kept."""
        nonlocal alive
        if not frees_saved:
            return
        alive -= kept_bytes
        for b in held[i]:
            holders[b] -= 1
            alive -= nodes[b].output_bytes if not holders[b] else 0

    # the loss's backward: dscores, held by the loss, then the dout of the last node
    backward = alive + loss.backward * scores
    alive += scores
    release(len(nodes), loss.kept * scores)
    pending = {len(nodes) - 1: (scores, not loss.holds_dscores)}  # per node: (bytes of its dout, may it be freed)
    for i in reversed(range(len(nodes))):
        n = nodes[i]
        if n.training_pass == "none" or i not in pending:
            continue
        size, freeable = pending.pop(i)
        backward = max(backward, alive + n.footprint.training_backward_peak(n.training_pass))
        if (n.footprint.is_view and not n.footprint.dx_allocated) or n.footprint.grads_are_views:
            # each dx is a view of dout: the first input's carries its buffer on
            alive += 0 if n.footprint.is_view else n.param_bytes
            gradients = [(j, b, freeable and k == 0) for k, (j, b) in enumerate(zip(n.inputs, n.input_bytes))]
        else:
            alive += n.param_bytes - (size if freeable else 0)
            gradients = []
            if n.training_pass == "full":
                alive += sum(n.input_bytes)
                gradients = [(j, b, True) for j, b in zip(n.inputs, n.input_bytes)]
        for j, b, may_free in gradients:
            if j in pending:  # the two gradients are summed into a new array, then let go
                before, before_free = pending.pop(j)
                alive += b - (before if before_free else 0) - (b if may_free else 0)
                may_free = True
            pending[j] = (b, may_free)
        release(i, n.kept_bytes)
    return {"forward": forward, "backward": backward}


class MemoryModel:
    """What a memory model states beyond the replay (``summary(..., memory=name)``): each
    node's kept bytes and :class:`~tallynet.layers.base.Footprint`, the loss's arrays, the
    batch, and the optimizer update's temporaries."""

    name = None
    #: what the model describes, for the reports' headers
    description = None
    #: the reports' name for a node's kept bytes
    kept_label = None
    #: whether a node's kept arrays are freed after its backward (autograd) or at the end
    frees_saved = False

    def node(self, layer, input_shape, dtype, training_pass):
        """``(kept bytes, Footprint)`` of one node."""
        raise NotImplementedError

    def saved_line(self, layer, input_shape, dtype, training_pass):
        """A markdown line for the walkthrough saying what the node keeps for its backward, or None."""
        return None

    def loss(self, loss):
        """:class:`LossMemory` of the loss, a name of :data:`~tallynet.layers.losses.LOSS_ARRAYS`."""
        raise NotImplementedError

    def batch_bytes(self, s):
        """The bytes of the batch, alive throughout the step of :class:`Summary` ``s``."""
        raise NotImplementedError

    def update_temporaries(self, s):
        """The most bytes the optimizer update holds at once beside every parameter, gradient and state."""
        raise NotImplementedError


class TallynetMemory(MemoryModel):
    """tallynet's own NumPy kernels (``Layer.cache_bytes`` and ``Layer.footprint``; the peak
    ``tallynet profile`` measures with tracemalloc)."""

    name = "tallynet"
    description = "tallynet's own NumPy kernels"
    kept_label = "Extra forward caches (im2col columns, masks, ...)"

    def node(self, layer, input_shape, dtype, training_pass):
        itemsize = dtype.itemsize
        return layer.cache_bytes(input_shape, itemsize), layer.footprint(input_shape, itemsize)

    def loss(self, loss):
        return LossMemory(backward=LOSS_ARRAYS[loss])

    def batch_bytes(self, s):
        # the inputs, and mse's targets of the scores' shape (class labels are left out)
        return s.input_bytes + (s.layers[-1].activation_bytes if s.layers and s.loss == "mse" else 0)

    def update_temporaries(self, s):
        # the rule's temporaries (param - lr * grad, ...) of the largest parameter
        return optim.UPDATE_TEMPORARIES[s.optimizer] * max((l.largest_param_bytes for l in s.layers), default=0)


TALLYNET = TallynetMemory()
