"""Notes on the seeds' own figures, for the walkthroughs of the seeds' networks.

The seeds (``docs/seeds.md``) are hand-written course notes and homework answers.
Where seed 001's walkthrough of its CNN contradicts its own rows, and where seed
003's Q1 answer leaves additions out, the generated walkthrough of that network
says so, giving both figures; everything stated here is computed from the cost
model, except the figures the seeds state, which are quoted in
:data:`SEED001_STATED`.
"""

from ..models.presets import PRESETS
from ..models.spec import build_layers
from .conventions import EXACT, WALKTHROUGH
from .analysis import WhatIf, conv_macs, fully_connected_alternative, percent_change
from .render import fmt_bytes, fmt_flops, fmt_flops_unit
from .summary import blocks, summary


def _n(v):
    return f"{v:,}"


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
    groups = [g for g in blocks(s.layers) if len(g) > 1]  # the three conv blocks

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


#: seed 001's closing claims about its CNN ("Analysis and Insights"), quoted, and the figure each states
SEED001_CLAIMS = {
    "fc": ("a single FC layer from 32×32×3 flattened input to 128 features would require 393,344 parameters",
           393_344),
    "backward": ("Backward pass requires approximately 2× the FLOPs of the forward pass", 2),
    "adam": ("For Adam optimizer, multiply memory by ~3×", 3),
    "depthwise": ("Depthwise separable convolutions: Can reduce FLOPs by 8-9×", (8, 9)),
    "mixed": ("Mixed precision training: Use FP16 instead of FP32 → 2× memory reduction", 2),
    "input": ("Doubling input resolution (32×32 → 64×64): 4× memory, 4× FLOPs", 4),
    "channels": ("Doubling channels at each layer: 4× parameters, 4× FLOPs", 4),
    "block": ("Adding one more conv block: +~300M FLOPs, +~74K parameters", (300e6, 74e3)),
}

#: how far a computed figure may lie from an approximate claim ("~3×", "+~300M") and still bear it out
CLAIM_TOLERANCE = 0.1


def _verdict(value, claimed):
    """``**holds**`` when ``value`` is within :data:`CLAIM_TOLERANCE` of ``claimed`` (a figure or a range)."""
    low, high = claimed if isinstance(claimed, tuple) else (claimed, claimed)
    holds = low * (1 - CLAIM_TOLERANCE) <= value <= high * (1 + CLAIM_TOLERANCE)
    return "**holds**" if holds else "**does not hold**"


