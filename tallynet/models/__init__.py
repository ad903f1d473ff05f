"""Models: the course's FullyConnectedNet, layer lists (Sequential), specs and presets."""

from .fcnet import FullyConnectedNet
from .presets import PRESETS, preset, resolve_spec
from .sequential import Sequential
from .spec import SpecError, from_spec, load_spec

__all__ = ["FullyConnectedNet", "Sequential", "from_spec", "load_spec", "preset", "PRESETS", "resolve_spec", "SpecError"]
