"""Functions and tensor methods between the modules, as tallynet nodes, and the dispatch tables.

A handler ``(walk, *args, **kwargs) -> value`` gets the fx node's arguments with every node
replaced by its value (see :mod:`.walk`). Besides one-to-one operations (``x + y`` -> ``add``,
``torch.cat(xs, 1)`` -> ``concat``, ``F.relu`` -> ``relu``, ``x.mean((2, 3))`` -> ``global_avgpool``)
it recognises patterns whose math is that of one tallynet layer:

- ``x.view(N, g, C / g, H, W)``, ``transpose(1, 2)`` (or ``permute(0, 2, 1, 3, 4)``),
  ``contiguous()``, ``view(N, C, H, W)``: ShuffleNet's channel shuffle, one ``channel_shuffle``
  node; the intermediate values are :class:`Grouped` and :class:`Shuffled`, which nothing else takes;
- ``x.chunk(k, dim=1)`` / ``x.split(s, dim=1)`` then ``[i]``: a ``channel_slice`` node per chunk used;
- ``x.view(x.size(0), -1)``, ``x.reshape(N, -1)``, ``torch.flatten(x, 1)``: ``flatten``;
- ``scale * x`` with scale (N, C, 1, 1), squeeze-and-excitation's: ``mul`` with the scale second;
- a parameter the forward reads itself (an fx ``get_attr``, an :class:`Attribute`):
  ``self.class_token.expand(N, -1, -1)`` concatenated before the tokens is a ``class_token`` node,
  ``x + self.pos_embedding`` a ``pos_embedding`` node, as torchvision's VisionTransformer writes them;
- ``x.reshape(N, ...)``, ``x.permute(0, ...)``, ``x.transpose(1, 2)`` of each sample: ``reshape`` and
  ``permute``; ``x[:, i]``: ``select``.

Anything else is refused, naming the operation.
"""

import math
import operator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .walk import BATCH, Refused, Tensor


@dataclass(frozen=True)
class Grouped:
    """A (N, C, H, W) tensor viewed as (N, g, C / g, H, W): a channel shuffle's first step."""

    tensor: Tensor
    groups: int

    @property
    def shape(self):
        N, C, H, W = self.tensor.shape
        return (N, self.groups, C // self.groups, H, W)


@dataclass(frozen=True)
class Shuffled(Grouped):
    """A :class:`Grouped` view with its two channel axes swapped: (N, C / g, g, H, W)."""

    @property
    def shape(self):
        N, g, c, H, W = super().shape
        return (N, c, g, H, W)


@dataclass(frozen=True)
class Chunks:
    """The pieces of a tensor split along the channels, ``bounds`` = ((start, stop), ...), from node ``name``."""

    tensor: Tensor
    bounds: tuple
    name: str


@dataclass(frozen=True)
class Attribute:
    """A parameter the forward reads directly (``self.class_token``, ``self.pos_embedding``), module
    path ``target``; ``expanded`` once ``expand(N, -1, -1)`` has repeated it over the batch."""

    target: str
    tensor: object
    expanded: bool = False

    @property
    def shape(self):
        return tuple(self.tensor.shape)

    @property
    def owner(self):
        """The node that holds it: its module's path (``encoder``), or its own name at the top level."""
        return self.target.rpartition(".")[0] or self.target

    @property
    def local(self):
        return self.target.rpartition(".")[2]


PARTIAL = (Grouped, Chunks, Attribute)


def _axis(dim, ndim):
    return int(dim) + ndim if dim < 0 else int(dim)


# --- fields shared with the modules' handlers ------------------------------------------------------------
def both_axes(name, value):
    """An int from ``value`` or from a pair of equal ints (PyTorch's per-axis form)."""
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise Refused(f"{name}={tuple(value)} differs between the axes; tallynet's layers take one {name} "
                          "for both")
        value = value[0]
    return int(value)


def kernel_field(value):
    """A kernel size in spec form: k, or [kh, kw]."""
    if isinstance(value, (tuple, list)):
        return int(value[0]) if value[0] == value[1] else [int(v) for v in value]
    return int(value)


def without_defaults(fields, defaults):
    return {k: v for k, v in fields.items() if k not in defaults or defaults[k] != v}


def pool_fields(kernel, stride, padding, ceil_mode):
    stride = both_axes("stride", stride if stride else kernel)  # PyTorch's default stride: the kernel
    return without_defaults({"kernel": kernel_field(kernel), "stride": stride,
                              "pad": both_axes("padding", padding), "ceil_mode": bool(ceil_mode)},
                             {"pad": 0, "ceil_mode": False})


def adaptive_output_size(x, output_size):
    """An adaptive pool's output size in spec form; None keeps the input's size on that axis."""
    sizes = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size] * 2
    sizes = [int(x.shape[2 + i] if s is None else s) for i, s in enumerate(sizes)]
    return sizes[0] if sizes[0] == sizes[1] else sizes


