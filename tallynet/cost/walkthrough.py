"""``walkthrough(network)``: the document seed 001 was written by hand, generated for any network.

Markdown with LaTeX math: the architecture; the notation and the counting
convention's rules; then, layer by layer, the forward pass (Given, Output
Dimensions with the numbers substituted, Memory, Parameters, FLOPs) grouped in
blocks with block summaries; the backward pass in reverse (gradient shape and
memory, parameter gradients, FLOPs split into the input and parameter
gradients); seed 001's summary tables; and notes where the network is one of
the seeds' (where the hand-written figures disagree with themselves).

A *block* is a convolution or affine layer and the layers after it, up to and
including the next pooling layer or up to the next convolution / affine layer.
A layer outside any block, or a block of one layer, gets a section of its own.

Every figure comes from the :class:`~tallynet.cost.summary.Summary` (and so from
the layer objects' cost methods). The per-layer FLOP *formulas* are text beside
those figures: each kind of layer has small functions below (keyed by layer
kind) that spell a count out as terms, a product of numbers each, and a term
list is only printed when its terms add up, kind by kind, to the layer's own
count (otherwise the count is printed without a derivation).
"""

import math
from dataclasses import dataclass

import numpy as np

from ..counts import Ops
from ..models.presets import PRESETS
from ..models.spec import build_layers
from .conventions import WALKTHROUGH
from .render import _md_table, backward_rows, fmt_bytes, fmt_flops, fmt_shape, forward_rows, memory_rows, pass_rows, \
    type_rows
from .summary import summary

PARTS = ("forward", "backward_input", "backward_params")
POOLING = ("maxpool", "avgpool", "global_avgpool")
ANCHORS = ("conv", "affine")  # the layers a block starts with


def _n(v):
    return f"{v:,}"


def _shape(shape, role="in"):
    """A shape in seed 001's colours: batch magenta, channels blue (input) or green (output),
    spatial orange (input) or red (output)."""
    channel, spatial = ("blue", "orange") if role == "in" else ("green", "red")
    colours = ["magenta", channel] + [spatial] * (len(shape) - 2)
    return "$(" + ", ".join(fr"\textcolor{{{c}}}{{{d}}}" for c, d in zip(colours, shape)) + ")$"


def _dims_symbol(shape):
    """Symbols for the dimensions of an activation: N C H W, N D, or N D_1 ... D_k."""
    if len(shape) == 4:
        return ["N", "C", "H", "W"]
    if len(shape) == 2:
        return ["N", "D"]
    return ["N"] + [f"D_{i}" for i in range(1, len(shape))]


def _times(items):
    return r" \times ".join(str(i) for i in items)


def _memory(shape, itemsize):
    """``32 x 32 x 32 x 32 = 1,048,576 elements x 4 bytes = **4,194,304 bytes** (4.0 MB)``."""
    n = int(np.prod(shape))
    return (f"${_times(_n(d) for d in shape)} = {_n(n)}$ elements $\\times$ {itemsize} bytes = "
            f"**{_n(n * itemsize)} bytes** ({fmt_bytes(n * itemsize)})")


# --- FLOP terms ---------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    """One line of a FLOP derivation: ``label: symbol = f1 x f2 x ... = value``, of the kinds in ``ops``."""

    label: str
    symbol: str
    factors: tuple
    ops: Ops

    def line(self):
        value = _n(self.ops.total)
        numbers = _times(_n(f) for f in self.factors)
        expr = f"{self.symbol} = {numbers} = {value}" if len(self.factors) > 1 else f"{self.symbol} = {value}"
        kinds = ", ".join(f"{_n(v)} {k}" for k, v in self.ops.as_dict().items() if v)
        return f"- {self.label}: ${expr}$ ({kinds or 'none'})"


def term(label, symbol, factors, kind):
    """A term of one kind of operation (``"mul"``, ``"add"``, ...) or of the given :class:`Ops`."""
    factors = tuple(int(f) for f in factors)
    ops = Ops(**{kind: math.prod(factors)}) if isinstance(kind, str) else kind
    return Term(label, symbol, factors, ops)


def _conv_sizes(l):
    N, C, H, W = l.input_shape
    _, F, Ho, Wo = l.output_shape
    return N, C, F, Ho, Wo, l.layer.kh, l.layer.kw


def _conv_exact(l):
    N, C, F, Ho, Wo, kh, kw = _conv_sizes(l)
    K, M, out = C * kh * kw, N * Ho * Wo, r"N \times C_{out} \times H_{out} \times W_{out}"
    forward = [term("multiplications, $C_{in} k_h k_w$ per output (each output is one dot product)",
                    out + r" \times (C_{in} k_h k_w)", (N, F, Ho, Wo, K), "mul"),
               term("additions inside the dot products, $C_{in} k_h k_w - 1$ per output",
                    out + r" \times (C_{in} k_h k_w - 1)", (N, F, Ho, Wo, K - 1), "add")]
    if l.layer.bias:
        forward.append(term("bias additions, 1 per output", out, (N, F, Ho, Wo), "add"))
    cols = r"(C_{in} k_h k_w) \times (N H_{out} W_{out})"
    backward_params = [term(r"$dW = dout \cdot cols^T$, multiplications", r"C_{out} \times " + cols, (F, K, M), "mul"),
                       term("additions", r"C_{out} \times (C_{in} k_h k_w) \times (N H_{out} W_{out} - 1)",
                            (F, K, M - 1), "add")]
    if l.layer.bias:
        backward_params.append(term("$db$: sum of dout over $N, H_{out}, W_{out}$",
                                    r"C_{out} \times (N H_{out} W_{out} - 1)", (F, M - 1), "add"))
    return {"forward": forward,
            "backward_input": [
                term(r"$dcols = W^T \cdot dout$, multiplications", cols + r" \times C_{out}", (K, M, F), "mul"),
                term("additions", cols + r" \times (C_{out} - 1)", (K, M, F - 1), "add"),
                term("col2im, each column entry added into dx", cols, (K, M), "add")],
            "backward_params": backward_params}


def _conv_walkthrough(l):
    N, C, F, Ho, Wo, kh, kw = _conv_sizes(l)
    product = Ops(mul=N * F * Ho * Wo * C * kh * kw, add=N * F * Ho * Wo * C * kh * kw)
    symbol = r"N \times H_{out} \times W_{out} \times C_{out} \times (2 \times C_{in} \times k_h \times k_w)"
    factors = (N, Ho, Wo, F, 2 * C * kh * kw)
    K = C * kh * kw
    per_output = (f"For each output position, $C_{{in}} \\times k_h \\times k_w = {C} \\times {kh} \\times {kw} = {K}$ "
                  f"multiplications and {K} additions (accumulation; the bias addition is not counted): "
                  f"$2 \\times {K} = {2 * K}$ per output")
    return {"forward": [term(per_output, symbol, factors, product)],
            "backward_input": [term("input gradient (a full convolution of dout with the filters, as the forward)",
                                    symbol, factors, product)],
            "backward_params": [term("weight gradient (a convolution of the input with dout, as the forward)",
                                     symbol, factors, product)]}


def _affine_sizes(l):
    return l.input_shape[0], int(np.prod(l.input_shape[1:])), l.output_shape[1]


