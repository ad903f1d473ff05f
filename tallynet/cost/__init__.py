"""The cost model: per-layer shapes, parameters, memory and FLOPs under named conventions."""

from ..counts import KINDS, LayerFlops, Ops
from .conventions import CONVENTIONS, EXACT, MACS, TORCH, WALKTHROUGH, Convention, get_convention, register
from .summary import Summary, summary

__all__ = ["summary", "Summary", "Convention", "CONVENTIONS", "EXACT", "WALKTHROUGH", "MACS", "TORCH",
           "get_convention", "register", "Ops", "LayerFlops", "KINDS"]
