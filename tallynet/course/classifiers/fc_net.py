"""``cs231n.classifiers.fc_net``: the course's fully connected nets.

As the course's module, a star import also brings the layers and sandwich layers
(the course's fc_net does ``from ..layers import *`` and ``from ..layer_utils import *``).
"""

from ...models import fcnet
from ...models.fcnet import TwoLayerNet
from ..layer_utils import *  # noqa: F401,F403
from ..layer_utils import __all__ as _layer_utils
from ..layers import *  # noqa: F401,F403
from ..layers import __all__ as _layers


class FullyConnectedNet(fcnet.FullyConnectedNet):
    """:class:`tallynet.models.FullyConnectedNet`, which also takes ``dropout``, the name the
    course's 2019 version gives ``dropout_keep_ratio`` (the keep probability in both; the
    2017 version's ``dropout`` was a drop probability, which this does not read)."""

    def __init__(self, hidden_dims, *args, dropout=None, **kwargs):
        if dropout is not None:
            if "dropout_keep_ratio" in kwargs or len(args) >= 3:
                raise TypeError("give dropout or dropout_keep_ratio, not both")
            kwargs["dropout_keep_ratio"] = dropout
        super().__init__(hidden_dims, *args, **kwargs)


__all__ = ["FullyConnectedNet", "TwoLayerNet", *_layers, *_layer_utils]
