"""torch.nn modules as tallynet layers: a handler per module class.

A handler ``(walk, module, x) -> Tensor`` checks that the tallynet layer computes what the
module computes (a padding mode, a dilation, ``count_include_pad``...) and refuses by name what
it does not, then adds the node with the module's tensors under tallynet's local names (a
Linear's weight transposed: tallynet's affine W is (in, out)). A module that computes nothing
(Identity, Dropout with p = 0, Flatten of a batch already flat) adds no node: its output is its input.
"""

from torch import nn

from .walk import Refused


def _one(name, value):
    """An int from ``value`` or from a pair of equal ints (PyTorch's per-axis form)."""
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise Refused(f"{name}={tuple(value)} differs between the axes; tallynet's layers take one {name} "
                          "for both")
        value = value[0]
    return int(value)


def _kernel(value):
    """A kernel size in spec form: k, or [kh, kw]."""
    if isinstance(value, (tuple, list)):
        return int(value[0]) if value[0] == value[1] else [int(v) for v in value]
    return int(value)


def _without_defaults(fields, defaults):
    return {k: v for k, v in fields.items() if k not in defaults or defaults[k] != v}


def _zero_padding(m):
    if m.padding_mode != "zeros":
        raise Refused(f"padding_mode={m.padding_mode!r}: tallynet's convolutions pad with zeros only")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return 0
        # "same" with stride 1: (d (k - 1)) / 2 on each side, when that is a whole number
        spans = {m.dilation[i] * (m.kernel_size[i] - 1) for i in range(2)}
        if len(spans) != 1 or spans.pop() % 2:
            raise Refused(f"padding='same' with kernel {m.kernel_size} and dilation {m.dilation} pads the two "
                          "sides unequally; tallynet pads both sides alike")
        return m.dilation[0] * (m.kernel_size[0] - 1) // 2
    return _one("padding", m.padding)


def conv2d(walk, m, x):
    fields = _without_defaults({"filters": m.out_channels, "kernel": _kernel(m.kernel_size),
                                "stride": _one("stride", m.stride), "pad": _zero_padding(m),
                                "bias": m.bias is not None, "groups": m.groups,
                                "dilation": _one("dilation", m.dilation)},
                               {"stride": 1, "pad": 0, "bias": True, "groups": 1, "dilation": 1})
    return walk.layer("conv", fields, [x], params=_weight_and_bias(m))


def conv_transpose2d(walk, m, x):
    for name, value, default in (("output_padding", m.output_padding, (0, 0)), ("groups", m.groups, 1),
                                 ("dilation", m.dilation, (1, 1))):
        if value != default:
            raise Refused(f"{name}={value}: tallynet's conv_transpose has {name} {default} only")
    fields = _without_defaults({"filters": m.out_channels, "kernel": _kernel(m.kernel_size),
                                "stride": _one("stride", m.stride), "pad": _zero_padding(m),
                                "bias": m.bias is not None}, {"stride": 1, "pad": 0, "bias": True})
    return walk.layer("conv_transpose", fields, [x], params=_weight_and_bias(m))  # W: (C_in, C_out, kh, kw) in both


def _weight_and_bias(m):
    return {"W": m.weight, **({"b": m.bias} if m.bias is not None else {})}


def linear(walk, m, x):
    x = walk.tensor(x, "Linear's input")
    if len(x.shape) != 2:
        raise Refused(f"Linear on an input of shape {x.shape}: tallynet's affine layer takes (N, features); "
                      "flatten the input first")
    if m.bias is None:
        raise Refused("Linear(bias=False): tallynet's affine layer always has a bias")
    return walk.layer("affine", {"units": m.out_features}, [x], params={"W": m.weight.T, "b": m.bias})


def _check_affine(m, what):
    if not getattr(m, "affine", getattr(m, "elementwise_affine", True)) or getattr(m, "bias", True) is None:
        raise Refused(f"{what} without its learnable scale and shift: tallynet's has both")


def batchnorm(walk, m, x):
    _check_affine(m, type(m).__name__)
    if not m.track_running_stats or m.momentum is None:
        raise Refused(f"{type(m).__name__}(track_running_stats={m.track_running_stats}, momentum={m.momentum}): "
                      "tallynet's batchnorm keeps exponential running averages (a momentum in [0, 1])")
    # tallynet's momentum weighs the running average: 1 - PyTorch's, which weighs the new statistic
    fields = _without_defaults({"eps": m.eps, "momentum": 1 - m.momentum}, {"eps": 1e-5, "momentum": 0.9})
    return walk.layer("batchnorm", fields, [x], params={"gamma": m.weight, "beta": m.bias},
                      state={"running_mean": m.running_mean, "running_var": m.running_var})


