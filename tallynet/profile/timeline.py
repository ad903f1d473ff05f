"""The memory of a measured training step pass by pass, at the points of the cost model's
replay (:mod:`tallynet.cost.replay`): what ``tallynet profile --plot`` draws."""

import tracemalloc

from ..cost.replay import Point
from ..layers.losses import LOSSES
from ..models.graph import run_backward, run_forward


class Timeline:
    """The measured step, pass by pass (tracing must be on): hooks that record, when each pass
    returns, the NumPy bytes alive and the pass's peak, as :class:`~tallynet.cost.replay.Point`
    s at the replay's points. The peak tracemalloc saw between passes (the executor's own
    work: summing gradients) is kept too, so :attr:`peak` is the whole step's."""

    def __init__(self, model, alive):
        self.model, self.points = model, []
        self.offset = alive - tracemalloc.get_traced_memory()[0]  # traced now -> alive bytes
        self.peak = alive
        self.add("start", -1, lambda: None)

    def add(self, phase, index, fn):
        """Run ``fn`` (one pass) and record its point; returns what ``fn`` returns."""
        self.peak = max(self.peak, self.offset + tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()
        result = fn()
        current, peak = tracemalloc.get_traced_memory()
        name = self.model.node_names[index] if index >= 0 else phase
        self.points.append(Point(phase, index, name, self.offset + peak, self.offset + current))
        self.peak = max(self.peak, self.offset + peak)
        tracemalloc.reset_peak()
        return result

    def update(self, rule):
        """``rule(name, w, dw)`` as an ``update`` for ``train_step`` whose first call starts the
        update's point: its peak then counts from the end of the backward, as the replay's does."""
        started = []

        def update(name, w, dw):
            if not started:
                started.append(True)
                self.peak = max(self.peak, self.offset + tracemalloc.get_traced_memory()[1])
                tracemalloc.reset_peak()
            return rule(name, w, dw)
        return update

    def hooks(self):
        """The ``model.loss`` hooks that run each pass through :meth:`add`."""
        def forward(phase):
            return lambda i, layer, x, params, mode: self.add(phase, i, lambda: run_forward(i, layer, x, params, mode))
        return {"forward_hook": forward("forward"), "recompute_hook": forward("recompute"),
                "backward_hook": lambda i, layer, dout, cache, pass_: self.add(
                    "backward", i, lambda: run_backward(i, layer, dout, cache, pass_)),
                "loss_hook": lambda scores, y: self.add("loss", -1, lambda: LOSSES[self.model.loss_name](scores, y))}
