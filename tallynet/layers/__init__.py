"""The functional layer API of seed 002 (``x_forward(...) -> (out, cache)``,
``x_backward(dout, cache)``) and the layer objects that models compose.

One module per layer family; each holds the kernels and the layer class together,
and each class registers its type (``kind``) in :data:`LAYER_TYPES` when defined.
"""

from .activations import *  # noqa: F401,F403
from .adaptive_pooling import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .affine import *  # noqa: F401,F403
from .base import REGISTRY, CostNotStated, Footprint, Layer
from .batchnorm import *  # noqa: F401,F403
from .channels import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .im2col import col2im, im2col
from .losses import LOSSES, mse_loss, softmax_loss, svm_loss
from .normalization import *  # noqa: F401,F403
from .merge import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .reshape import *  # noqa: F401,F403
from .smooth_activations import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403

#: layer classes by the type name a spec file uses (``conv``, ``relu``, ...): the registry
#: every ``Layer`` subclass with a ``kind`` joins when it is defined
LAYER_TYPES = REGISTRY
