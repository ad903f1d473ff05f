"""Models: the course's FullyConnectedNet, TwoLayerNet and ThreeLayerConvNet, layer lists (Sequential), specs and presets."""

from .cnn import ThreeLayerConvNet
from .fcnet import FullyConnectedNet, TwoLayerNet
from .presets import PRESETS, preset, resolve_spec
from .sequential import Sequential
from .spec import SpecError, from_spec, load_spec

__all__ = ["FullyConnectedNet", "TwoLayerNet", "ThreeLayerConvNet", "Sequential", "from_spec", "load_spec", "preset", "PRESETS", "resolve_spec", "SpecError"]
