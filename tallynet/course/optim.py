"""``cs231n.optim``: the update rules of :mod:`tallynet.optim`."""

from ..optim import adam, rmsprop, sgd, sgd_momentum

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam"]
