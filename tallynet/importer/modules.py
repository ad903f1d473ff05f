"""torch.nn modules as tallynet layers: a handler per module class.

A handler ``(walk, module, x) -> Tensor`` checks that the tallynet layer computes what the
module computes (a padding mode, a dilation, ``count_include_pad``...) and refuses by name what
it does not, then adds the node with the module's tensors under tallynet's local names (a
Linear's weight transposed: tallynet's affine W is (in, out)). A module that computes nothing
(Identity, Dropout with p = 0, Flatten of a batch already flat) adds no node: its output is its input.
A module with a functional form (activations, pooling, dropout, upsampling) is handled as that
function with the module's settings (:mod:`.operations`).
"""

from torch import nn

from . import operations as op
from .operations import both_axes, kernel_field, without_defaults
from .walk import Refused


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
    return both_axes("padding", m.padding)


def conv2d(walk, m, x):
    fields = without_defaults({"filters": m.out_channels, "kernel": kernel_field(m.kernel_size),
                                "stride": both_axes("stride", m.stride), "pad": _zero_padding(m),
                                "bias": m.bias is not None, "groups": m.groups,
                                "dilation": both_axes("dilation", m.dilation)},
                               {"stride": 1, "pad": 0, "bias": True, "groups": 1, "dilation": 1})
    return walk.layer("conv", fields, [x], params=_weight_and_bias(m))


def conv_transpose2d(walk, m, x):
    for name, value, default in (("output_padding", m.output_padding, (0, 0)), ("groups", m.groups, 1),
                                 ("dilation", m.dilation, (1, 1))):
        if value != default:
            raise Refused(f"{name}={value}: tallynet's conv_transpose has {name} {default} only")
    fields = without_defaults({"filters": m.out_channels, "kernel": kernel_field(m.kernel_size),
                                "stride": both_axes("stride", m.stride), "pad": _zero_padding(m),
                                "bias": m.bias is not None}, {"stride": 1, "pad": 0, "bias": True})
    return walk.layer("conv_transpose", fields, [x], params=_weight_and_bias(m))  # W: (C_in, C_out, kh, kw) in both


def _weight_and_bias(m):
    return {"W": m.weight, **({"b": m.bias} if m.bias is not None else {})}


def linear(walk, m, x):
    x = walk.tensor(x, "Linear's input")
    if m.bias is None:
        raise Refused("Linear(bias=False): tallynet's affine layer always has a bias")
    # on (N, D) features as tallynet's affine always was; on (N, L, D) tokens over the last axis
    fields = {"units": m.out_features, **({"flatten": False} if len(x.shape) > 2 else {})}
    return walk.layer("affine", fields, [x], params={"W": m.weight.T, "b": m.bias})


def multihead_attention(walk, m, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                        average_attn_weights=True, is_causal=False):
    if not (query is key is value) or key_padding_mask is not None or attn_mask is not None or is_causal:
        raise Refused("MultiheadAttention other than self-attention without masks (x, x, x): tallynet's "
                      "multihead_attention attends the tokens to themselves")
    if not m.batch_first or not m._qkv_same_embed_dim or m.in_proj_bias is None or m.bias_k is not None:
        raise Refused("MultiheadAttention without batch_first, with kdim / vdim, add_bias_kv or bias=False: "
                      "tallynet's is nn.MultiheadAttention(D, heads, batch_first=True)")
    if m.dropout:
        raise Refused(f"MultiheadAttention(dropout={m.dropout}): tallynet's has no dropout of the attention weights")
    out = walk.layer("multihead_attention", {"heads": m.num_heads}, [query],
                     params={"in_proj_weight": m.in_proj_weight, "in_proj_bias": m.in_proj_bias,
                             "out_proj.weight": m.out_proj.weight, "out_proj.bias": m.out_proj.bias})
    return out, None  # PyTorch's (output, attention weights); need_weights=False gives None


