"""``compare(A, B, ...)``: networks and their variants side by side, each figure as a ratio to the first.

The variants are written as :mod:`tallynet.cost.variants` reads them (``seed-cnn``,
``seed-cnn@depthwise``, ``seed-cnn@width=2,mixed``); all are sized at one batch (the first
network's unless given) under one convention.
"""

import json

from .conventions import get_convention
from .render import _md_table, fmt_bytes, fmt_flops, fmt_ratio
from .variants import variant

#: the figures compared: (key of Summary.totals(), column heading, formatter)
QUANTITIES = (("params", "Parameters", lambda n: f"{n:,}"),
              ("activation_bytes", "Activations", fmt_bytes),
              ("peak_bytes_estimate", "Step peak", fmt_bytes),
              ("forward_flops", "Forward FLOPs", fmt_flops),
              ("backward_flops", "Backward FLOPs", fmt_flops),
              ("recompute_flops", "Recomputed FLOPs", fmt_flops))


class Comparison:
    """Summaries of several variants at one batch under one convention (``summaries``, ``labels``).

    ``rows()`` gives each variant's figures and ratios; render with ``to_markdown()``,
    ``to_json()`` or ``to_table()`` (rich)."""

    def __init__(self, labels, summaries):
        self.labels, self.summaries = list(labels), list(summaries)
        self.batch, self.convention = self.summaries[0].batch, self.summaries[0].convention

    def rows(self):
        """Per variant: ``{"label", "precision", "optimizer", key: value..., "ratios": {key: value / first's}}``."""
        first = self.summaries[0].totals()
        rows = []
        for label, s in zip(self.labels, self.summaries):
            t = s.totals()
            mixed = s.master_dtype != s.dtype
            row = {"label": label, "precision": f"mixed {s.dtype.name}" if mixed else s.dtype.name,
                   "optimizer": s.optimizer}
            row.update({key: t[key] for key, _, _ in QUANTITIES})
            row["ratios"] = {key: t[key] / first[key] if first[key] else None for key, _, _ in QUANTITIES}
            rows.append(row)
        return rows

    def header(self):
        return (f"Batch {self.batch}, convention `{self.convention.name}` ({self.convention.description}); "
                f"each figure × or ÷ that of {self.labels[0]}. Activations: the input and every layer's output; step peak: "
                "the predicted peak memory of a training step; FLOPs of the forward pass and of every layer's "
                "whole backward pass, and of the forward passes gradient checkpointing runs again; mixed: 16-bit "
                "activations, float32 parameters, gradients and optimizer state.")

    def _cells(self, row, index):
        cells = [row["label"], row["precision"], row["optimizer"]]
        for key, _, fmt in QUANTITIES:
            ratio = row["ratios"][key]
            cells.append(fmt(row[key]) + ("" if index == 0 or ratio is None else " " + fmt_ratio(ratio)))
        return cells

    def _columns(self):
        return ["Network", "Precision", "Optimizer"] + [heading for _, heading, _ in QUANTITIES]

    def to_markdown(self):
        body = [self._cells(row, i) for i, row in enumerate(self.rows())]
        return self.header() + "\n\n" + _md_table(self._columns(), body) + "\n"

    def to_json(self, indent=2):
        return json.dumps({"batch": self.batch, "convention": self.convention.name, "baseline": self.labels[0],
                           "variants": self.rows()}, indent=indent)

    def to_table(self):
        """A rich ``Table`` (needs ``pip install 'tallynet[cli]'``)."""
        from rich.table import Table

        table = Table(title=f"batch {self.batch}, convention {self.convention.name}; × or ÷ {self.labels[0]}'s figure")
        for i, column in enumerate(self._columns()):
            table.add_column(column, justify="left" if i < 3 else "right", no_wrap=True)
        for i, row in enumerate(self.rows()):
            table.add_row(*self._cells(row, i))
        return table

    def __str__(self):
        return self.to_markdown()


def compare(*networks, batch=None, convention="exact"):
    """A :class:`Comparison` of ``networks``: variant texts (``"seed-cnn@width=2"``), or
    :class:`~tallynet.cost.variants.Variant` objects; ``batch`` defaults to the first's."""
    if not networks:
        raise ValueError("compare: expected at least one network")
    variants = [variant(n) if isinstance(n, str) else n for n in networks]
    convention = get_convention(convention)
    first = variants[0].summary(batch=batch, convention=convention)
    rest = [v.summary(batch=first.batch, convention=convention) for v in variants[1:]]
    return Comparison([v.label for v in variants], [first] + rest)