def _affine_exact(l):
    N, D, M = _affine_sizes(l)
    return {"forward": [term(r"$x W$, multiplications", r"N \times D_{out} \times D_{in}", (N, M, D), "mul"),
                        term("additions", r"N \times D_{out} \times (D_{in} - 1)", (N, M, D - 1), "add"),
                        term("bias additions", r"N \times D_{out}", (N, M), "add")],
            "backward_input": [
                term(r"$dx = dout \cdot W^T$, multiplications", r"N \times D_{in} \times D_{out}", (N, D, M), "mul"),
                term("additions", r"N \times D_{in} \times (D_{out} - 1)", (N, D, M - 1), "add")],
            "backward_params": [
                term(r"$dW = x^T \cdot dout$, multiplications", r"D_{in} \times D_{out} \times N", (D, M, N), "mul"),
                term("additions", r"D_{in} \times D_{out} \times (N - 1)", (D, M, N - 1), "add"),
                term("$db$: sum of dout over the batch", r"D_{out} \times (N - 1)", (M, N - 1), "add")]}


def _affine_walkthrough(l):
    N, D, M = _affine_sizes(l)
    two = Ops(mul=N * D * M, add=N * D * M)
    per_output = (f"For each output, ${_n(D)}$ multiplications and ${_n(D)}$ additions (the dot product; the bias "
                  "addition is not counted)")
    return {"forward": [term(per_output, r"N \times D_{out} \times (2 \times D_{in})", (N, M, 2 * D), two)],
            "backward_input": [term(r"input gradient $dout \cdot W^T$", r"N \times D_{in} \times 2 \times D_{out}",
                                    (N, D, 2 * M), two)],
            "backward_params": [term(r"weight gradient $x^T \cdot dout$", r"D_{in} \times D_{out} \times 2 \times N",
                                     (D, M, 2 * N), two),
                                term("bias gradient, a sum over the batch", r"D_{out} \times N", (M, N), "add")]}


def _macs_terms(l, per_mac):
    """Convolution and affine layers under ``macs`` (1 MAC) and ``torch`` (2 FLOPs per MAC)."""
    if l.type == "conv":
        N, C, F, Ho, Wo, kh, kw = _conv_sizes(l)
        symbol = r"N \times C_{out} \times H_{out} \times W_{out} \times C_{in} \times k_h \times k_w"
        factors = (N, F, Ho, Wo, C * kh * kw)
    else:
        N, D, M = _affine_sizes(l)
        symbol, factors = r"N \times D_{out} \times D_{in}", (N, M, D)
    m = math.prod(factors)
    ops = Ops(mac=m) if per_mac == 1 else Ops(mul=m, add=m)
    if per_mac != 1:
        symbol, factors = "2 \\times " + symbol, (2,) + factors
    unit = "1 MAC" if per_mac == 1 else "2 FLOPs per MAC"
    return {part: [term(f"{label}, {unit}", symbol, factors, ops)] for part, label in
            zip(PARTS, ("a multiply-accumulate per weight and output", "input gradient, as many as the forward",
                        "weight gradient, as many as the forward"))}


def _elementwise(label, shape, kind):
    return term(label, _times(_dims_symbol(shape)), shape, kind)


def _relu_exact(l):
    return {"forward": [_elementwise(r"$\max(x, 0)$, 1 comparison per element", l.input_shape, "cmp")],
            "backward_input": [_elementwise("the mask $x > 0$, 1 comparison per element", l.input_shape, "cmp"),
                               _elementwise("$dout \\times$ mask, 1 multiplication per element", l.input_shape,
                                            "mul")]}


def _relu_walkthrough(l):
    return {"forward": [_elementwise("one comparison per element", l.input_shape, "cmp")],
            "backward_input": [_elementwise("multiplication by the indicator, 1 per element", l.input_shape, "mul")]}


def _sigmoid_exact(l):
    s = l.input_shape
    return {"forward": [_elementwise("$-x$", s, "add"), _elementwise(r"$e^{-x}$", s, "special"),
                        _elementwise(r"$1 + e^{-x}$", s, "add"), _elementwise(r"$1 / (\cdot)$", s, "div")],
            "backward_input": [_elementwise("$1 - s$", s, "add"), _elementwise(r"$dout \cdot s$", s, "mul"),
                               _elementwise(r"$(\cdot)(1 - s)$", s, "mul")]}


def _dropout_exact(l):
    s = l.input_shape
    return {"forward": [_elementwise("$u < p$", s, "cmp"), _elementwise("mask $/ p$", s, "div"),
                        _elementwise(r"$x \cdot mask$", s, "mul")],
            "backward_input": [_elementwise(r"$dout \cdot mask$", s, "mul")]}


def _dropout_walkthrough(l):
    return {"forward": [_elementwise("multiplication by the mask, 1 per element", l.input_shape, "mul")],
            "backward_input": [_elementwise("multiplication by the mask, 1 per element", l.input_shape, "mul")]}


def _pool_sizes(l):
    N, C, Ho, Wo = l.output_shape
    return N, C, Ho, Wo, l.layer.kh * l.layer.kw


_WINDOWS = r"N \times C \times H_{out} \times W_{out}"


def _scatter_terms(l):
    """col2im's additions in pooling backward, when the windows overlap or do not tile the input."""
    if not l.layer.uses_col2im(l.input_shape):
        return []
    N, C, Ho, Wo, k = _pool_sizes(l)
    return [term("col2im, each window entry added into dx", _WINDOWS + r" \times k_h k_w", (N, C, Ho, Wo, k), "add")]


def _maxpool_exact(l):
    N, C, Ho, Wo, k = _pool_sizes(l)
    compare = _WINDOWS + r" \times (k_h k_w - 1)"
    backward = _scatter_terms(l) or [
        term(f"routing dout to each window's first maximum, $k_h k_w - 1$ {what}", compare, (N, C, Ho, Wo, k - 1), kind)
        for what, kind in (("comparisons", "cmp"), ("multiplications by the hit", "mul"),
                           ("subtractions from the pending gradient", "add"))]
    return {"forward": [term("maximum of each window, $k_h k_w - 1$ comparisons", compare,
                             (N, C, Ho, Wo, k - 1), "cmp")],
            "backward_input": backward}


def _maxpool_walkthrough(l):
    N, C, Ho, Wo, k = _pool_sizes(l)
    return {"forward": [term("FLOPs, $k^2$ comparisons per output", _WINDOWS + r" \times k^2", (N, C, Ho, Wo, k),
                             "cmp")],
            "backward_input": [_elementwise("routing the gradient, 1 per input element", l.input_shape, "cmp")]}


def _avgpool_exact(l):
    N, C, Ho, Wo, k = _pool_sizes(l)
    return {"forward": [term("sums, $k_h k_w - 1$ additions per window", _WINDOWS + r" \times (k_h k_w - 1)",
                             (N, C, Ho, Wo, k - 1), "add"),
                        term("division by $k_h k_w$", _WINDOWS, (N, C, Ho, Wo), "div")],
            "backward_input": [term("$dout / (k_h k_w)$", _WINDOWS, (N, C, Ho, Wo), "div")] + _scatter_terms(l)}