def layernorm(walk, m, x):
    x = walk.tensor(x, "LayerNorm's input")
    _check_affine(m, "LayerNorm")
    if len(x.shape) != 2 or tuple(m.normalized_shape) != x.shape[1:]:
        raise Refused(f"LayerNorm{tuple(m.normalized_shape)} on an input of shape {x.shape}: tallynet's layernorm "
                      "normalizes (N, D) features over D")
    return walk.layer("layernorm", _without_defaults({"eps": m.eps}, {"eps": 1e-5}), [x],
                      params={"gamma": m.weight, "beta": m.bias})


def groupnorm(walk, m, x):
    _check_affine(m, "GroupNorm")
    return walk.layer("groupnorm", _without_defaults({"groups": m.num_groups, "eps": m.eps}, {"eps": 1e-5}), [x],
                      params={"gamma": m.weight, "beta": m.bias})


def activation(kind, **fields):
    """A handler for an activation module with no settings (or fixed ones)."""
    def handler(walk, m, x, *_):
        return walk.layer(kind, fields, [x])
    return handler


def leaky_relu(walk, m, x):
    return walk.layer("leaky_relu", {"negative_slope": m.negative_slope}, [x])


def gelu(walk, m, x):
    if m.approximate != "none":
        raise Refused(f"GELU(approximate={m.approximate!r}): tallynet's gelu is the exact erf form")
    return walk.layer("gelu", {}, [x])


def hardtanh(walk, m, x):
    if (m.min_val, m.max_val) != (0.0, 6.0):
        raise Refused(f"Hardtanh({m.min_val}, {m.max_val}): tallynet has relu6, Hardtanh(0, 6), only")
    return walk.layer("relu6", {}, [x])


def _pool_fields(kernel, stride, padding, ceil_mode):
    return _without_defaults({"kernel": _kernel(kernel), "stride": _one("stride", stride if stride else kernel),
                              "pad": _one("padding", padding), "ceil_mode": bool(ceil_mode)},
                             {"pad": 0, "ceil_mode": False})


def maxpool(walk, m, x):
    if _one("dilation", m.dilation) != 1 or m.return_indices:
        raise Refused("MaxPool2d with dilation or return_indices: tallynet's maxpool has neither")
    return walk.layer("maxpool", _pool_fields(m.kernel_size, m.stride, m.padding, m.ceil_mode), [x])


def avgpool(walk, m, x):
    if not m.count_include_pad or m.divisor_override is not None:
        raise Refused("AvgPool2d(count_include_pad=False) or with divisor_override: tallynet's avgpool divides "
                      "by the window's size, padding included")
    return walk.layer("avgpool", _pool_fields(m.kernel_size, m.stride, m.padding, m.ceil_mode), [x])


def adaptive_output_size(x, output_size):
    """An adaptive pool's output size in spec form; None keeps the input's size on that axis."""
    sizes = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size] * 2
    sizes = [int(x.shape[2 + i] if s is None else s) for i, s in enumerate(sizes)]
    return sizes[0] if sizes[0] == sizes[1] else sizes


def adaptive_avgpool(walk, m, x):
    x = walk.tensor(x, "AdaptiveAvgPool2d's input")
    return walk.layer("adaptive_avgpool", {"output_size": adaptive_output_size(x, m.output_size)}, [x])


def dropout(walk, m, x):
    # keep is tallynet's keep probability, 1 - PyTorch's p; p = 0 computes nothing
    return x if m.p == 0 else walk.layer("dropout", {"keep": 1 - m.p}, [x])


def flatten(walk, m, x):
    from .operations import flatten as flatten_function
    return flatten_function(walk, x, m.start_dim, m.end_dim)


def identity(walk, m, x, *_, **__):
    return x


def upsample(walk, m, x):
    from .operations import interpolate
    return interpolate(walk, x, m.size, m.scale_factor, m.mode, m.align_corners)


def channel_shuffle(walk, m, x):
    return walk.layer("channel_shuffle", {"groups": m.groups}, [x])


MODULES = {
    nn.Conv2d: conv2d, nn.ConvTranspose2d: conv_transpose2d, nn.Linear: linear,
    nn.BatchNorm1d: batchnorm, nn.BatchNorm2d: batchnorm, nn.LayerNorm: layernorm, nn.GroupNorm: groupnorm,
    nn.ReLU: activation("relu"), nn.ReLU6: activation("relu6"), nn.Hardtanh: hardtanh, nn.LeakyReLU: leaky_relu,
    nn.Sigmoid: activation("sigmoid"), nn.Tanh: activation("tanh"), nn.Hardswish: activation("hardswish"),
    nn.Hardsigmoid: activation("hardsigmoid"), nn.SiLU: activation("silu"), nn.GELU: gelu,
    nn.MaxPool2d: maxpool, nn.AvgPool2d: avgpool, nn.AdaptiveAvgPool2d: adaptive_avgpool,
    nn.Dropout: dropout, nn.Flatten: flatten, nn.Identity: identity, nn.Upsample: upsample,
    nn.ChannelShuffle: channel_shuffle,
}
