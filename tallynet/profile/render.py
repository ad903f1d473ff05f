"""Renderings of a :class:`~tallynet.profile.profiler.Profile`, with the Summary's helpers and units
(KB = 1024 bytes, M = 10^6 FLOPs). A counted FLOP figure is marked ✓ when it equals the
prediction kind by kind, ✗ otherwise.
"""

import csv
import html
import io
import json

from ..cost.render import _html_table, _md_table, fmt_bytes, fmt_flops
from ..counts import Ops

LAYER_HEADER = ["Layer", "Fwd FLOPs predicted", "Fwd FLOPs counted", "Bwd FLOPs predicted", "Bwd FLOPs counted",
                "Cache predicted", "Cache measured", "Fwd ms", "Bwd ms", "GFLOP/s", "% of step"]
#: the same columns, narrower, for the terminal
SHORT_HEADER = ["Layer", "Fwd pred.", "Fwd counted", "Bwd pred.", "Bwd counted", "Cache pred.", "Cache meas.",
                "Fwd ms", "Bwd ms", "GFLOP/s", "% step"]


def _mark(predicted, counted):
    return f"{fmt_flops(counted.total)} {'✓' if predicted == counted else '✗'}"


def _ms(seconds):
    return f"{seconds * 1e3:.3f}"


def layer_rows(p):
    """One row per layer and a total row, in the order of :data:`LAYER_HEADER`."""
    step = p.step_seconds or 1
    rows = [[l.name, fmt_flops(l.predicted_forward.total), _mark(l.predicted_forward, l.counted_forward),
             fmt_flops(l.predicted_backward.total), _mark(l.predicted_backward, l.counted_backward),
             fmt_bytes(l.predicted_cache_bytes), fmt_bytes(l.measured_cache_bytes), _ms(l.forward_seconds),
             _ms(l.backward_seconds), f"{l.gflops:.2f}", f"{100 * l.seconds / step:.1f}%"]
            for l in p.layers]
    t = p.totals()
    ok = "✓" if t["flops_match"] else "✗"
    rows.append(["**TOTAL**", f"**{fmt_flops(t['predicted_forward_flops'])}**",
                 f"**{fmt_flops(t['counted_forward_flops'])} {ok}**", f"**{fmt_flops(t['predicted_backward_flops'])}**",
                 f"**{fmt_flops(t['counted_backward_flops'])} {ok}**", f"**{fmt_bytes(t['predicted_cache_bytes'])}**",
                 f"**{fmt_bytes(t['measured_cache_bytes'])}**", f"**{_ms(t['forward_seconds'])}**",
                 f"**{_ms(t['backward_seconds'])}**", f"**{t['achieved_gflops']:.2f}**",
                 f"**{100 * (t['forward_seconds'] + t['backward_seconds']) / step:.1f}%**"])
    return rows


def total_rows(p):
    """Whole-step figures: Quantity, Predicted, Measured."""
    t = p.totals()
    peak_ratio = t["measured_peak_bytes"] / t["predicted_peak_bytes"] if t["predicted_peak_bytes"] else float("nan")
    return [
        ["Peak memory of a training step", fmt_bytes(t["predicted_peak_bytes"]),
         f"{fmt_bytes(t['measured_peak_bytes'])} (x{peak_ratio:.3f})"],
        ["Peak memory of the forward pass", fmt_bytes(t["predicted_forward_peak_bytes"]),
         fmt_bytes(t["measured_forward_peak_bytes"])],
        ["Peak memory of loss + backward", fmt_bytes(t["predicted_backward_peak_bytes"]),
         fmt_bytes(t["measured_backward_peak_bytes"])],
        ["Forward caches (besides outputs)", fmt_bytes(t["predicted_cache_bytes"]), fmt_bytes(t["measured_cache_bytes"])],
    ] + ([
        [f"Forward FLOPs recomputed (checkpoint every {p.checkpoint} layers)",
         fmt_flops(t["predicted_recompute_flops"]),
         _mark(_recomputed(p, "predicted"), _recomputed(p, "counted"))]] if p.checkpoint else []) + [
        ["Loss FLOPs (softmax, counted)", "—", fmt_flops(t["counted_loss_flops"])],
        ["SGD update FLOPs (counted)", "—", fmt_flops(t["counted_update_flops"])],
        ["Training step time", "—", f"{_ms(t['step_seconds'])} ms"],
        ["Achieved GFLOP/s (layers)", "—", f"{t['achieved_gflops']:.2f}"],
        ["GEMM peak GFLOP/s (float32 1024³)", "—", f"{t['gemm_peak_gflops']:.2f}"],
        ["Fraction of the GEMM peak", "—", f"{100 * t['fraction_of_gemm_peak']:.1f}%"],
    ]


