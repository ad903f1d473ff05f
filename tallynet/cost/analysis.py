"""The walkthrough's "Analysis and Insights": seed 001's closing analysis, computed for any network.

Every statement is a figure of the cost model run on the network and on its variants
(:mod:`tallynet.cost.variants`): with Adam, with depthwise-separable convolutions, in mixed
precision, at twice the input resolution, with twice the channels, with one more block.
The variants are sized at the document's batch, convention and dtype.

:data:`SECTIONS` lists ``(title, [statement, ...])``; a statement is a function of a
:class:`WhatIf` that returns its bullet lines ([] where it does not apply to the network). A
new statement is one function appended to its section's list.
"""

import numpy as np

from ..layers._text import n as _n
from .conventions import get_convention
from .render import fmt_bytes, fmt_flops, fmt_flops_unit, fmt_ratio, fmt_shape
from .summary import summary
from .transforms import classifier_index, last_block, separable_candidates, spec_of
from .variants import TransformError, Variant, transformed


class WhatIf:
    """A network and its variants at one batch, convention and dtype; each summary computed once.

    ``summary(*transformations)`` (``"width=2"``, ``"mixed"``), ``totals(...)``, with
    ``convention=`` to size one under another convention (the convolutions' MACs under ``macs``).
    """

    def __init__(self, network, batch=None, convention="walkthrough", dtype=None):
        spec = spec_of(network)
        self.base = Variant(spec.get("name") or "network", spec, {"dtype": dtype} if dtype else {})
        self.batch, self.convention = batch, get_convention(convention)
        self._summaries, self._totals = {}, {}

    def summary(self, *transformations, convention=None):
        convention = get_convention(convention or self.convention)
        key = (transformations, convention.name)
        if key not in self._summaries:
            variant = transformed(self.base, *transformations)
            self._summaries[key] = variant.summary(batch=self.batch, convention=convention)
        return self._summaries[key]

    def totals(self, *transformations, convention=None):
        key = (transformations, get_convention(convention or self.convention).name)
        if key not in self._totals:
            self._totals[key] = self.summary(*transformations, convention=convention).totals()
        return self._totals[key]

    def ratio(self, key, *transformations, convention=None):
        """A total of the variant over the network's: ``ratio("params", "width=2")``."""
        return self.totals(*transformations, convention=convention)[key] / self.totals(convention=convention)[key]


def conv_macs(s):
    """The multiply-accumulates of the convolutions of summary ``s`` (sized under ``macs``)."""
    return sum(l.forward_flops for l in s.layers if l.layer.group == "Convolution")


def fully_connected_alternative(s):
    """``(inputs, features, parameters)`` of one affine layer from the flattened input to the features
    the classifier reads, or None for a network without a classifier."""
    c = classifier_index([(l.layer, l.inputs) for l in s.layers])
    if c is None:
        return None
    shape = s.layers[c].input_shape
    features = shape[1] if s.layers[c].type != "affine" else int(np.prod(shape[1:]))
    inputs = int(np.prod(s.input_shape[1:]))
    params = summary({"input": [inputs], "layers": [{"affine": {"units": features}}]}).totals()["params"]
    return inputs, features, params


def percent_change(r):
    return f"{100 * (r - 1):+.1f} %"


# --- the statements -----------------------------------------------------------------------
def _parameters(w):
    s, t = w.summary(), w.totals()
    lines = [f"- Total parameters: **{_n(t['params'])}**."]
    fc = fully_connected_alternative(s)
    if fc:
        inputs, features, params = fc
        dims = " × ".join(str(d) for d in s.input_shape[1:]) + " = " if len(s.input_shape) > 2 else ""
        lines.append(f"- A single fully connected layer from the flattened input ({dims}{_n(inputs)} values) to "
                     f"the {_n(features)} features the classifier reads would alone have {_n(inputs)} × "
                     f"{_n(features)} + {_n(features)} = **{_n(params)}** parameters "
                     f"({fmt_ratio(params / t['params'])} against this whole network).")
    return lines