def _unary(kind, **fields):
    """A handler for an elementwise function with no settings (``inplace`` is ignored: the value is the same)."""
    def handler(walk, x, *_, **__):
        return walk.layer(kind, fields, [x])
    return handler


# --- merges ----------------------------------------------------------------------------------------
def add(walk, a, b, *, alpha=1, out=None):
    if alpha != 1:
        raise Refused(f"add with alpha={alpha}: tallynet's add sums its inputs")
    if isinstance(b, Attribute) and not isinstance(a, Attribute):
        a, b = b, a
    if isinstance(a, Attribute):  # tokens + a learned (1, L, D) tensor: a vision transformer's embedding
        x = walk.tensor(b, "the tokens the embedding is added to")
        return walk.learned("pos_embedding", a, x)
    return walk.layer("add", None, [walk.tensor(a, "a term of the sum"), walk.tensor(b, "a term of the sum")])


def mul(walk, a, b, out=None):
    a, b = walk.tensor(a, "a factor of the product"), walk.tensor(b, "a factor of the product")
    # tallynet's mul takes the tensor, then its broadcast scale: squeeze-excitation writes scale * x
    scale_second = _fits(a, b)
    return walk.layer("mul", None, [a, b] if scale_second or not _fits(b, a) else [b, a])


def _fits(x, scale):
    from ..layers import Mul
    try:
        Mul().output_shape([x.shape, scale.shape])
        return True
    except ValueError:
        return False


def cat(walk, tensors, dim=0, *, out=None):
    if len(tensors) == 2 and isinstance(tensors[0], Attribute) and tensors[0].expanded and _axis(dim, 3) == 1:
        # a learned (1, 1, D) token repeated over the batch before the tokens: the class token
        return walk.learned("class_token", tensors[0], walk.tensor(tensors[1], "the tokens after the class token"))
    tensors = [walk.tensor(t, "a concatenated tensor") for t in tensors]
    if _axis(dim, len(tensors[0].shape)) != 1:
        raise Refused(f"concatenation along dim {dim}: tallynet's concat joins along the channels (dim 1)")
    return tensors[0] if len(tensors) == 1 else walk.layer("concat", None, tensors)


# --- shapes ----------------------------------------------------------------------------------------
def _shape_of(value):
    if isinstance(value, (Tensor, Grouped)):
        return value.shape
    raise Refused(f"the shape of {value!r}")


def size(walk, x, dim=None):
    shape = _shape_of(x)
    return tuple(shape) if dim is None else shape[dim]


def dim(walk, x):
    return len(_shape_of(x))


def getattr_(walk, x, name):
    if name == "shape":
        return tuple(_shape_of(x))
    if name == "ndim":
        return len(_shape_of(x))
    raise Refused(f"the tensor attribute {name!r}: only shapes (shape, ndim, size()) are read from a traced tensor")


def flatten(walk, x, start_dim=0, end_dim=-1):
    x = walk.tensor(x, "flatten's input")
    n = len(x.shape)
    if _axis(start_dim, n) != 1 or _axis(end_dim, n) != n - 1:
        raise Refused(f"flatten(start_dim={start_dim}, end_dim={end_dim}) of shape {x.shape}: tallynet flattens "
                      "(N, ...) to (N, features) only")
    return x if n == 2 else walk.layer("flatten", None, [x])