def _recomputed(p, which):
    """The layers' recomputed forward Ops, summed (a checkpointed step's)."""
    return sum((getattr(l, f"{which}_recompute") for l in p.layers), Ops())


def _header(p):
    return (f"**{p.name}**: batch {p.batch}, {p.dtype.name}, a training step (forward, softmax loss, backward, "
            f"SGD update); times are medians of {p.steps} step{'s' if p.steps > 1 else ''}. Predicted FLOPs: the "
            f"`exact` convention; counted: executed by the kernels (✓ = equal kind by kind)."
            + "".join(f" {l.name} runs only its parameter gradients: the step computes no gradient of the input."
                      for l in p.layers if l.training_pass == "params")
            + (f" {p.summary.checkpoint_note()}" if p.checkpoint else ""))


def _unknown_line(p):
    unknown = p.unknown
    if not unknown:
        return ""
    listed = ", ".join(f"`{name}` x{calls}" for name, calls in sorted(unknown.items()))
    return f"Operations the counter could not price (not in the counts): {listed}."


def to_markdown(p):
    parts = [_header(p), _md_table(LAYER_HEADER, layer_rows(p)),
             _md_table(["Quantity", "Predicted", "Measured"], total_rows(p)), _unknown_line(p)]
    return "\n\n".join(part for part in parts if part) + "\n"


def to_json(p, indent=2):
    return json.dumps(p.as_dict(), indent=indent)


CSV_FIELDS = ("name", "type", "predicted_forward_flops", "counted_forward_flops", "predicted_backward_flops",
              "counted_backward_flops", "flops_match", "predicted_cache_bytes", "measured_cache_bytes",
              "forward_seconds", "backward_seconds", "gflops", "share_of_step", "predicted_forward_peak_bytes",
              "measured_forward_peak_bytes", "predicted_backward_peak_bytes", "measured_backward_peak_bytes")


def to_csv(p):
    """One row per layer; the fields of ``--format json``'s layers that are numbers or names."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for l in p.layers:
        d = l.as_dict(p.step_seconds)
        writer.writerow([d[f] for f in CSV_FIELDS])
    return out.getvalue()


def to_html(p):
    header = html.escape(_header(p).replace("**", "").replace("`", ""))
    unknown = _unknown_line(p).replace("`", "")
    return (f"<div><p>{header}</p>" + _html_table(LAYER_HEADER, layer_rows(p))
            + _html_table(["Quantity", "Predicted", "Measured"], total_rows(p))
            + (f"<p>{html.escape(unknown)}</p>" if unknown else "") + "</div>")


def to_rich_table(p):
    """A rich ``Table`` (needs ``pip install 'tallynet[cli]'``); print it with a rich Console."""
    from rich.table import Table

    caption = "\n".join(f"{q}: predicted {pred}, measured {meas}" if pred != "—" else f"{q}: {meas}"
                         for q, pred, meas in total_rows(p))
    table = Table(title=f"{p.name} — batch {p.batch}, {p.dtype.name}: predicted / counted FLOPs (✓ equal kind by "
                        f"kind), predicted / measured bytes, medians of {p.steps} steps",
                  caption=caption + ("\n" + _unknown_line(p).replace("`", "") if p.unknown else ""),
                  caption_justify="left")
    for col in SHORT_HEADER:
        table.add_column(col, justify="left" if col == "Layer" else "right")
    rows = layer_rows(p)
    for row in rows[:-1]:
        table.add_row(*row)
    table.add_section()
    table.add_row(*(c.replace("**", "") for c in rows[-1]))
    return table
