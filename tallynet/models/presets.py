"""Named specs of well-known networks. ``preset(name)`` builds one; ``PRESETS[name]`` is its spec.

The YAML files in ``examples/`` hold the same specs for people to copy; a test
keeps them equal.
"""

import copy
import os

from .spec import from_spec
from .zoo import zoo


def _conv_block(filters):
    return [{"conv": {"filters": filters, "kernel": 3, "stride": 1, "pad": 1}},
            "batchnorm", "relu", {"maxpool": {"kernel": 2, "stride": 2}}]



PRESETS = {
    # Seed 001: three conv-batchnorm-relu-maxpool blocks, global average pooling, one affine layer.
    "seed-cnn": {
        "name": "seed-cnn",
        "description": "Seed 001's 3-block CNN for 32x32 RGB images",
        "input": [3, 32, 32],
        "batch": 32,
        "layers": _conv_block(32) + _conv_block(64) + _conv_block(128) + ["global_avgpool", {"affine": {"units": 10}}],
        "loss": "softmax",
    },
    # Seed 003, Q1: a 4x4 convolution (no bias, as the homework counts it), ReLU and a 3x3 max pool.
    "homework3-q1": {
        "name": "homework3-q1",
        "description": "Seed 003's Q1 network: 14x14x30 input, 12 filters 4x4 pad 1 stride 2, ReLU, 3x3 max pool stride 2",
        "input": [30, 14, 14],
        "batch": 1,
        "layers": [{"conv": {"filters": 12, "kernel": 4, "stride": 2, "pad": 1, "bias": False}}, "relu",
                   {"maxpool": {"kernel": 3, "stride": 2}}, {"affine": {"units": 10}}],
        "loss": "softmax",
    },
    "lenet5": {
        "name": "lenet5",
        "description": "LeNet-5 on 32x32 grey images (ReLU and max pooling)",
        "input": [1, 32, 32],
        "batch": 1,
        "layers": [{"conv": {"filters": 6, "kernel": 5}}, "relu", {"maxpool": {"kernel": 2, "stride": 2}},
                   {"conv": {"filters": 16, "kernel": 5}}, "relu", {"maxpool": {"kernel": 2, "stride": 2}},
                   {"affine": {"units": 120}}, "relu", {"affine": {"units": 84}}, "relu", {"affine": {"units": 10}}],
        "loss": "softmax",
    },
}


PRESETS.update(zoo())


def resolve_spec(spec):
    """A preset name as (a copy of) its spec dict; anything else, or a name that is also an
    existing file, unchanged: so every command takes a preset name or a spec path."""
    if isinstance(spec, str) and spec in PRESETS and not os.path.exists(spec):
        return copy.deepcopy(PRESETS[spec])
    return spec


def read_spec(spec):
    """A preset's or a YAML file's spec as a dict (a dict as it is); a name that is neither is
    refused, naming the presets."""
    from .spec import load_spec

    spec = resolve_spec(spec)
    if isinstance(spec, (str, os.PathLike)) and not os.path.exists(spec):
        raise ValueError(f"spec {spec!r} is neither a file nor a preset name; expected a YAML spec file or one "
                         f"of {', '.join(sorted(PRESETS))}")
    return load_spec(os.fspath(spec)) if isinstance(spec, (str, os.PathLike)) else spec


def with_input(spec, input_shape):
    """A copy of ``spec`` (a dict, a YAML path or a preset name) with one sample of ``input_shape``."""
    from .spec import load_spec

    spec = resolve_spec(spec)
    spec = copy.deepcopy(spec) if isinstance(spec, dict) else load_spec(os.fspath(spec))
    spec["input"] = [int(d) for d in input_shape]
    return spec


def preset(name, **kwargs):
    """Build the preset network ``name`` (``dtype=`` and ``seed=`` pass to :func:`from_spec`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(sorted(PRESETS))}")
    return from_spec(copy.deepcopy(PRESETS[name]), **kwargs)