def squeeze(walk, x, dim=None):
    x = walk.tensor(x, "the squeezed tensor")
    dims = range(1, len(x.shape)) if dim is None else dim if isinstance(dim, (tuple, list)) else [dim]
    dropped = {_axis(d, len(x.shape)) for d in dims if x.shape[_axis(d, len(x.shape))] == 1}
    if len(x.shape) - len(dropped) != 2 or dropped != set(range(2, len(x.shape))):
        raise Refused(f"squeeze({dim}) of shape {x.shape}: tallynet imports a squeeze of (N, C, 1, 1) to (N, C) "
                      "only (a flatten)")
    return flatten(walk, x, 1)


def _resolve(target, shape):
    """``target`` with its -1 (if any) worked out for a tensor of ``shape``."""
    total, known = math.prod(shape), math.prod(d for d in target if d != -1)
    return tuple(total // known if d == -1 else d for d in target)


def reshape(walk, x, *shape):
    target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)
    if isinstance(x, Grouped):  # back to (N, C, H, W): the shuffle's last step (or an undone view)
        if _resolve(target, x.tensor.shape) == x.tensor.shape:
            if type(x) is Shuffled:
                return walk.layer("channel_shuffle", {"groups": x.groups}, [x.tensor], base="channel_shuffle")
            return x.tensor
    x = walk.tensor(x, "the reshaped tensor")
    resolved = _resolve(target, x.shape)
    if resolved == x.shape:
        return x
    if (target[0] is BATCH or target[0] == -1) and resolved == (x.shape[0], math.prod(x.shape[1:])):
        return flatten(walk, x, 1)
    if len(x.shape) == 4 and len(resolved) == 5 and resolved[0] == x.shape[0] and (
            resolved[1] * resolved[2], *resolved[3:]) == x.shape[1:]:
        return Grouped(x, resolved[1])
    if target[0] is BATCH or (target[0] == -1 and resolved[0] == x.shape[0]):  # each sample reshaped
        return walk.layer("reshape", {"shape": list(resolved[1:])}, [x])
    raise Refused(f"a reshape of {x.shape} to {target}: tallynet reshapes each sample (the batch axis first, "
                  "x.size(0) or -1)")


def transpose(walk, x, dim0, dim1):
    n = len(_shape_of(x))
    axes = list(range(n))
    axes[_axis(dim0, n)], axes[_axis(dim1, n)] = axes[_axis(dim1, n)], axes[_axis(dim0, n)]
    return permute(walk, x, *axes)


def permute(walk, x, *dims):
    dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    dims = tuple(_axis(d, len(dims)) for d in dims)
    if type(x) is Grouped and dims == (0, 2, 1, 3, 4):  # a channel shuffle's middle step
        return Shuffled(x.tensor, x.groups)
    x = walk.tensor(x, "the permuted tensor")
    if dims[0] != 0:
        raise Refused(f"permute{dims} moves the batch axis: tallynet permutes each sample's axes")
    return walk.layer("permute", {"axes": [d - 1 for d in dims[1:]]}, [x])


def expand(walk, x, *sizes):
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if isinstance(x, Attribute) and sizes[0] is BATCH and all(d == -1 for d in sizes[1:]):
        return Attribute(x.target, x.tensor, expanded=True)
    raise Refused(f"expand{sizes}: tallynet imports expand(N, -1, -1) of a class token only")


def check(walk, condition, message=None):
    """``torch._assert``: the model checks a shape (ViT its image size); the import checks it too."""
    if not condition:
        raise Refused(f"the model's own check fails for this input shape: {message}")


def contiguous(walk, x, *_, **__):
    return x  # values are the same whatever the memory layout


def _chunks(walk, x, bounds):
    return Chunks(x, tuple(bounds), walk._name())


