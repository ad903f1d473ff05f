"""``walkthrough(network)``: the document seed 001 was written by hand, generated for any network.

Markdown with LaTeX math: the architecture; the notation and the counting
convention's rules; then, layer by layer, the forward pass (Given, Output
Dimensions with the numbers substituted, Memory, Parameters, FLOPs) grouped in
blocks with block summaries; the backward pass in reverse (gradient shape and
memory, parameter gradients, FLOPs split into the input and parameter
gradients); seed 001's summary tables; its analysis (:mod:`tallynet.cost.analysis`); and notes where the network is one of
the seeds' (where the hand-written figures disagree with themselves, see
:mod:`tallynet.cost.seed_notes`).

A *block* is a convolution or affine layer and the layers after it, up to and
including the next pooling layer or up to the next convolution / affine layer.
A layer outside any block, or a block of one layer, gets a section of its own.

Every figure comes from the :class:`~tallynet.cost.summary.Summary`, and every
FLOP derivation is the list of named terms the layer class itself states under
the convention (``Convention.terms``), whose sum *is* the layer's count: the
document derives nothing of its own. The prose (titles, hyperparameters, output
dimensions, parameters, gradient formulas, the convention's rules) is the layer
class's too.
"""

import numpy as np

from ..layers._text import dims_symbol, n as _n, times as _times
from .render import _md_table, backward_rows, fmt_bytes, fmt_flops, fmt_flops_unit, fmt_shape, forward_rows, memory_rows, pass_rows, \
    type_rows
from .analysis import analysis
from .seed_notes import seed_notes
from .summary import blocks, summary


def _shape(shape, role="in"):
    """A shape in seed 001's colours: batch magenta, channels blue (input) or green (output),
    spatial orange (input) or red (output); a merge's list of shapes joined with +."""
    if isinstance(shape, list):
        return " + ".join(_shape(s, role) for s in shape)
    channel, spatial = ("blue", "orange") if role == "in" else ("green", "red")
    colours = ["magenta", channel] + [spatial] * (len(shape) - 2)
    return "$(" + ", ".join(fr"\textcolor{{{c}}}{{{d}}}" for c, d in zip(colours, shape)) + ")$"


def _memory(shape, itemsize):
    """``32 x 32 x 32 x 32 = 1,048,576 elements x 4 bytes = **4,194,304 bytes** (4.0 MB)``; a
    merge's list of shapes, one after the other."""
    if isinstance(shape, list):
        return "; ".join(_memory(s, itemsize) for s in shape)
    n = int(np.prod(shape))
    return (f"${_times(_n(d) for d in shape)} = {_n(n)}$ elements $\\times$ {itemsize} bytes = "
            f"**{_n(n * itemsize)} bytes** ({fmt_bytes(n * itemsize)})")


def term_line(t):
    """``- label: $symbol = f1 x f2 = value$ (kinds)``: one term of a derivation."""
    value = _n(t.ops.total)
    numbers = _times(_n(f) for f in t.factors)
    expr = f"{t.symbol} = {numbers} = {value}" if len(t.factors) > 1 else f"{t.symbol} = {value}"
    kinds = ", ".join(f"{_n(v)} {k}" for k, v in t.ops.as_dict().items() if v)
    return f"- {t.label}: ${expr}$ ({kinds or 'none'})"


def flop_terms(l, convention):
    """``{part: [Term]}``: layer cost ``l``'s count under ``convention``, term by term, or None
    for a convention that states only totals (a user's that overrides ``flops`` alone)."""
    try:
        return convention.terms(l.layer, l.input_shape)
    except NotImplementedError:
        return None


# --- sections -----------------------------------------------------------------------------
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
    return f" \\approx \\textbf{{{fmt_flops_unit(n)}}}" if n >= 1e4 else ""  # below 10^4 nothing is rounded


def _forward_flops_lines(l, terms, convention):
    """The forward FLOPs: a single term as seed 001 writes it (the formula, then the numbers),
    several as a list of terms and their sum."""
    chosen = (terms or {}).get("forward", [])
    if len(chosen) != 1:
        return [term_line(t) for t in chosen] + _total_lines(l.flops.forward, [t.ops.total for t in chosen], convention)
    t = chosen[0]
    return [f"{t.label}:", f"$$\\text{{FLOPs}} = {t.symbol}$$",
            f"$$= {_times(_n(f) for f in t.factors)} = {_n(t.ops.total)}{_approx(t.ops.total)}$$"] + \
        _total_lines(l.flops.forward, [], convention)[1:]