def _memory(w):
    t = w.totals()
    lines = [f"- Forward activations (the input and every layer's output): **{fmt_bytes(t['activation_bytes'])}**; "
             f"the predicted peak of a training step with SGD: **{fmt_bytes(t['peak_bytes_estimate'])}**."]
    if not t["params"]:
        return lines
    for rule, state in (("adam", "its two moments"), ("momentum", "its velocity")):
        v = w.totals(f"optimizer={rule}")
        kept = (v["param_bytes"] + v["optimizer_state_bytes"]) / v["param_bytes"]
        lines.append(f"- `optimizer={rule}` keeps {state} beside each parameter: the parameters and their "
                     f"optimizer state take {fmt_bytes(v['param_bytes'] + v['optimizer_state_bytes'])} "
                     f"(**{fmt_ratio(kept)}** the parameters' {fmt_bytes(t['param_bytes'])}), the step's peak "
                     f"{fmt_bytes(v['peak_bytes_estimate'])} "
                     f"(**{percent_change(v['peak_bytes_estimate'] / t['peak_bytes_estimate'])}**).")
    return lines


def _compute(w):
    s, t = w.summary(), w.totals()
    if not t["forward_flops"]:
        return []
    groups = s.by_type()
    top = max(groups, key=lambda g: groups[g]["forward_flops"])
    costly = max(s.layers, key=lambda l: l.forward_flops)
    share = 100 * groups[top]["forward_flops"] / t["forward_flops"]
    return [f"- Backward / forward FLOPs: **{t['backward_forward_ratio']:.2f}** (`{s.convention.name}`): a layer "
            "with parameters computes the gradient of its input and that of its parameters, each about as costly "
            "as its forward pass.",
            f"- The {top} layers take **{share:.1f} %** of the forward FLOPs; the most costly layer is {costly.name} "
            f"({fmt_flops_unit(costly.forward_flops)}, {100 * costly.forward_flops / t['forward_flops']:.1f} %)."]


def _depthwise(w):
    candidates = separable_candidates(w.base.spec)
    if not candidates:
        return []
    macs = [conv_macs(w.summary(*v, convention="macs")) for v in ((), ("depthwise",))]
    line = (f"- **Depthwise-separable convolutions** (`depthwise`: each k×k convolution becomes a k×k depthwise and "
            f"a 1×1 pointwise convolution): the convolutions' multiply-accumulates fall from "
            f"{fmt_flops(macs[0])} to {fmt_flops(macs[1])} (**{fmt_ratio(macs[1] / macs[0])}**), the parameters "
            f"{fmt_ratio(w.ratio('params', 'depthwise'))}, the whole network's forward FLOPs "
            f"**{fmt_ratio(w.ratio('forward_flops', 'depthwise'))}** (`{w.convention.name}`; the other layers do not "
            "shrink)")
    if len(candidates) > 1:
        line += (f", and {fmt_ratio(w.ratio('forward_flops', 'depthwise=keep-first'))} with the first convolution "
                 "kept standard, as MobileNet keeps it (`depthwise=keep-first`)")
    return [line + "."]


def _precision(w):
    t, m, h = w.totals(), w.totals("mixed"), w.totals("dtype=float16")
    dtype = w.summary().dtype.name
    return [f"- **Mixed precision** (`mixed`: float16 activations; float32 parameters, gradients and optimizer "
            f"state, as PyTorch's autocast trains, with float16 copies of the weights): the step's peak "
            f"{fmt_bytes(t['peak_bytes_estimate'])} → {fmt_bytes(m['peak_bytes_estimate'])} "
            f"(**{fmt_ratio(m['peak_bytes_estimate'] / t['peak_bytes_estimate'])}** against {dtype}), activations "
            f"{fmt_ratio(m['activation_bytes'] / t['activation_bytes'])}; float16 throughout (`dtype=float16`): "
            f"peak {fmt_ratio(h['peak_bytes_estimate'] / t['peak_bytes_estimate'])}. The FLOPs do not change."]


