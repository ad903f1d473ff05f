"""Renderings of a :class:`~tallynet.cost.summary.Summary`: markdown (seed 001's layout),
JSON, CSV, HTML and a rich terminal table. Units: KB = 1024 bytes, MB = 1024^2 bytes
(as seed 001 writes them), M = 10^6 FLOPs, G = 10^9 FLOPs.
"""

import csv
import html
import io
import json
import sys

from ..counts import KINDS

GROUP_ORDER = ("Convolution", "Batch Normalization", "Layer Normalization", "Activation (ReLU)",
               "Activation (sigmoid)", "Pooling", "Dropout", "Reshape", "Fully Connected")


def fmt_bytes(n):
    """1,280 -> '1.25 KB'; 4,194,304 -> '4.0 MB'; 512 -> '512 B'."""
    if n >= 1024 ** 3:
        return f"{n / 1024 ** 3:.2f} GB"
    if n >= 1024 ** 2:
        return f"{n / 1024 ** 2:.2f} MB".replace(".00 MB", ".0 MB")
    if n >= 1024:
        return f"{n / 1024:.3g} KB" if n < 1000 * 1024 else f"{n / 1024:.0f} KB"
    return f"{n} B"


def fmt_flops(n):
    """56,623,104 -> '56.6 M'; 164,160 -> '0.16 M'; 65,536 -> '0.07 M'; 15.5e9 -> '15.47 G' (as seed 001)."""
    if n >= 1e10:
        return f"{n / 1e9:,.2f} G"
    if n >= 2e5:
        return f"{n / 1e6:,.1f} M"
    if n >= 1e4:
        return f"{n / 1e6:.2f} M"
    return f"{n:,}"


def fmt_flops_unit(n):
    """56,623,104 -> '56.6 MFLOPs'; 3,040 -> '3,040 FLOPs' (the unit after fmt_flops' prefix)."""
    text = fmt_flops(n)
    return f"{text}FLOPs" if text.endswith((" M", " G")) else f"{text} FLOPs"


def fmt_ratio(r):
    """3.94 -> '×3.94', 0.1447 -> '÷6.91': "6.9 times fewer" reads better than ×0.14."""
    return f"×{r:.2f}" if r >= 1 or r == 0 else f"÷{1 / r:.2f}"


def fmt_shape(shape):
    """(32, 3, 32, 32); a merge's list of input shapes joined with ' + '."""
    if isinstance(shape, list):
        return " + ".join(fmt_shape(s) for s in shape)
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _header(s):
    t = s.totals()
    return (f"**{s.name}**: batch {s.batch}, {s.precision}, convention `{s.convention.name}` "
            f"({s.convention.description}); optimizer {s.optimizer}; memory model `{s.memory.name}` "
            f"({s.memory.description}). "
            f"Parameters {t['params']:,}; forward {fmt_flops_unit(t['forward_flops'])}, "
            f"backward {fmt_flops_unit(t['backward_flops'])} (ratio {t['backward_forward_ratio']:.2f}). "
            + s.step_note() + " " + s.checkpoint_note()).rstrip()


def _node(s, l):
    """A row's name; in a graph, with the nodes it takes where that is not the node before."""
    if l.inputs == (l.index - 1,) or not s.is_graph:
        return l.name
    return f"{l.name} ← {', '.join(s.input_names(l))}"


def forward_rows(s):
    """Seed 001's forward table rows: Layer, Input Shape, Output Shape, Memory, Parameters, FLOPs."""
    rows = [["**Input**", "—", fmt_shape(s.input_shape), fmt_bytes(s.input_bytes), "0", "0"]]
    for l in s.layers:
        rows.append([_node(s, l), fmt_shape(l.input_shape), fmt_shape(l.output_shape), fmt_bytes(l.activation_bytes),
                     f"{l.params:,}", fmt_flops(l.forward_flops)])
    t = s.totals()
    rows.append(["**TOTAL**", "—", "—", f"**{fmt_bytes(t['activation_bytes'])}**", f"**{t['params']:,}**",
                 f"**{fmt_flops(t['forward_flops'])}**"])
    return rows


