"""One training step, the one the Solver, the profiler, ``tallynet bench`` and the
benchmarks all run: forward, loss and backward (``model.loss(X, y)``), then an update
of every parameter.
"""

import math

import numpy as np

from . import optim


class NonFiniteStep(FloatingPointError):
    """The loss or an updated parameter is NaN or infinite; no parameter was changed."""


def train_step(model, X, y, update, check_finite=True, **hooks):
    """Run one step on the batch ``(X, y)``; returns the loss as a float.

    - update: ``update(name, w, dw) -> next_w`` for each parameter; every update is
      computed before any is committed, so an exception (or a non-finite result) leaves
      ``model.params`` as it was
    - check_finite: raise :class:`NonFiniteStep` when the loss or an updated parameter
      is not finite (before anything is committed)
    - hooks: ``forward_hook``, ``backward_hook``, ``loss_hook`` for ``model.loss`` (see
      :meth:`tallynet.models.Sequential.loss`); the profiler times, counts and measures
      each pass through them
    """
    loss, grads = model.loss(X, y, **hooks) if hooks else model.loss(X, y)
    loss = float(loss)
    if check_finite and not math.isfinite(loss):
        raise NonFiniteStep(f"the loss is {loss}")
    new = {}
    for name, w in model.params.items():
        if name not in grads:
            raise ValueError(f"model.loss returned no gradient for parameter {name!r}")
        new[name] = update(name, w, grads[name])
        if check_finite and not np.isfinite(new[name]).all():
            raise NonFiniteStep(f"the update made parameter {name!r} non-finite")
    model.params.update(new)
    return loss


def rule_update(rule, config=None, configs=None):
    """An ``update(name, w, dw)`` for :func:`train_step` from an update rule of
    :mod:`tallynet.optim` (a name or a function), keeping each parameter's config (its
    velocity, moments, ...) in ``configs`` (a dict, filled from a copy of ``config``)."""
    rule = optim.get_update_rule(rule)
    configs = {} if configs is None else configs

    def update(name, w, dw):
        next_w, configs[name] = rule(w, dw, configs.get(name, dict(config or {})))
        return next_w
    update.configs = configs
    return update
