"""``cs231n.solver``: :class:`tallynet.solver.Solver` (the course's arguments, by keyword).

It draws its minibatches from a generator of its own (``seed=``), not from NumPy's global one.
"""

from ..solver import Solver

__all__ = ["Solver"]