def backward_rows(s):
    """Seed 001's backward table rows, last layer first: Layer, Gradient Shape, Memory, Param Grad Memory, FLOPs."""
    rows = [[l.name, fmt_shape(l.input_shape), fmt_bytes(l.input_grad_bytes),
             f"{l.param_bytes:,} B" if l.param_bytes else "0", fmt_flops(l.backward_flops)]
            for l in reversed(s.layers)]
    t = s.totals()
    rows.append(["**TOTAL**", "—", f"**{fmt_bytes(t['input_grad_bytes'])}**", f"**{t['param_bytes']:,} B**",
                 f"**{fmt_flops(t['backward_flops'])}**"])
    return rows


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def type_rows(s):
    """Forward FLOPs per layer group with its share of the forward total."""
    t = s.totals()
    groups = s.by_type()
    order = [g for g in GROUP_ORDER if g in groups] + [g for g in groups if g not in GROUP_ORDER]
    total = t["forward_flops"] or 1
    return [[g, fmt_flops(groups[g]["forward_flops"]), f"{100 * groups[g]['forward_flops'] / total:.2f}%"]
            for g in order]


def memory_rows(s):
    t = s.totals()
    return [
        ["Parameters (trainable)", f"{t['params']:,}", f"{t['param_bytes']:,}"],
        ["Non-trainable state (running statistics)", f"{t['non_trainable_params']:,}", f"{t['state_bytes']:,}"],
        ["Parameter gradients", "—", f"{t['gradient_bytes']:,}"],
        [f"Optimizer state ({s.optimizer})", "—", f"{t['optimizer_state_bytes']:,}"],
        ["Activations (input and every output)", "—", f"{t['activation_bytes']:,}"],
        [s.memory.kept_label, "—", f"{t['cache_bytes']:,}"],
        [f"Peak of a training step (estimate, memory model {s.memory.name})", "—", f"{t['peak_bytes_estimate']:,}"],
    ]


def pass_rows(s):
    """Seed 001's computational cost table: forward, backward and their total, with percentages."""
    t = s.totals()
    total = t["total_flops"] or 1
    return [
        ["Forward", fmt_flops(t["forward_flops"]), f"{100 * t['forward_flops'] / total:.1f}%"],
        ["Backward", fmt_flops(t["backward_flops"]), f"{100 * t['backward_flops'] / total:.1f}%"],
        ["**Total per iteration**", f"**{fmt_flops(t['total_flops'])}**", "**100%**"],
    ]


def to_markdown(s):
    parts = [
        _header(s),
        "## Forward Pass Summary",
        _md_table(["Layer", "Input Shape", "Output Shape", "Memory", "Parameters", "FLOPs"], forward_rows(s)),
        "## Backward Pass Summary",
        _md_table(["Layer", "Gradient Shape", "Memory", "Param Grad Memory", "FLOPs"], backward_rows(s)),
        "## Total Network Statistics",
        _md_table(["Component", "Count", "Memory (Bytes)"], memory_rows(s)),
        _md_table(["Pass", "FLOPs", "Percentage"], pass_rows(s)),
        "### Computational Breakdown by Layer Type",
        _md_table(["Layer Type", "Forward FLOPs", "% of Total Forward"], type_rows(s)),
    ]
    return "\n\n".join(parts) + "\n"


def to_json(s, indent=2):
    return json.dumps(s.as_dict(), indent=indent)


CSV_FIELDS = ("name", "type", "input_shape", "output_shape", "params", "state", "param_bytes", "activation_bytes",
              "cache_bytes", "input_grad_bytes", "forward_flops", "backward_flops", "backward_input_flops",
              "backward_params_flops")