def _seed001_claim_notes(network_summary):
    """Seed 001's closing claims, each against the figure the analysis computes (at seed 001's settings)."""
    w = WhatIf(PRESETS["seed-cnn"], batch=32, convention=WALKTHROUGH, dtype="float32")
    x = WhatIf(PRESETS["seed-cnn"], batch=32, convention=EXACT, dtype="float32")
    claims = {key: (f'*"{quote}"*', claimed) for key, (quote, claimed) in SEED001_CLAIMS.items()}
    t, adam, block = w.totals(), w.totals("optimizer=adam"), w.totals("blocks=+1")
    fc = fully_connected_alternative(w.summary())[2]
    adam_params = (adam["param_bytes"] + adam["optimizer_state_bytes"]) / adam["param_bytes"]
    macs = conv_macs(w.summary("depthwise", convention="macs")) / conv_macs(w.summary(convention="macs"))
    every, first_kept = (1 / x.ratio("forward_flops", v) for v in ("depthwise", "depthwise=keep-first"))
    mixed = 1 / w.ratio("peak_bytes_estimate", "mixed")
    memory, peak, flops = (w.ratio(k, "input=3x64x64") for k in ("activation_bytes", "peak_bytes_estimate",
                                                                 "forward_flops"))
    params, channel_flops = w.ratio("params", "width=2"), w.ratio("forward_flops", "width=2")
    block_flops, block_params = block["forward_flops"] - t["forward_flops"], block["params"] - t["params"]
    s = w.summary()
    conv3 = [l for l in s.layers if l.type == "conv"][-1]
    (fc_quote, fc_claim), (bwd_quote, bwd_claim), (adam_quote, adam_claim), (dw_quote, dw_claim), \
        (mixed_quote, mixed_claim), (input_quote, input_claim), (width_quote, width_claim), \
        (block_quote, (flops_claim, params_claim)) = claims.values()
    return [
        "### Seed 001's analysis, checked",
        "Seed 001 ends with claims about this CNN; the Analysis and Insights above computes each (batch 32, "
        "float32, `walkthrough` unless stated). Where one does not hold, both figures:",
        f"- {fc_quote}: {_n(fc)} parameters, {_verdict(fc, fc_claim)}.",
        f"- {bwd_quote}: {t['backward_forward_ratio']:.2f}, {_verdict(t['backward_forward_ratio'], bwd_claim)}.",
        f"- {adam_quote}: the parameters' memory with Adam's two moments ×{adam_params:.2f}, "
        f"{_verdict(adam_params, adam_claim)}; a training step's memory, its peak, goes from "
        f"{fmt_bytes(t['peak_bytes_estimate'])} to {fmt_bytes(adam['peak_bytes_estimate'])}: "
        f"**{percent_change(adam['peak_bytes_estimate'] / t['peak_bytes_estimate'])}** "
        f"(×{adam['peak_bytes_estimate'] / t['peak_bytes_estimate']:.2f}), "
        f"{_verdict(adam['peak_bytes_estimate'] / t['peak_bytes_estimate'], adam_claim)}.",
        f"- {dw_quote}: the convolutions' multiply-accumulates ÷{1 / macs:.2f}, {_verdict(1 / macs, dw_claim)}; "
        f"the whole network's forward FLOPs (`exact`) only **÷{every:.2f}** with every convolution replaced and "
        f"**÷{first_kept:.2f}** with the first kept standard (under `walkthrough` "
        f"÷{1 / w.ratio('forward_flops', 'depthwise'):.2f} and ÷{1 / w.ratio('forward_flops', 'depthwise=keep-first'):.2f}"
        f"), {_verdict(every, dw_claim)}: batchnorm, ReLU and pooling do not shrink.",
        f"- {mixed_quote}: the step's peak ÷{mixed:.2f}, {_verdict(mixed, mixed_claim)}.",
        f"- {input_quote}: activations ×{memory:.2f}, the step's peak ×{peak:.2f}, forward FLOPs ×{flops:.2f}, "
        f"{_verdict(min(memory, peak, flops), input_claim)}.",
        f"- {width_quote}: parameters ×{params:.2f}, forward FLOPs ×{channel_flops:.2f} (Conv1 reads the "
        f"{s.input_shape[1]} input channels, the classifier writes {s.layers[-1].output_shape[1]} classes), "
        f"{_verdict(min(params, channel_flops), width_claim)}.",
        f"- {block_quote}: a fourth block of {conv3.layer.filters * 2} filters adds "
        f"{fmt_flops_unit(block_flops)}, {_verdict(block_flops, flops_claim)}, but **{_n(block_params)}** "
        f"parameters, not ~74K: {_verdict(block_params, params_claim)} (74K is Conv3's {_n(conv3.params)}, the "
        "third block's convolution).",
    ]


def _homework_notes(network_summary):
    """Seed 003's Q1: why its 264,600 additions are 17,052 short of what the convolution executes."""
    s = summary(PRESETS["homework3-q1"], batch=1, convention=EXACT, dtype="float32")
    conv, pool = s.layers[0], s.layers[2]
    (N, C, _, _), (_, F, Ho, Wo), kh, kw = conv.input_shape, conv.output_shape, conv.layer.kh, conv.layer.kw
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


#: the presets that are a seed's network, with the notes their walkthrough gets
NOTES = {"seed-cnn": (_seed001_notes, _seed001_claim_notes), "homework3-q1": (_homework_notes,)}


def seed_notes(s):
    """The notes for summary ``s`` when its network is one of the seeds' (else [])."""
    return [line for name, notes in NOTES.items() if _matches_preset(s, name) for note in notes for line in note(s)]