def _resolution(w):
    shape = w.summary().input_shape[1:]
    if len(shape) != 3:
        return []
    doubled = f"input={shape[0]}x{2 * shape[1]}x{2 * shape[2]}"
    title = f"- **Doubling the input resolution** ({shape[1]}×{shape[2]} → {2 * shape[1]}×{2 * shape[2]}, `{doubled}`)"
    try:
        ratios = [fmt_ratio(w.ratio(k, doubled)) for k in ("activation_bytes", "peak_bytes_estimate", "forward_flops",
                                                          "params")]
    except TransformError as err:
        return [f"{title}: not computed: {err}."]
    return [f"{title}: activations **{ratios[0]}**, the step's peak {ratios[1]}, forward FLOPs **{ratios[2]}**, "
            f"parameters {ratios[3]}."]


def _width(w):
    s = w.summary()
    c = classifier_index([(l.layer, l.inputs) for l in s.layers])
    if c is None or not any(l.type in ("conv", "conv_transpose", "affine") for l in s.layers[:c]):
        return []
    title = "- **Doubling the channels** (`width=2`: every convolution's filters and hidden layer's units)"
    try:
        ratios = [fmt_ratio(w.ratio(k, "width=2")) for k in ("params", "forward_flops", "activation_bytes",
                                                            "peak_bytes_estimate")]
    except TransformError as err:  # e.g. a reshape to a fixed number of channels
        return [f"{title}: not computed: {err}."]
    return [f"{title}: "
            f"parameters **{ratios[0]}**, forward FLOPs **{ratios[1]}**, activations {ratios[2]}, the step's peak "
            f"{ratios[3]}. A layer's weights and FLOPs grow with its input and its output channels together (×4) "
            f"where both double; the network's input {fmt_shape(s.input_shape[1:])} and the classifier's "
            f"{s.layers[c].output_shape[1]} outputs stay as they are."]


def _block(w):
    title = "- **One more block** like the last (`blocks=+1`"
    try:
        last = last_block(w.base.spec)
        more, t = w.summary("blocks=+1"), w.totals()
    except (TransformError, ValueError) as err:
        return [f"{title}): not computed: {err}."]
    new = more.layers[last[-1].index + 1:last[-1].index + 1 + len(last)]
    added = more.totals()["params"] - t["params"]
    in_block = sum(l.params for l in new)
    parts = " + ".join(f"{l.name} {_n(l.params)}" for l in new if l.params)
    unit = "channels" if len(new[-1].output_shape) == 4 else "features"
    rest = (f" + {_n(added - in_block)} in the layers after it, which read {new[-1].output_shape[1]} {unit} "
            f"instead of {last[-1].output_shape[1]}" if added != in_block else "")
    return [f"{title}: {' → '.join(l.layer.describe(l.input_shape) for l in new)}): **+{_n(added)}** parameters "
            f"({parts}{rest}), **+{fmt_flops_unit(more.totals()['forward_flops'] - t['forward_flops'])}** forward."]


#: the section's subsections and their statements, in order
SECTIONS = [
    ("1. Parameter Efficiency", [_parameters]),
    ("2. Memory Requirements", [_memory]),
    ("3. Computational Cost", [_compute]),
    ("4. Optimization Opportunities", [_depthwise, _precision]),
    ("5. Scaling Considerations", [_resolution, _width, _block]),
]


def analysis(network, s):
    """The markdown parts of the "Analysis and Insights" section for ``network``, whose walkthrough
    summary is ``s`` (its batch, convention and dtype are the variants')."""
    w = WhatIf(network, batch=s.batch, convention=s.convention, dtype=s.dtype.name)
    parts = ["## Analysis and Insights",
             "Each figure below is the cost model run on this network and on a variant of it (`tallynet compare` "
             f"writes them as `NETWORK@variant`), at batch {s.batch}, {s.dtype.name}, convention "
             f"`{s.convention.name}`; × and ÷ compare with this network."]
    for title, statements in SECTIONS:
        lines = [line for statement in statements for line in statement(w)]
        if lines:
            parts += [f"### {title}"] + lines
    return parts