def to_csv(s):
    """One row per layer; shapes as 'N x C x H x W'; FLOPs by kind as forward_mul, backward_add, ..."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    kind_fields = [f"{p}_{k}" for p in ("forward", "backward") for k in KINDS]
    writer.writerow(list(CSV_FIELDS) + kind_fields)
    for l in s.layers:
        d = l.as_dict()
        row = [" x ".join(map(str, d[f])) if f.endswith("shape") else d[f] for f in CSV_FIELDS]
        backward = l.flops.backward.as_dict()
        row += [d["flops_by_kind"]["forward"][k] for k in KINDS] + [backward[k] for k in KINDS]
        writer.writerow(row)
    return out.getvalue()


def _html_table(header, rows):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c).replace('**', ''))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(s):
    return (f"<div><p>{html.escape(_header(s).replace('**', '').replace('`', ''))}</p>"
            + _html_table(["Layer", "Input Shape", "Output Shape", "Memory", "Parameters", "FLOPs"], forward_rows(s))
            + "<p>Backward</p>"
            + _html_table(["Layer", "Gradient Shape", "Memory", "Param Grad Memory", "FLOPs"], backward_rows(s))
            + _html_table(["Component", "Count", "Memory (Bytes)"], memory_rows(s)) + "</div>")


def to_rich_table(s):
    """A rich ``Table`` (needs ``pip install 'tallynet[cli]'``); print it with a rich Console."""
    from rich.table import Table

    t = s.totals()
    table = Table(title=f"{s.name} — batch {s.batch}, {s.precision}, convention {s.convention.name}, "
                        f"memory model {s.memory.name}",
                  caption=(f"params {t['params']:,}  |  activations {fmt_bytes(t['activation_bytes'])}  |  "
                           f"peak (est., {s.memory.description}) {fmt_bytes(t['peak_bytes_estimate'])}  |  forward "
                           f"{fmt_flops(t['forward_flops'])}  backward {fmt_flops(t['backward_flops'])}  "
                           f"(x{t['backward_forward_ratio']:.2f})"
                           + (f"  |  a training step's backward {fmt_flops(t['step_backward_flops'])} (no input "
                              "gradient)" if t["step_backward_flops"] != t["backward_flops"] else "")
                           + (f"\n{s.checkpoint_note()}" if s.checkpoint else "")))
    for col, justify in [("Layer", "left"), ("Input", "left"), ("Output", "left"), ("Params", "right"),
                         ("Memory", "right"), ("Fwd FLOPs", "right"), ("Bwd FLOPs", "right"), ("Bwd %", "right")]:
        table.add_column(col, justify=justify, no_wrap=True)
    total_bwd = t["backward_flops"] or 1
    for l in s.layers:
        table.add_row(_node(s, l), fmt_shape(l.input_shape), fmt_shape(l.output_shape), f"{l.params:,}",
                      fmt_bytes(l.activation_bytes), fmt_flops(l.forward_flops), fmt_flops(l.backward_flops),
                      f"{100 * l.backward_flops / total_bwd:.1f}")
    table.add_section()
    table.add_row("TOTAL", fmt_shape(s.input_shape), fmt_shape(s.layers[-1].output_shape), f"{t['params']:,}",
                  fmt_bytes(t["activation_bytes"]), fmt_flops(t["forward_flops"]), fmt_flops(t["backward_flops"]),
                  "100.0")
    return table


class Rendered:
    """Mixin of the reports (Summary, Profile): every rendering, and Jupyter's display hooks.

    Each method delegates to the function of the same name in ``_renderer``, the
    module that lays out that report (this one by default).
    """

    _renderer = sys.modules[__name__]

    def to_json(self, indent=2):
        return self._renderer.to_json(self, indent)

    def to_csv(self):
        return self._renderer.to_csv(self)

    def to_markdown(self):
        return self._renderer.to_markdown(self)

    def to_html(self):
        return self._renderer.to_html(self)

    def to_table(self):
        """A rich ``Table`` (needs ``pip install 'tallynet[cli]'``)."""
        return self._renderer.to_rich_table(self)

    def _repr_html_(self):
        return self.to_html()

    def _repr_markdown_(self):
        return self.to_markdown()

    def __str__(self):
        return self.to_markdown()