def _avgpool_walkthrough(l):
    N, C, Ho, Wo, k = _pool_sizes(l)
    M = N * C * Ho * Wo
    return {"forward": [term("FLOPs, $k^2$ per output ($k^2 - 1$ additions and a division)", _WINDOWS + r" \times k^2",
                             (N, C, Ho, Wo, k), Ops(add=M * (k - 1), div=M))],
            "backward_input": [_elementwise("scaling the gradient share, 1 per input element", l.input_shape, "mul")]}


def _gap_exact(l):
    N, C, H, W = l.input_shape
    return {"forward": [term("sums over $H \\times W$", r"N \times C \times (H W - 1)", (N, C, H * W - 1), "add"),
                        term("division by $H W$", r"N \times C", (N, C), "div")],
            "backward_input": [term("$dout / (H W)$", r"N \times C", (N, C), "div")]}


def _gap_walkthrough(l):
    N, C, H, W = l.input_shape
    return {"forward": [term("FLOPs, 1 per input element ($HW - 1$ additions and a division per channel)",
                             r"N \times C \times H \times W", (N, C, H, W), Ops(add=N * C * (H * W - 1), div=N * C))],
            "backward_input": [_elementwise("broadcasting and scaling, 1 per input element", l.input_shape, "mul")]}


def _norm_sizes(l):
    """n elements, s statistics of m values each, c scale/shift entries."""
    n, s = int(np.prod(l.input_shape)), l.layer.stat_count(l.input_shape)
    return n, s, n // s, l.input_shape[1]