def _check_affine(m, what):
    if not getattr(m, "affine", getattr(m, "elementwise_affine", True)) or getattr(m, "bias", True) is None:
        raise Refused(f"{what} without its learnable scale and shift: tallynet's has both")


def batchnorm(walk, m, x):
    _check_affine(m, type(m).__name__)
    if not m.track_running_stats or m.momentum is None:
        raise Refused(f"{type(m).__name__}(track_running_stats={m.track_running_stats}, momentum={m.momentum}): "
                      "tallynet's batchnorm keeps exponential running averages (a momentum in [0, 1])")
    # tallynet's momentum weighs the running average: 1 - PyTorch's, which weighs the new statistic
    fields = without_defaults({"eps": m.eps, "momentum": 1 - m.momentum}, {"eps": 1e-5, "momentum": 0.9})
    return walk.layer("batchnorm", fields, [x], params={"gamma": m.weight, "beta": m.bias},
                      state={"running_mean": m.running_mean, "running_var": m.running_var})


def layernorm(walk, m, x):
    x = walk.tensor(x, "LayerNorm's input")
    _check_affine(m, "LayerNorm")
    if len(x.shape) not in (2, 3) or tuple(m.normalized_shape) != x.shape[-1:]:
        raise Refused(f"LayerNorm{tuple(m.normalized_shape)} on an input of shape {x.shape}: tallynet's layernorm "
                      "normalizes (N, D) features or (N, L, D) tokens over D")
    return walk.layer("layernorm", without_defaults({"eps": m.eps}, {"eps": 1e-5}), [x],
                      params={"gamma": m.weight, "beta": m.bias})


def groupnorm(walk, m, x):
    _check_affine(m, "GroupNorm")
    return walk.layer("groupnorm", without_defaults({"groups": m.num_groups, "eps": m.eps}, {"eps": 1e-5}), [x],
                      params={"gamma": m.weight, "beta": m.bias})


# --- modules whose functional form maps them: the module's settings are the function's arguments ---
def _settings(function, *attributes):
    """The handler of a module computing ``function(x, module.a, module.b, ...)``."""
    def handler(walk, m, x, *_):
        return function(walk, x, *(getattr(m, a) for a in attributes))
    return handler


def identity(walk, m, x, *_, **__):
    return x


MODULES = {
    nn.Conv2d: conv2d, nn.ConvTranspose2d: conv_transpose2d, nn.Linear: linear,
    nn.MultiheadAttention: multihead_attention,
    nn.BatchNorm1d: batchnorm, nn.BatchNorm2d: batchnorm, nn.LayerNorm: layernorm, nn.GroupNorm: groupnorm,
    nn.ReLU: _settings(op.RELU), nn.ReLU6: _settings(op.RELU6),
    nn.Hardtanh: _settings(op.hardtanh, "min_val", "max_val"),
    nn.LeakyReLU: _settings(op.leaky_relu, "negative_slope"),
    nn.Sigmoid: _settings(op.SIGMOID), nn.Tanh: _settings(op.TANH), nn.Hardswish: _settings(op.HARDSWISH),
    nn.Hardsigmoid: _settings(op.HARDSIGMOID),
    nn.SiLU: _settings(op.SILU), nn.GELU: _settings(op.gelu, "approximate"),
    nn.MaxPool2d: _settings(op.max_pool2d, "kernel_size", "stride", "padding", "dilation", "ceil_mode",
                            "return_indices"),
    nn.AvgPool2d: _settings(op.avg_pool2d, "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                            "divisor_override"),
    nn.AdaptiveAvgPool2d: _settings(op.adaptive_avg_pool2d, "output_size"), nn.Dropout: _settings(op.dropout, "p"),
    nn.Flatten: _settings(op.flatten, "start_dim", "end_dim"), nn.Identity: identity,
    nn.Upsample: _settings(op.interpolate, "size", "scale_factor", "mode", "align_corners"),
    nn.ChannelShuffle: _settings(op.channel_shuffle, "groups"),
}
