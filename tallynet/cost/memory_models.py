"""Memory models: what the step replay (:mod:`tallynet.cost.replay`) is told of each node, the
loss, the batch and the update. ``tallynet`` describes tallynet's own kernels (the default);
``torch`` (:mod:`tallynet.cost.torch_memory`) a PyTorch CPU training step of the same network.
"""

from dataclasses import dataclass

from .. import optim
from ..layers.losses import LOSS_ARRAYS


@dataclass(frozen=True)
class LossMemory:
    """The loss's arrays, in multiples of the scores' bytes."""

    forward: int = 0         # held at once by the loss's forward pass
    kept: int = 0            # of those, kept for its backward
    backward: int = 0        # held at once by its backward pass, dscores included
    keeps_scores: bool = True  # whether the scores stay alive until the loss's backward
    holds_dscores: bool = True  # whether dscores stays alive to the end (tallynet's loss returns it)


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
    kept_label = "Extra forward caches (padded inputs, masks, ...)"

    def node(self, layer, input_shape, dtype, training_pass):
        itemsize = dtype.itemsize
        return layer.cache_bytes(input_shape, itemsize), layer.footprint(input_shape, itemsize)

    def loss(self, loss):
        return LossMemory(backward=LOSS_ARRAYS[loss])

    def batch_bytes(self, s):
        # the inputs, and mse's targets of the scores' shape (class labels are left out)
        return s.input_bytes + (s.layers[-1].activation_bytes if s.layers and s.loss == "mse" else 0)

    def update_temporaries(self, s):
        # tallynet.step.train_step computes every new parameter before it commits any, so when
        # a parameter is updated the new ones before it are held too: the peak is the largest
        # (new parameters so far + the rule's temporaries of this one, param - lr * grad, ...),
        # each layer's largest parameter taken as its last
        temporaries = optim.UPDATE_TEMPORARIES[s.optimizer]
        held, peak = 0, 0
        for l in s.layers:
            peak = max(peak, held + l.param_bytes - l.largest_param_bytes + temporaries * l.largest_param_bytes)
            held += l.param_bytes
        return peak


TALLYNET = TallynetMemory()