def _norm_exact(l):
    n, s, m, c = _norm_sizes(l)
    shape = l.input_shape
    forward = [term(r"mean $\mu$: sums", r"s \times (m - 1)", (s, m - 1), "add"),
               term(r"mean $\mu$: divisions", "s", (s,), "div"),
               _elementwise(r"$x - \mu$", shape, "add"),
               _elementwise(r"$(x - \mu)^2$", shape, "mul"),
               term(r"variance $\sigma^2$: sums", r"s \times (m - 1)", (s, m - 1), "add"),
               term(r"variance $\sigma^2$: divisions", "s", (s,), "div"),
               term(r"$\sigma^2 + \epsilon$", "s", (s,), "add"),
               term(r"$\sqrt{\cdot}$", "s", (s,), "special"),
               term(r"$1 / \sqrt{\cdot}$", "s", (s,), "div"),
               _elementwise(r"$\hat{x} = (x - \mu) \cdot (1 / \sqrt{\sigma^2 + \epsilon})$", shape, "mul"),
               _elementwise(r"$\gamma \hat{x}$", shape, "mul"),
               _elementwise(r"$+ \beta$", shape, "add")]
    if l.type == "batchnorm":
        forward += [term(r"running averages, $\text{momentum} \cdot r + (1 - \text{momentum}) \cdot stat$ for the "
                         "mean and the variance: multiplications", r"4 \times C", (4, c), "mul"),
                    term("running averages: additions", r"2 \times C", (2, c), "add")]
    if l.type == "batchnorm":  # the fused form: gamma is constant over the statistics axes
        backward_input = [
            term(r"$d\gamma / m$ and $d\beta / m$", r"2 \times C", (2, c), "div"),
            term(r"$\gamma \cdot (1 / \sqrt{\sigma^2 + \epsilon})$", "C", (c,), "mul"),
            _elementwise(r"$\hat{x} \cdot d\gamma / m$", shape, "mul"),
            _elementwise(r"$+ d\beta / m$", shape, "add"),
            _elementwise(r"$dout - (\cdot)$", shape, "add"),
            _elementwise(r"$\cdot \gamma / \sqrt{\sigma^2 + \epsilon}$", shape, "mul")]
    else:
        backward_input = [
            _elementwise(r"$g = dout \cdot \gamma$", shape, "mul"),
            term(r"mean of $g$: sums", r"s \times (m - 1)", (s, m - 1), "add"),
            term(r"mean of $g$: divisions", "s", (s,), "div"),
            _elementwise(r"$g \cdot \hat{x}$", shape, "mul"),
            term(r"mean of $g \hat{x}$: sums", r"s \times (m - 1)", (s, m - 1), "add"),
            term(r"mean of $g \hat{x}$: divisions", "s", (s,), "div"),
            _elementwise(r"$\hat{x} \cdot \mathrm{mean}(g \hat{x})$", shape, "mul"),
            term("the two subtractions", r"2 \times " + _times(_dims_symbol(shape)), (2,) + tuple(shape), "add"),
            _elementwise(r"$\cdot (1 / \sqrt{\sigma^2 + \epsilon})$", shape, "mul")]
    return {"forward": forward,
            "backward_input": backward_input,
            "backward_params": [
                _elementwise(r"$dout \cdot \hat{x}$", shape, "mul"),
                term(r"$d\gamma$: its sums", r"c \times (n / c - 1)", (c, n // c - 1), "add"),
                term(r"$d\beta$: sums of dout", r"c \times (n / c - 1)", (c, n // c - 1), "add")]}


def _norm_walkthrough(l):
    shape, n = l.input_shape, int(np.prod(l.input_shape))
    symbol = _times(["5"] + _dims_symbol(shape))
    return {"forward": [term("FLOPs, 5 per element (mean, variance, normalization, scale and shift)", symbol,
                             (5,) + tuple(shape), Ops(add=2 * n, mul=2 * n, div=n))],
            "backward_input": [term("input gradient, the remaining 2 per element", _times(["2"] + _dims_symbol(shape)),
                                    (2,) + tuple(shape), Ops(mul=n, div=n))],
            "backward_params": [term(r"$d\gamma$ (multiply and sum) and $d\beta$ (sum), 3 per element",
                                     _times(["3"] + _dims_symbol(shape)), (3,) + tuple(shape),
                                     Ops(mul=n, add=2 * n))]}


#: FLOP derivations by convention name, then by layer kind: ``fn(layer_cost) -> {part: [Term]}``
TERMS = {
    "exact": {"conv": _conv_exact, "affine": _affine_exact, "relu": _relu_exact, "sigmoid": _sigmoid_exact,
              "dropout": _dropout_exact, "maxpool": _maxpool_exact, "avgpool": _avgpool_exact,
              "global_avgpool": _gap_exact, "batchnorm": _norm_exact, "layernorm": _norm_exact},
    "walkthrough": {"conv": _conv_walkthrough, "affine": _affine_walkthrough, "relu": _relu_walkthrough,
                    "sigmoid": _sigmoid_exact, "dropout": _dropout_walkthrough, "maxpool": _maxpool_walkthrough,
                    "avgpool": _avgpool_walkthrough, "global_avgpool": _gap_walkthrough,
                    "batchnorm": _norm_walkthrough, "layernorm": _norm_walkthrough},
    "macs": {"conv": lambda l: _macs_terms(l, 1), "affine": lambda l: _macs_terms(l, 1)},
    "torch": {"conv": lambda l: _macs_terms(l, 2), "affine": lambda l: _macs_terms(l, 2)},
}


def flop_terms(l, convention):
    """``{part: [Term]}`` deriving layer cost ``l``'s FLOPs under ``convention``, or None when
    there is no derivation for it or the derivation does not add up to the layer's count."""
    fn = TERMS.get(convention.name, {}).get(l.type)
    terms = fn(l) if fn else {}
    for part in PARTS:
        total = sum((t.ops for t in terms.get(part, [])), Ops())
        if total != getattr(l.flops, part) or any(math.prod(t.factors) != t.ops.total for t in terms.get(part, [])):
            return None
    return terms


# --- the rules of each convention, for the notation section ---------------------------
RULES = {
    "walkthrough": {
        "conv": ("$2 C_{in} k_h k_w$ per output (bias not counted)", "twice the forward: input and weight gradients"),
        "affine": (r"$2 D_{in}$ per output", "both matrix products at 2 per MAC, plus the bias sum (1 per output gradient)"),
        "batchnorm": ("5 per element", "equal to the forward"),
        "layernorm": ("5 per element (as batchnorm)", "equal to the forward"),
        "relu": ("1 per element", "1 per element"),
        "sigmoid": ("as `exact`: 4 per element", "as `exact`: 3 per element"),
        "maxpool": ("$k^2$ per output", "1 per input element"),
        "avgpool": ("$k^2$ per output (as max pooling)", "1 per input element"),
        "global_avgpool": ("1 per input element", "1 per input element"),
        "dropout": ("1 per element (as ReLU)", "1 per element"),
        "flatten": ("0", "0"),
    },
    "exact": {
        "conv": ("im2col GEMM: $C_{in} k_h k_w$ mul and $C_{in} k_h k_w - 1$ add per output, 1 bias add",
                 "two GEMMs, col2im additions, the bias sum"),
        "affine": (r"$D_{in}$ mul, $D_{in} - 1$ add, 1 bias add per output", "two matrix products and the bias sum"),
        "batchnorm": ("statistics, normalization, scale and shift, running averages", "closed form, as implemented"),
        "layernorm": ("statistics, normalization, scale and shift", "closed form, as implemented"),
        "relu": ("1 comparison per element", "1 comparison and 1 multiplication per element"),
        "sigmoid": ("negation, exp, addition, division per element", "3 per element"),
        "maxpool": ("$k_h k_w - 1$ comparisons per output",
                    "col2im additions when windows overlap, else $k_h k_w - 1$ each of cmp, mul, add per output"),
        "avgpool": ("$k_h k_w - 1$ additions and 1 division per output", "1 division per output, col2im additions"),
        "global_avgpool": ("$HW - 1$ additions and 1 division per output", "1 division per output"),
        "dropout": ("comparison, division, multiplication per element", "1 multiplication per element"),
        "flatten": ("0", "0"),
    },
}


# --- per-kind text: titles, hyperparameters, output dimensions, parameters, gradients --------
def _window_dims(l):
    """Seed 001's output-size formulas with the numbers substituted, for convolution and pooling."""
    layer = l.layer
    pad = getattr(layer, "pad", 0)
    lines = []
    for axis, size, k, out in (("H", l.input_shape[2], layer.kh, l.output_shape[2]),
                               ("W", l.input_shape[3], layer.kw, l.output_shape[3])):
        inner = size + 2 * pad - k
        lines.append(fr"$$\textcolor{{red}}{{{axis}_{{out}}}} = \left\lfloor \frac{{{size} + 2({pad}) - {k}}}"
                     fr"{{{layer.stride}}} \right\rfloor + 1 = \left\lfloor \frac{{{inner}}}{{{layer.stride}}} "
                     fr"\right\rfloor + 1 = {out}$$")
    return lines


def _unchanged_dims(l):
    return []


def _conv_given(l):
    layer = l.layer
    return [f"- **Filters**: $\\textcolor{{green}}{{C_{{out}}}} = {layer.filters}$",
            f"- **Kernel Size**: $\\textcolor{{purple}}{{k_h = {layer.kh}, k_w = {layer.kw}}}$",
            f"- **Stride**: $s = {layer.stride}$", f"- **Padding**: $p = {layer.pad}$",
            f"- **Bias**: {'yes' if layer.bias else 'no (bias=False)'}"]


def _pool_given(l):
    layer = l.layer
    return [f"- **Kernel Size**: $\\textcolor{{purple}}{{k_h = {layer.kh}, k_w = {layer.kw}}}$",
            f"- **Stride**: $s = {layer.stride}$", "- **Padding**: $p = 0$"]


def _affine_given(l):
    N, D, M = _affine_sizes(l)
    flat = "" if len(l.input_shape) == 2 else f" (flattened to $({N}, {D})$)"
    return [f"- **Input features**: $D_{{in}} = {_n(D)}${flat}", f"- **Output features**: $D_{{out}} = {_n(M)}$",
            "- **Operation**: $y = xW + b$"]


def _norm_given(l):
    layer = l.layer
    n, s, m, c = _norm_sizes(l)
    over = ("each feature over the batch" if len(l.input_shape) == 2 else "each channel over $N, H, W$") \
        if l.type == "batchnorm" else "each sample over all its values"
    lines = [f"- **Normalized**: {over}: $s = {_n(s)}$ means and variances of $m = {_n(m)}$ values each",
             f"- **Scale and shift**: $c = {_n(c)}$ entries each", f"- $\\epsilon = {layer.eps:g}$"]
    if l.type == "batchnorm":
        lines.append(f"- **Momentum** of the running averages: ${layer.momentum:g}$")
    return lines


def _conv_params(l, itemsize):
    N, C, F, Ho, Wo, kh, kw = _conv_sizes(l)
    weights = F * C * kh * kw
    lines = [f"- **Weights**: $\\textcolor{{green}}{{C_{{out}}}} \\times \\textcolor{{blue}}{{C_{{in}}}} \\times "
             f"\\textcolor{{purple}}{{k_h}} \\times \\textcolor{{purple}}{{k_w}} = {F} \\times {C} \\times {kh} "
             f"\\times {kw} = {_n(weights)}$"]
    if l.layer.bias:
        lines.append(f"- **Bias**: $\\textcolor{{green}}{{C_{{out}}}} = {F}$")
        total = f"${_n(weights)} + {F} = {_n(l.params)}$"
    else:
        lines.append("- **Bias**: none")
        total = f"${_n(l.params)}$"
    return lines + [f"- **Total**: {total} parameters = **{_n(l.param_bytes)} bytes**"]


def _affine_params(l, itemsize):
    N, D, M = _affine_sizes(l)
    return [f"- **Weights**: $D_{{in}} \\times D_{{out}} = {_n(D)} \\times {_n(M)} = {_n(D * M)}$",
            f"- **Bias**: $D_{{out}} = {_n(M)}$",
            f"- **Total**: ${_n(D * M)} + {_n(M)} = {_n(l.params)}$ parameters = **{_n(l.param_bytes)} bytes**"]


def _norm_params(l, itemsize):
    c = l.input_shape[1]
    lines = [f"- **Scale ($\\gamma$)**: ${_n(c)}$", f"- **Shift ($\\beta$)**: ${_n(c)}$"]
    if l.state:
        lines += [f"- **Running mean** (not learned, updated during training): ${_n(c)}$",
                  f"- **Running variance** (not learned, updated during training): ${_n(c)}$"]
    return lines + [f"- **Learnable Total**: $2 \\times {_n(c)} = {_n(l.params)}$ parameters = "
                    f"**{_n(l.param_bytes)} bytes**" + (f"; running statistics {_n(l.state * itemsize)} bytes"
                                                        if l.state else "")]


@dataclass(frozen=True)
class KindText:
    """The prose of one layer kind. ``given`` and ``params`` return markdown lines; ``gradient`` a paragraph."""

    title: str
    overview: callable
    given: callable
    dims: callable
    gradient: str
    params: callable = None   # (layer cost, itemsize) -> lines
    name: str = ""            # the kind in the convention's rule table (default: the title)


def _no_given(l):
    return []


def _fmt_kernel(layer):
    return str(layer.kh) if layer.kh == layer.kw else f"{layer.kh}×{layer.kw}"


KIND_TEXT = {
    "conv": KindText(
        "Convolutional Layer",
        lambda l: f"Conv({l.input_shape[1]}→{l.layer.filters}, k={_fmt_kernel(l.layer)}, s={l.layer.stride}, "
                  f"p={l.layer.pad}{'' if l.layer.bias else ', no bias'})",
        _conv_given, _window_dims,
        r"$\frac{\partial \mathcal{L}}{\partial W}$ correlates the input with the upstream gradient (shape of $W$); "
        r"$\frac{\partial \mathcal{L}}{\partial b}$ sums it over $N, H_{out}, W_{out}$; "
        r"$\frac{\partial \mathcal{L}}{\partial x}$ is the full convolution of the upstream gradient with the "
        r"filters (in tallynet: $W^T \cdot dout$ on the im2col columns, then col2im).",
        _conv_params),
    "affine": KindText(
        "Fully Connected Layer", lambda l: f"Fully Connected ({_n(_affine_sizes(l)[1])} → {_n(l.output_shape[1])})",
        _affine_given, _unchanged_dims,
        r"$\frac{\partial \mathcal{L}}{\partial W} = x^T \cdot \frac{\partial \mathcal{L}}{\partial y}$; "
        r"$\frac{\partial \mathcal{L}}{\partial b} = \sum_{i=1}^{N} \frac{\partial \mathcal{L}}{\partial y_i}$; "
        r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot W^T$.",
        _affine_params),
    "batchnorm": KindText(
        "Batch Normalization", lambda l: "BatchNorm", _norm_given, _unchanged_dims,
        r"$\frac{\partial \mathcal{L}}{\partial \gamma} = \sum \frac{\partial \mathcal{L}}{\partial y} \hat{x}$, "
        r"$\frac{\partial \mathcal{L}}{\partial \beta} = \sum \frac{\partial \mathcal{L}}{\partial y}$ (sums over "
        r"all axes but the channel); with $g = \gamma \frac{\partial \mathcal{L}}{\partial y}$, "
        r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \epsilon}} \left(g - \mathrm{mean}(g)"
        r" - \hat{x}\, \mathrm{mean}(g \hat{x})\right)$, means over the statistics axes.",
        _norm_params, "Batch normalization"),
    "layernorm": KindText(
        "Layer Normalization", lambda l: "LayerNorm", _norm_given, _unchanged_dims,
        r"As batchnorm, with the means taken over each sample: "
        r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \epsilon}} \left(g - \mathrm{mean}(g)"
        r" - \hat{x}\, \mathrm{mean}(g \hat{x})\right)$, $g = \gamma \frac{\partial \mathcal{L}}{\partial y}$.",
        _norm_params, "Layer normalization"),
    "relu": KindText(
        "Activation Function", lambda l: "ReLU",
        lambda l: [r"- **Function**: $\text{ReLU}(x) = \max(0, x)$"], _unchanged_dims,
        r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot "
        r"\mathbb{1}_{x > 0}$.", name="ReLU"),
    "sigmoid": KindText(
        "Activation Function", lambda l: "Sigmoid",
        lambda l: [r"- **Function**: $\sigma(x) = \frac{1}{1 + e^{-x}}$"], _unchanged_dims,
        r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot s (1 - s)$, "
        r"$s$ the forward output.", name="Sigmoid"),
    "maxpool": KindText(
        "Max Pooling", lambda l: f"MaxPool(k={_fmt_kernel(l.layer)}, s={l.layer.stride})", _pool_given, _window_dims,
        r"Each window's gradient goes to the position of its maximum (the first one on ties): "
        r"$\frac{\partial \mathcal{L}}{\partial x_{h,w}} = \frac{\partial \mathcal{L}}{\partial y_{h',w'}}$ if "
        r"$x_{h,w}$ is the maximum of the window of $(h', w')$, else 0."),
    "avgpool": KindText(
        "Average Pooling", lambda l: f"AvgPool(k={_fmt_kernel(l.layer)}, s={l.layer.stride})", _pool_given,
        _window_dims,
        r"Each element of a window receives $\frac{1}{k_h k_w} \frac{\partial \mathcal{L}}{\partial y}$, summed "
        r"over the windows that cover it."),
    "global_avgpool": KindText(
        "Global Average Pooling", lambda l: "Global Average Pooling",
        lambda l: ["- **Operation**: average each channel across spatial dimensions, "
                   r"$y_c = \frac{1}{H \times W} \sum_{h,w} x_{c,h,w}$"], _unchanged_dims,
        r"$\frac{\partial \mathcal{L}}{\partial x_{c,h,w}} = \frac{1}{H \times W} \cdot "
        r"\frac{\partial \mathcal{L}}{\partial y_c}$: the gradient is broadcast over $H \times W$ and scaled."),
    "dropout": KindText(
        "Dropout", lambda l: f"Dropout(keep={l.layer.keep:g})",
        lambda l: [f"- **Keep probability**: $p = {l.layer.keep:g}$ (inverted dropout: kept values are scaled by "
                   "$1/p$; test mode is the identity)"], _unchanged_dims,
        r"$\frac{\partial \mathcal{L}}{\partial x} = \frac{\partial \mathcal{L}}{\partial y} \cdot mask$."),
    "flatten": KindText(
        "Flatten", lambda l: "Flatten", lambda l: ["- **Operation**: a reshape to $(N, D)$; nothing is computed"],
        _unchanged_dims, r"$\frac{\partial \mathcal{L}}{\partial x}$ is the upstream gradient reshaped."),
}


def _kind_text(kind):
    """The prose of a layer kind; an unknown (user-defined) kind gets a neutral one."""
    return KIND_TEXT.get(kind) or KindText(kind, lambda l: kind, _no_given, _unchanged_dims, "As implemented.")


# --- sections -----------------------------------------------------------------------------
def blocks(layer_costs):
    """Group the layers into blocks: lists of consecutive :class:`LayerCost` rows."""
    groups, open_block = [], False
    for l in layer_costs:
        if l.type in ANCHORS or not open_block:
            groups.append([])
            open_block = l.type in ANCHORS
        groups[-1].append(l)
        if l.type in POOLING:
            open_block = False
    return groups


def _heading(level, text):
    return "#" * level + " " + text


def _join(lines):
    """Markdown paragraphs separated by blank lines, consecutive bullet lines kept in one list."""
    out = []
    for line in lines:
        if out and line.startswith("- ") and out[-1].rsplit("\n", 1)[-1].startswith("- "):
            out[-1] += "\n" + line
        else:
            out.append(line)
    return "\n\n".join(out)


def _total_lines(total, addends, convention):
    """``FLOPs = a + b + ... = total ~ 56.6 MFLOPs`` and the breakdown of ``total`` (Ops) by kind."""
    if total.total == 0:
        return [f"$$\\text{{FLOPs}} = 0$$ (nothing counted under `{convention.name}`)"]
    # a long list of terms is already written out above; its sum would only repeat it
    sum_expr = " + ".join(_n(a) for a in addends) + " = " if 1 < len(addends) <= 4 else ""
    kinds = ", ".join(f"{_n(v)} {k}" for k, v in total.as_dict().items() if v)
    return [f"$$\\text{{FLOPs}} = {sum_expr}{_n(total.total)}{_approx(total.total)}$$", f"By kind: {kinds}."]


def _approx(n):
    return f" \\approx \\textbf{{{fmt_flops(n)}FLOPs}}" if n >= 1000 else ""


def _forward_flops_lines(l, terms, convention):
    """The forward FLOPs: a single term as seed 001 writes it (the formula, then the numbers),
    several as a list of terms and their sum."""
    chosen = (terms or {}).get("forward", [])
    if len(chosen) != 1:
        return [t.line() for t in chosen] + _total_lines(l.flops.forward, [t.ops.total for t in chosen], convention)
    t = chosen[0]
    return [f"{t.label}:", f"$$\\text{{FLOPs}} = {t.symbol}$$",
            f"$$= {_times(_n(f) for f in t.factors)} = {_n(t.ops.total)}{_approx(t.ops.total)}$$"] + \
        _total_lines(l.flops.forward, [], convention)[1:]


def _forward_layer(l, level, s):
    text = _kind_text(l.type)
    itemsize = s.dtype.itemsize
    out = [_heading(level, f"{l.name}: {text.title}"), _heading(level + 1, "Given"),
           f"- **Input Shape**: {_shape(l.input_shape, 'in')}"] + text.given(l)
    dims = text.dims(l)
    out += [_heading(level + 1, "Output Dimensions" if dims else "Output")] + dims + [
        f"- **Output Shape**: {_shape(l.output_shape, 'out')}" + ("" if dims or l.output_shape != l.input_shape
                                                                   else " (unchanged)")]
    out += [_heading(level + 1, "Memory"), f"- **Activations**: {_memory(l.output_shape, itemsize)}"]
    if l.cache_bytes:
        out.append(f"- **Kept for the backward pass** (besides input and output): **{_n(l.cache_bytes)} bytes** "
                   f"({fmt_bytes(l.cache_bytes)})")
    params = text.params(l, itemsize) if text.params else ["- **Total**: 0 (no learnable parameters)"]
    out += [_heading(level + 1, "Parameters")] + params
    out += [_heading(level + 1, "FLOPs")] + _forward_flops_lines(l, flop_terms(l, s.convention), s.convention)
    return _join(out)


def _param_grad_lines(l, itemsize):
    shapes = l.layer.param_shapes(l.input_shape)
    if not shapes:
        return ["- **Gradients**: 0 (no learnable parameters)"]
    lines = []
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        lines.append(f"- $\\frac{{\\partial \\mathcal{{L}}}}{{\\partial {_param_symbol(name)}}}$: shape "
                     f"{fmt_shape(shape)}, {_n(n)} elements = **{_n(n * itemsize)} bytes**")
    return lines + [f"- **Total**: **{_n(l.param_bytes)} bytes**"]


def _param_symbol(name):
    return {"gamma": r"\gamma", "beta": r"\beta"}.get(name, name)


def _backward_layer(l, level, s):
    text = _kind_text(l.type)
    terms = flop_terms(l, s.convention)
    out = [_heading(level, f"{l.name} Gradients"), _heading(level + 1, "Given"),
           f"- **Forward**: {fmt_shape(l.input_shape)} → {fmt_shape(l.output_shape)}",
           f"- **Gradient from the next layer**: $\\frac{{\\partial \\mathcal{{L}}}}{{\\partial y}}$ with shape "
           f"{fmt_shape(l.output_shape)}",
           _heading(level + 1, "Gradient Computation"), text.gradient,
           _heading(level + 1, "Memory"),
           f"- **Input gradient** {fmt_shape(l.input_shape)}: {_memory(l.input_shape, s.dtype.itemsize)}",
           _heading(level + 1, "Parameter Gradients")] + _param_grad_lines(l, s.dtype.itemsize)
    out.append(_heading(level + 1, "FLOPs"))
    addends = []
    for part, label in (("backward_input", "Input gradient"), ("backward_params", "Parameter gradients")):
        if part == "backward_input" or l.params or l.flops.backward_params.total:
            addends.append(getattr(l.flops, part).total)
            out.append(f"**{label}**: {_n(addends[-1])}")
            out += [t.line() for t in (terms or {}).get(part, [])]
    return _join(out + _total_lines(l.flops.backward, addends, s.convention))


def _block_title(group, arrow):
    return f" {arrow} ".join(l.name for l in group)


def _forward_block_table(s, group):
    rows = forward_rows(s)
    body = [[r[0], r[2], r[3], r[4], r[5]] for r in (rows[l.index + 1] for l in group)]
    body.append(["**Block Total**", "—", f"**{fmt_bytes(sum(l.activation_bytes for l in group))}**",
                 f"**{_n(sum(l.params for l in group))}**", f"**{fmt_flops(sum(l.forward_flops for l in group))}**"])
    return _md_table(["Layer", "Output Shape", "Memory", "Parameters", "FLOPs"], body)


def _backward_block_table(s, group):
    rows = backward_rows(s)
    last = len(s.layers) - 1
    body = [rows[last - l.index] for l in reversed(group)]
    body.append(["**Block Total**", "—", f"**{fmt_bytes(sum(l.input_grad_bytes for l in group))}**",
                 f"**{_n(sum(l.param_bytes for l in group))} B**",
                 f"**{fmt_flops(sum(l.backward_flops for l in group))}**"])
    return _md_table(["Layer", "Gradient Shape", "Memory", "Param Gradients", "FLOPs"], body)


def _numbered(groups):
    """``(block number or None, group)`` pairs: only groups of more than one layer are numbered blocks."""
    number, out = 0, []
    for g in groups:
        if len(g) > 1:
            number += 1
        out.append((number if len(g) > 1 else None, g))
    return out


def _forward_pass(s, groups):
    itemsize = s.dtype.itemsize
    parts = ["---\n# Forward Pass\n---", "## Input Layer", "### Given",
             f"- **Input Shape**: $({', '.join(_dims_symbol(s.input_shape))}) = {fmt_shape(s.input_shape)}$",
             "### Output", f"- **Output Shape**: {_shape(s.input_shape, 'in')}",
             f"- **Memory**: {_memory(s.input_shape, itemsize)}", "- **Parameters**: 0", "- **FLOPs**: 0"]
    for number, group in groups:
        if number is None:
            parts.append(_forward_layer(group[0], 2, s))
            continue
        parts.append(f"## Block {number}: {_block_title(group, '→')}")
        parts += [_forward_layer(l, 3, s) + "\n\n---" for l in group]
        parts += [f"### Block {number} Summary", _forward_block_table(s, group)]
    return parts


def _backward_pass(s, groups):
    parts = ["---\n# Backward Pass\n---",
             "During backpropagation, we compute gradients with respect to the parameters (to update the model) "
             "and to each layer's input (to pass on to the layer before), working backwards from the loss."]
    for number, group in reversed(groups):
        if number is None:
            parts.append(_backward_layer(group[0], 2, s))
            continue
        parts.append(f"## Block {number} Gradients: {_block_title(list(reversed(group)), '←')}")
        parts += [_backward_layer(l, 3, s) + "\n\n---" for l in reversed(group)]
        parts += [f"### Block {number} Backward Summary", _backward_block_table(s, group)]
    return parts


def _overview(s, groups):
    lines = [f"Input {fmt_shape(s.input_shape[1:])} per sample"]
    for number, group in groups:
        described = " → ".join(_kind_text(l.type).overview(l) for l in group)
        lines.append(f"Block {number}: {described}" if number else described)
    return ["## Architecture Overview", "```\n" + "\n    ↓\n".join(lines) + "\n```",
            f"**Batch Size**: $\\textcolor{{magenta}}{{N = {s.batch}}}$ for all calculations; values are "
            f"{s.dtype.name} ({s.dtype.itemsize} bytes each)."]


def _notation(s):
    kinds = list(dict.fromkeys(l.type for l in s.layers))
    rules = RULES.get(s.convention.name)
    parts = ["## Notation and Conventions", _md_table(["Symbol", "Meaning", "Color"], [
        [r"$\textcolor{magenta}{N}$", "Batch size", "Magenta"],
        [r"$\textcolor{blue}{C_{in}}$", "Input channels", "Blue"],
        [r"$\textcolor{orange}{H_{in}, W_{in}}$", "Input height and width", "Orange"],
        [r"$\textcolor{green}{C_{out}}$", "Output channels", "Green"],
        [r"$\textcolor{red}{H_{out}, W_{out}}$", "Output height and width", "Red"],
        [r"$\textcolor{purple}{k, k_h, k_w}$", "Kernel size", "Purple"],
        ["$s$", "Stride", "Black"], ["$p$", "Padding", "Black"]]),
        "### Key Formulas",
        "**Output Spatial Dimensions**:",
        r"$$H_{out} = \left\lfloor \frac{H_{in} + 2p - k}{s} \right\rfloor + 1$$",
        r"$$W_{out} = \left\lfloor \frac{W_{in} + 2p - k}{s} \right\rfloor + 1$$",
        f"**Memory ({s.dtype.name})**: Number of elements × {s.dtype.itemsize} bytes. "
        "KB = 1024 bytes, MB = 1024² bytes; M = 10⁶ FLOPs.",
        f"### Counting Convention `{s.convention.name}`", s.convention.description + "."]
    if rules:
        parts.append(_md_table(["Layer type", "Forward", "Backward"],
                               [[_kind_text(k).name or _kind_text(k).title, *rules.get(k, ("—", "—"))] for k in kinds]))
    parts.append("Bytes are the same under every convention; only the FLOP counts change. A FLOP is one scalar "
                 "operation of one kind: mul, add (subtractions included), cmp, div, special (exp, sqrt, log), or "
                 "mac (multiply-accumulate, under `macs` only).")
    return parts


def _statistics(s):
    t = s.totals()
    groups = s.by_type()
    itemsize = s.dtype.itemsize
    params = [[g, _n(v["params"]), _n(v["params"] * itemsize)] for g, v in groups.items() if v["params"]]
    params.append(["**Total Parameters**", f"**{_n(t['params'])}**", f"**{_n(t['param_bytes'])}**"])
    return ["---\n# Summary Tables\n---",
            "## Forward Pass Summary",
            _md_table(["Layer", "Input Shape", "Output Shape", "Memory", "Parameters", "FLOPs"], forward_rows(s)),
            "## Backward Pass Summary",
            _md_table(["Layer", "Gradient Shape", "Memory", "Param Grad Memory", "FLOPs"], backward_rows(s)),
            "## Total Network Statistics", "### Parameters",
            _md_table(["Component", "Count", "Memory (Bytes)"], params),
            f"### Memory Requirements (per batch of {s.batch})",
            _md_table(["Component", "Count", "Memory (Bytes)"], memory_rows(s)),
            "### Computational Cost", _md_table(["Pass", "FLOPs", "Percentage"], pass_rows(s)),
            f"Backward / forward: **{t['backward_forward_ratio']:.2f}**.",
            "### Computational Breakdown by Layer Type",
            _md_table(["Layer Type", "Forward FLOPs", "% of Total Forward"], type_rows(s))]


# --- notes on the seeds' own figures ------------------------------------------------------
def _matches_preset(s, name):
    """Whether the summarised network is preset ``name``: same input and same layer configurations."""
    layers, input_shape, _ = build_layers(PRESETS[name])
    ours = [(l.layer.kind, l.layer.config()) for l in s.layers]
    return tuple(input_shape) == tuple(s.input_shape[1:]) and ours == [(l.kind, l.config()) for l in layers]


#: figures seed 001 states in its totals, block summaries and type breakdown (its own rows disagree)
SEED001_STATED = {"activation_total": "22.2 MB", "conv_params": 93_184, "conv_param_bytes": 372_736,
                  "forward_total": "673.4 M", "backward_total": "1,334.0 M", "iteration_total": "2,007.4 M",
                  "conv1_backward": "113.0 M", "block_forward": ("63.8 M", "305.6 M", "303.9 M"),
                  "block_backward": ("120.2 M", "607.6 M", "605.9 M"), "batchnorm_forward": "9.1 M",
                  "pooling_forward": "1.8 M"}


def _seed001_notes(network_summary):
    """Where seed 001's hand-written totals contradict its own rows, with the consistent figures
    (computed here at seed 001's settings: batch 32, float32, the walkthrough convention)."""
    s = summary(PRESETS["seed-cnn"], batch=32, convention=WALKTHROUGH, dtype="float32")
    t, by_type, stated = s.totals(), s.by_type(), SEED001_STATED
    conv = [l for l in s.layers if l.type == "conv"]
    conv_params = sum(l.params for l in conv)
    groups = [g for n, g in _numbered(blocks(s.layers)) if n]

    def block_totals(pass_name, stated_key):
        """The blocks whose total the seed rounds differently: ``Block i: ours (seed: theirs)``."""
        ours = [fmt_flops(sum(getattr(l, pass_name) for l in g)) for g in groups]
        return ", ".join(f"Block {i}: {o} (seed: {t})" for i, (o, t) in enumerate(zip(ours, stated[stated_key]), 1)
                         if o != t)

    forward, backward = block_totals("forward_flops", "block_forward"), block_totals("backward_flops", "block_backward")
    pooling = sum(l.forward_flops for l in s.layers if l.type == "maxpool")
    return [
        "### Seed 001's inconsistencies",
        "This network is seed 001's CNN. Where the hand-written walkthrough contradicts its own rows, this document "
        "gives the consistent figure (at seed 001's settings: batch 32, float32, `walkthrough`):",
        f"- **Forward activation memory**: the seed's total reads {stated['activation_total']}, but its rows (the "
        f"input and every layer's output) add up to {_n(t['activation_bytes'])} bytes = "
        f"**{fmt_bytes(t['activation_bytes'])}** (the same 23.1 MB its backward table gives for the gradients).",
        f"- **Convolutional parameters**: the seed's table reads {_n(stated['conv_params'])} "
        f"({_n(stated['conv_param_bytes'])} bytes), but "
        f"{' + '.join(_n(l.params) for l in conv)} = **{_n(conv_params)}** ({_n(conv_params * s.dtype.itemsize)} "
        "bytes); with "
        f"its own batchnorm and fully connected rows only {_n(conv_params)} adds up to its total of {_n(t['params'])}.",
        f"- **Forward FLOPs**: the seed's total reads {stated['forward_total']}; its rows add up to "
        f"{_n(t['forward_flops'])} = **{fmt_flops(t['forward_flops'])}**.",
        f"- **Conv1 backward**: the seed reads {stated['conv1_backward']}, but twice its forward 56,623,104 is "
        f"**{_n(conv[0].backward_flops)}** ({fmt_flops(conv[0].backward_flops)}).",
        f"- **Backward FLOPs**: the seed's total reads {stated['backward_total']}; its rows (with Conv1 at twice its "
        f"forward) add up to {_n(t['backward_flops'])} = **{fmt_flops(t['backward_flops'])}**, and a training "
        f"iteration to {_n(t['total_flops'])} = **{fmt_flops(t['total_flops'])}** (seed: {stated['iteration_total']}).",
        f"- **Block totals** are sums of rounded rows in the seed. Forward: {forward}. Backward: {backward}.",
        f"- **Breakdown by layer type**: batch normalization is {fmt_flops(by_type['Batch Normalization']['forward_flops'])}"
        f" (seed: {stated['batchnorm_forward']}, the sum of its rounded rows); the seed's pooling row "
        f"({stated['pooling_forward']}) counts the max pooling layers only ({fmt_flops(pooling)}) and leaves "
        f"global average pooling ({_n(by_type['Pooling']['forward_flops'] - pooling)} FLOPs) out of the table; "
        f"here it is counted with pooling.",
        "- **Conv1's text** lists 27 multiplications, 27 additions and 1 bias addition per output but counts "
        "$2 \\times 27 = 54$: a dot product of 27 terms takes 26 additions, and the bias add makes 27. The "
        "`walkthrough` convention keeps the seed's 54; `exact` counts 27 mul + 26 add + 1 bias add.",
    ]


def _homework_notes(network_summary):
    """Seed 003's Q1: why its 264,600 additions are 17,052 short of what the convolution executes."""
    from .conventions import EXACT

    s = summary(PRESETS["homework3-q1"], batch=1, convention=EXACT, dtype="float32")
    conv, pool = s.layers[0], s.layers[2]
    N, C, F, Ho, Wo, kh, kw = _conv_sizes(conv)
    outputs, K = N * F * Ho * Wo, C * kh * kw
    add, mul = conv.flops.forward.add, conv.flops.forward.mul
    homework = Ho * Wo * (kh * kw - 1) * F * C
    missing = outputs * (C - 1)
    return [
        "### Seed 003, Q1",
        f"This network is the homework's Q1 (batch 1, `exact` counts). Its output sizes agree with the homework: "
        f"$\\lceil (14 + 2 \\cdot 1 - 4 + 1) / 2 \\rceil = {Ho}$ is the same as "
        f"$\\lfloor (14 + 2 \\cdot 1 - 4) / 2 \\rfloor + 1 = {Ho}$, and the pool gives {pool.output_shape[2]}.",
        f"- **Multiplications**: ${Ho}^2 \\times {C} \\times {kh}^2 \\times {F} = {_n(mul)}$, as the homework.",
        f"- **Additions**: each of the ${F} \\times {Ho} \\times {Wo} = {outputs}$ outputs is one dot product of "
        f"length $C \\cdot k^2 = {C} \\times {kh * kw} = {K}$, which takes {K - 1} additions: "
        f"${outputs} \\times {K - 1} = {_n(add)}$ (the convolution has no bias, so no bias additions). The homework "
        f"counts $7^2 \\times (4^2 - 1) \\times 12 \\times 30 = {_n(homework)}$: the {kh * kw - 1} additions inside "
        f"each channel's {kh}×{kw} window, but not the {C - 1} additions per output that sum the {C} channels' "
        f"partial sums: ${outputs} \\times {C - 1} = {_n(missing)}$ additions are missing, and "
        f"${_n(homework)} + {_n(missing)} = {_n(homework + missing)}$.",
        f"- **Max pooling**: ${pool.output_shape[2]}^2 \\times {F} \\times (3^2 - 1) = {_n(pool.flops.forward.cmp)}$ "
        "comparisons, as the homework.",
        f"- **Total** of C and P: ${_n(mul)} + {_n(add)} + {_n(pool.flops.forward.cmp)} = "
        f"{_n(mul + add + pool.flops.forward.cmp)}$ (the homework: {_n(mul + homework + pool.flops.forward.cmp)}). "
        "The ReLU and the affine layer of the preset are not part of the homework's question.",
    ]


NOTES = {"seed-cnn": _seed001_notes, "homework3-q1": _homework_notes}


def _notes(s):
    parts = ["## Notes",
             "Every figure above is computed from shapes alone by the same layer objects that train; memory counts "
             "values of the network's dtype, except max pooling's argmax indices (8-byte integers)."]
    step_note = s.step_note()  # the backward tables above count every layer's whole backward pass, as seed 001 does
    if step_note:
        parts.append(step_note)
    for name, notes in NOTES.items():
        if _matches_preset(s, name):
            parts += notes(s)
    return parts


def _contents(groups):
    lines = ["## Table of Contents", "1. Architecture Overview", "2. Notation and Conventions", "3. Forward Pass",
             "   - Input Layer"]
    names = [f"Block {n}: {_block_title(g, '→')}" if n else g[0].name for n, g in groups]
    lines += [f"   - {x}" for x in names] + ["4. Backward Pass"]
    lines += [f"   - {x.split(':')[0]} Gradients" for x in reversed(names)]
    lines += ["5. Summary Tables", "6. Notes"]
    return "\n".join(lines)


def walkthrough(network, batch=None, convention="walkthrough", dtype=None):
    """Seed 001's end-to-end walkthrough of ``network`` as markdown with LaTeX math.

    - network: a model object (Sequential, FullyConnectedNet), a spec dict, a YAML spec path or a preset name
    - batch: batch size (default: the model's or spec's, else 32)
    - convention: ``"walkthrough"`` (default, seed 001's counts), ``"exact"``, ``"macs"``, ``"torch"`` or a
      :class:`~tallynet.cost.Convention`
    - dtype: ``"float16"``, ``"float32"`` or ``"float64"`` (default: the model's); changes the bytes
    """
    s = summary(network, batch=batch, convention=convention, dtype=dtype)
    groups = _numbered(blocks(s.layers))
    parts = [f"# {s.name}: Theoretical Walkthrough",
             "This document provides a comprehensive theoretical analysis of the network, examining both the forward "
             "and backward passes with detailed calculations of output dimensions, memory requirements "
             f"({s.dtype.name}), parameter counts and computational cost (FLOPs, convention `{s.convention.name}`). "
             "It was generated by tallynet from the layer objects themselves.",
             _contents(groups)]
    parts += _overview(s, groups) + _notation(s) + _forward_pass(s, groups) + _backward_pass(s, groups)
    parts += _statistics(s) + _notes(s)
    return _join(parts) + "\n"
