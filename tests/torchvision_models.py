"""torchvision's model definitions, for tests that compare tallynet's presets with them.

PyPI's torchvision wheel is built for the CUDA build of torch: beside the CPU torch 2.13.0
its compiled operators fail to register (``operator torchvision::nms does not exist``) when
``torchvision._meta_registrations`` is imported. The model definitions are pure Python and
need none of them, so that module is replaced by an empty one before torchvision is
imported. No weights are used (nothing can be downloaded here): only the architectures,
their parameter counts and the published metadata (``_ops``, ``num_params``).
"""

import sys
import types

import pytest


def torchvision_models():
    """``torchvision.models``, or skip the test where torch or torchvision is not installed."""
    pytest.importorskip("torch")
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    try:
        import torchvision.models
    except ImportError as err:  # not installed, or a torchvision that needs more than the stub
        pytest.skip(f"torchvision's model definitions do not import: {err}")
    return torchvision.models
