"""Models: graphs of layers (Graph), layer lists (Sequential), the course's FullyConnectedNet, TwoLayerNet and
ThreeLayerConvNet, specs and presets."""

from .cnn import ThreeLayerConvNet
from .fcnet import FullyConnectedNet, TwoLayerNet
from .graph import Graph
from .presets import PRESETS, preset, resolve_spec, with_input
from .sequential import Sequential
from .spec import SpecError, from_spec, load_spec

__all__ = ["FullyConnectedNet", "TwoLayerNet", "ThreeLayerConvNet", "Graph", "Sequential", "from_spec", "load_spec",
           "preset", "PRESETS", "resolve_spec", "with_input", "SpecError"]