def _forward_layer(l, level, s):
    layer = l.layer
    itemsize = s.dtype.itemsize
    out = [_heading(level, f"{l.name}: {layer.title}"), _heading(level + 1, "Given"),
           f"- **Input Shape**: {_shape(l.input_shape, 'in')}"] + layer.given_lines(l.input_shape)
    dims = layer.dims_lines(l.input_shape)
    out += [_heading(level + 1, "Output Dimensions" if dims else "Output")] + dims + [
        f"- **Output Shape**: {_shape(l.output_shape, 'out')}" + ("" if dims or l.output_shape != l.input_shape
                                                                   else " (unchanged)")]
    out += [_heading(level + 1, "Memory"), f"- **Activations**: {_memory(l.output_shape, itemsize)}"]
    saved = s.memory.saved_line(layer, l.input_shape, s.dtype, l.training_pass)
    out += [saved] if saved else []
    if l.cache_bytes:
        out.append(f"- **Kept for the backward pass** (besides input and output, memory model `{s.memory.name}`): "
                   f"**{_n(l.cache_bytes)} bytes** ({fmt_bytes(l.cache_bytes)})")
    out += [_heading(level + 1, "Parameters")] + layer.param_lines(l.input_shape, itemsize)
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
    terms = flop_terms(l, s.convention)
    out = [_heading(level, f"{l.name} Gradients"), _heading(level + 1, "Given"),
           f"- **Forward**: {fmt_shape(l.input_shape)} → {fmt_shape(l.output_shape)}",
           f"- **Gradient from the next layer**: $\\frac{{\\partial \\mathcal{{L}}}}{{\\partial y}}$ with shape "
           f"{fmt_shape(l.output_shape)}",
           _heading(level + 1, "Gradient Computation"), l.layer.gradient_text,
           _heading(level + 1, "Memory"),
           f"- **Input gradient** {fmt_shape(l.input_shape)}: {_memory(l.input_shape, s.dtype.itemsize)}",
           _heading(level + 1, "Parameter Gradients")] + _param_grad_lines(l, s.dtype.itemsize)
    out.append(_heading(level + 1, "FLOPs"))
    addends = []
    for part, label in (("backward_input", "Input gradient"), ("backward_params", "Parameter gradients")):
        if part == "backward_input" or l.params or l.flops.backward_params.total:
            addends.append(getattr(l.flops, part).total)
            out.append(f"**{label}**: {_n(addends[-1])}")
            out += [term_line(t) for t in (terms or {}).get(part, [])]
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
             f"- **Input Shape**: $({', '.join(dims_symbol(s.input_shape))}) = {fmt_shape(s.input_shape)}$",
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
        described = " → ".join(l.layer.describe(l.input_shape) for l in group)
        lines.append(f"Block {number}: {described}" if number else described)
    return ["## Architecture Overview", "```\n" + "\n    ↓\n".join(lines) + "\n```",
            f"**Batch Size**: $\\textcolor{{magenta}}{{N = {s.batch}}}$ for all calculations; values are "
            f"{s.dtype.name} ({s.dtype.itemsize} bytes each)."]


def _notation(s):
    kinds = list(dict.fromkeys(type(l.layer) for l in s.layers))  # each layer type once, in network order
    name = s.convention.name
    rules = [[cls.rule_label, *cls.rules.get(name, ("—", "—"))] for cls in kinds]
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
        f"**Memory model `{s.memory.name}`**: what is kept for the backward pass and the peak of a training "
        f"step describe {s.memory.description}.",
        f"### Counting Convention `{s.convention.name}`", s.convention.description + "."]
    if any(name in cls.rules for cls in kinds):
        parts.append(_md_table(["Layer type", "Forward", "Backward"], rules))
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


def _merge_notes(s):
    """How each convention counts the merge nodes of a graph (seed 001 has none)."""
    merges = list(dict.fromkeys(type(l.layer) for l in s.layers if l.layer.group == "Merge"))
    if not merges:
        return []
    lines = ["### Merge nodes",
             "Seed 001's network has no branches; where this one's meet, each convention counts the merge as "
             "follows (forward; backward):"]
    for cls in merges:
        rules = "; ".join(f"`{name}`: {forward}; {backward}" for name, (forward, backward) in cls.rules.items())
        lines.append(f"- **{cls.display_name}** ({cls.title}): {rules}; `macs` and `torch`: nothing (they count "
                     "the multiply-accumulates of convolutions and matrix products only).")
    return lines


def _notes(s):
    parts = ["## Notes",
             "Every figure above is computed from shapes alone by the same layer objects that train; memory counts "
             "values of the network's dtype, except max pooling's argmax indices (8-byte integers)."]
    step_note = s.step_note()  # the backward tables above count every layer's whole backward pass, as seed 001 does
    if step_note:
        parts.append(step_note)
    return parts + _merge_notes(s) + seed_notes(s)


def _contents(groups):
    lines = ["## Table of Contents", "1. Architecture Overview", "2. Notation and Conventions", "3. Forward Pass",
             "   - Input Layer"]
    names = [f"Block {n}: {_block_title(g, '→')}" if n else g[0].name for n, g in groups]
    lines += [f"   - {x}" for x in names] + ["4. Backward Pass"]
    lines += [f"   - {x.split(':')[0]} Gradients" for x in reversed(names)]
    lines += ["5. Summary Tables", "6. Analysis and Insights", "7. Notes"]
    return "\n".join(lines)


def walkthrough(network, batch=None, convention="walkthrough", dtype=None, memory="tallynet"):
    """Seed 001's end-to-end walkthrough of ``network`` as markdown with LaTeX math.

    - network: a model object (Sequential, FullyConnectedNet), a spec dict, a YAML spec path or a preset name
    - batch: batch size (default: the model's or spec's, else 32)
    - convention: ``"walkthrough"`` (default, seed 001's counts), ``"exact"``, ``"macs"``, ``"torch"`` or a
      :class:`~tallynet.cost.Convention`
    - dtype: ``"float16"``, ``"float32"`` or ``"float64"`` (default: the model's); changes the bytes
    - memory: the memory model of what is kept and of the peak, ``"tallynet"`` (its own kernels) or
      ``"torch"`` (a PyTorch CPU training step of the same network)
    """
    s = summary(network, batch=batch, convention=convention, dtype=dtype, memory=memory)
    groups = _numbered(blocks(s.layers))
    parts = [f"# {s.name}: Theoretical Walkthrough",
             "This document provides a comprehensive theoretical analysis of the network, examining both the forward "
             "and backward passes with detailed calculations of output dimensions, memory requirements "
             f"({s.dtype.name}), parameter counts and computational cost (FLOPs, convention `{s.convention.name}`). "
             "It was generated by tallynet from the layer objects themselves.",
             _contents(groups)]
    parts += _overview(s, groups) + _notation(s) + _forward_pass(s, groups) + _backward_pass(s, groups)
    parts += _statistics(s) + analysis(network, s) + _notes(s)
    return _join(parts) + "\n"