def chunk(walk, x, chunks, dim=0):
    x = walk.tensor(x, "the chunked tensor")
    if _axis(dim, len(x.shape)) != 1:
        raise Refused(f"chunk along dim {dim}: tallynet slices along the channels (dim 1) only")
    step = -(-x.shape[1] // chunks)  # torch.chunk: pieces of ceil(C / chunks), the last may be smaller
    return _chunks(walk, x, [(lo, min(lo + step, x.shape[1])) for lo in range(0, x.shape[1], step)])


def split(walk, x, split_size_or_sections, dim=0):
    x = walk.tensor(x, "the split tensor")
    if _axis(dim, len(x.shape)) != 1:
        raise Refused(f"split along dim {dim}: tallynet slices along the channels (dim 1) only")
    C = x.shape[1]
    sizes = (list(split_size_or_sections) if isinstance(split_size_or_sections, (list, tuple))
             else [min(split_size_or_sections, C - lo) for lo in range(0, C, split_size_or_sections)])
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return _chunks(walk, x, [(lo, lo + s) for lo, s in zip(starts, sizes)])


def getitem(walk, obj, index):
    if isinstance(obj, (list, tuple)):
        return obj[index]
    if isinstance(obj, Chunks):
        start, stop = obj.bounds[index]
        return walk.layer("channel_slice", {"start": start, "stop": stop}, [obj.tensor], name=f"{obj.name}.{index}")
    x = walk.tensor(obj, "the indexed tensor")
    if (isinstance(index, tuple) and len(index) == 2 and index[0] == slice(None) and isinstance(index[1], slice)
            and index[1].step in (None, 1)):
        start, stop, _ = index[1].indices(x.shape[1])
        return walk.layer("channel_slice", {"start": start, "stop": stop}, [x], base="slice")
    if isinstance(index, tuple) and len(index) == 2 and index[0] == slice(None) and isinstance(index[1], int):
        return walk.layer("select", {"index": index[1]}, [x], base="select")  # x[:, 0]: the class token's output
    raise Refused(f"indexing with {index!r}: tallynet imports x[:, start:stop] (a slice of channels) and x[:, i] "
                  "only")


# --- pooling, dropout, upsampling --------------------------------------------------------------------
def mean(walk, x, dim=None, keepdim=False, *, dtype=None):
    x = walk.tensor(x, "the averaged tensor")
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    if len(x.shape) != 4 or dim is None or {_axis(d, 4) for d in dims} != {2, 3}:
        raise Refused(f"mean over dims {dim} of shape {x.shape}: tallynet averages images over (2, 3) only "
                      "(global average pooling)")
    if keepdim:
        return walk.layer("adaptive_avgpool", {"output_size": 1}, [x])
    return walk.layer("global_avgpool", None, [x])


def adaptive_avg_pool2d(walk, x, output_size):
    x = walk.tensor(x, "the pooled tensor")
    return walk.layer("adaptive_avgpool", {"output_size": adaptive_output_size(x, output_size)}, [x])


def _pool(kind, x, kernel_size, stride, padding, ceil_mode):
    return kind, pool_fields(kernel_size, stride, padding, ceil_mode), [x]


def max_pool2d(walk, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if dilation not in (1, (1, 1), [1, 1]) or return_indices:
        raise Refused("max_pool2d with dilation or return_indices: tallynet's maxpool has neither")
    return walk.layer(*_pool("maxpool", x, kernel_size, stride, padding, ceil_mode))


def avg_pool2d(walk, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    if not count_include_pad or divisor_override is not None:
        raise Refused("avg_pool2d(count_include_pad=False) or with divisor_override: tallynet's avgpool divides "
                      "by the window's size, padding included")
    return walk.layer(*_pool("avgpool", x, kernel_size, stride, padding, ceil_mode))


def dropout(walk, x, p=0.5, training=True, inplace=False):
    # keep is tallynet's keep probability, 1 - PyTorch's p (p = 0 computes nothing); the layer
    # knows train from test mode itself, so the traced training flag is not kept
    return x if p == 0 else walk.layer("dropout", {"keep": 1 - p}, [x])


def stochastic_depth(walk, x, p, mode, training=True):
    # torchvision's stochastic depth (EfficientNet's residual branches) is the identity in eval
    # mode, the mode the import traces in; tallynet has no layer dropping a whole branch per
    # sample, so a tallynet training of the import runs without it
    if training:
        raise Refused("stochastic depth in training mode: tallynet has no layer that drops a branch per sample")
    return x


def interpolate(walk, x, size=None, scale_factor=None, mode="nearest", align_corners=None, *_, **__):
    x = walk.tensor(x, "the upsampled tensor")
    if mode != "nearest" or len(x.shape) != 4:
        raise Refused(f"{mode!r} interpolation of shape {x.shape}: tallynet upsamples images to the nearest "
                      "neighbour only")
    if size is not None:
        sizes = size if isinstance(size, (tuple, list)) else (size, size)
        factors = [s / d for s, d in zip(sizes, x.shape[2:])]
    else:
        factors = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * 2
    if len(set(factors)) != 1 or float(factors[0]) != int(factors[0]) or factors[0] < 1:
        raise Refused(f"upsampling by {factors}: tallynet upsamples by one integer factor on both axes")
    return walk.layer("upsample", {"scale": int(factors[0])}, [x])


def channel_shuffle(walk, x, groups):
    return walk.layer("channel_shuffle", {"groups": groups}, [x])


def hardtanh(walk, x, min_val=-1.0, max_val=1.0, inplace=False):
    if (min_val, max_val) != (0.0, 6.0):
        raise Refused(f"hardtanh({min_val}, {max_val}): tallynet has relu6, hardtanh(0, 6), only")
    return walk.layer("relu6", None, [x])


def leaky_relu(walk, x, negative_slope=0.01, inplace=False):
    return walk.layer("leaky_relu", {"negative_slope": negative_slope}, [x])


def gelu(walk, x, approximate="none"):
    if approximate != "none":
        raise Refused(f"gelu(approximate={approximate!r}): tallynet's gelu is the exact erf form")
    return walk.layer("gelu", None, [x])


RELU, RELU6, SIGMOID, TANH = _unary("relu"), _unary("relu6"), _unary("sigmoid"), _unary("tanh")
HARDSWISH, HARDSIGMOID, SILU = _unary("hardswish"), _unary("hardsigmoid"), _unary("silu")
FUNCTIONS = {
    operator.add: add, operator.iadd: add, torch.add: add, operator.mul: mul, operator.imul: mul, torch.mul: mul,
    torch.cat: cat, torch.concat: cat, torch.concatenate: cat,
    torch.flatten: flatten, torch.squeeze: squeeze, torch.reshape: reshape, torch.transpose: transpose,
    torch.permute: permute,
    torch.chunk: chunk, torch.split: split, operator.getitem: getitem, getattr: getattr_, torch._assert: check,
    torch.mean: mean, F.adaptive_avg_pool2d: adaptive_avg_pool2d, F.avg_pool2d: avg_pool2d,
    F.max_pool2d: max_pool2d, F.dropout: dropout, F.interpolate: interpolate, torch.channel_shuffle: channel_shuffle,
    F.relu: RELU, torch.relu: RELU, F.relu6: RELU6, F.hardtanh: hardtanh, F.leaky_relu: leaky_relu,
    torch.sigmoid: SIGMOID, F.sigmoid: SIGMOID, torch.tanh: TANH, F.tanh: TANH, F.hardswish: HARDSWISH,
    F.hardsigmoid: HARDSIGMOID, F.silu: SILU, F.gelu: gelu,
}
# F.max_pool2d dispatches on return_indices to _max_pool2d, the function fx records
FUNCTIONS.update({getattr(F, n): max_pool2d for n in ("_max_pool2d",) if hasattr(F, n)})
#: functions of packages imported only when a model uses them, by qualified name
FUNCTIONS_BY_NAME = {"torchvision.ops.stochastic_depth.stochastic_depth": stochastic_depth}
METHODS = {
    "add": add, "add_": add, "mul": mul, "mul_": mul, "flatten": flatten, "squeeze": squeeze, "view": reshape,
    "reshape": reshape,
    "transpose": transpose, "permute": permute, "expand": expand, "contiguous": contiguous, "size": size, "dim": dim,
    "chunk": chunk, "split": split, "mean": mean, "relu": RELU, "relu_": RELU, "sigmoid": SIGMOID,
    "sigmoid_": SIGMOID, "tanh": TANH, "tanh_": TANH,
}
