"""``cs231n.classifiers``: the course's models."""

from .cnn import ThreeLayerConvNet
from .fc_net import FullyConnectedNet, TwoLayerNet

__all__ = ["FullyConnectedNet", "TwoLayerNet", "ThreeLayerConvNet"]
