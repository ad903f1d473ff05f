"""``cs231n.classifiers.cnn``: the course's ThreeLayerConvNet (a star import also brings the
layers, fast layers and sandwich layers, as the course's module does)."""

from ...models.cnn import ThreeLayerConvNet
from ..fast_layers import *  # noqa: F401,F403
from ..fast_layers import __all__ as _fast_layers
from ..layer_utils import *  # noqa: F401,F403
from ..layer_utils import __all__ as _layer_utils
from ..layers import *  # noqa: F401,F403
from ..layers import __all__ as _layers

__all__ = ["ThreeLayerConvNet", *_layers, *_fast_layers, *_layer_utils]
