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


# torchvision's googlenet() builds the two auxiliary heads unless told not to (its published
# num_params and _ops are without them); init_weights=False skips its truncated-normal initialisation
REFERENCE_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": False}}


def reference(name, meta=False):
    """torchvision's model ``name`` (weights=None), as the tests compare it; on the meta device
    (shapes only) when ``meta``: built there, or built and moved there where the builder needs
    real tensors (RegNet computes its widths with ``tolist()``)."""
    import torch

    models = torchvision_models()
    make = getattr(models, name)
    if not meta:
        return make(**REFERENCE_KWARGS.get(name, {}))
    try:
        with torch.device("meta"):
            return make(**REFERENCE_KWARGS.get(name, {}))
    except NotImplementedError:
        return make(**REFERENCE_KWARGS.get(name, {})).to("meta")


def randomised_batchnorm(model):
    """``model`` with its batchnorm running statistics and scales drawn away from 0 and 1 (in
    place), so that a wrong mapping of them, or a wrong eps, shows in the outputs."""
    import torch

    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            for tensor, (low, high) in ((m.running_mean, (-0.5, 0.5)), (m.running_var, (0.5, 1.5)),
                                        (m.weight.data, (0.5, 1.5)), (m.bias.data, (-0.2, 0.2))):
                tensor.uniform_(low, high)
    return model


def flop_counter_mode(name, input_requires_grad, model=None):
    """FlopCounterMode's forward and backward FLOPs of torchvision's model on a 1x3x224x224
    input, on the meta device (shapes only, as tallynet's summary); ``model``: that model, if
    already built there."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = reference(name, meta=True) if model is None else model
    x = torch.empty(1, 3, 224, 224, requires_grad=input_requires_grad, device="meta")
    with FlopCounterMode(display=False) as forward:
        out = model(x)
    with FlopCounterMode(display=False) as backward:
        out.sum().backward()
    return forward.get_total_flops(), backward.get_total_flops()


def grouped_weight_gradient_excess(s):
    """What FlopCounterMode adds to the backward of grouped convolutions: its formula for the
    weight gradient of a convolution with g groups counts the full (C_in x C_out) product, g
    times the (C_in/g x C_out/g) products per group that are computed. tallynet counts these."""
    return sum((l.layer.groups - 1) * l.flops.backward_params.total for l in s.layers
               if l.type == "conv" and l.layer.groups > 1)
