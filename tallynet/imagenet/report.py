"""``tallynet evaluate``'s report: one row per scheme, as a rich table, markdown or JSON."""

import json

from ..cost.render import _md_table, fmt_flops


def _header(results):
    return ["transform", "images", "top-1", "top-5", f"FLOPs/image ({results[0].convention})", "images/s"]


def _rows(results):
    return [[r.scheme, f"{r.images:,}", f"{100 * r.top1:.2f} % ({r.top1_correct})",
             f"{100 * r.top5:.2f} % ({r.top5_correct})",
             "unknown" if r.flops_per_image is None else fmt_flops(r.flops_per_image), f"{r.images_per_second:,.1f}"]
            for r in results]


def _title(model_name, dataset):
    return f"{model_name} on {len(dataset):,} ImageNet validation images ({dataset.num_classes:,} classes)"


def to_rich_table(model_name, dataset, results):
    """A rich ``Table``: the schemes' accuracies (top-1 and top-5, correct images in brackets),
    forward FLOPs per image under the convention named in the header, and images per second."""
    from rich.table import Table

    table = Table(title=_title(model_name, dataset),
                  caption="images/s: reading, preprocessing and the network; five crops: their logits averaged")
    for i, column in enumerate(_header(results)):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
    for row in _rows(results):
        table.add_row(*row)
    return table


def to_markdown(model_name, dataset, results):
    return f"**{_title(model_name, dataset)}**\n\n" + _md_table(_header(results), _rows(results)) + "\n"


def to_json(model_name, dataset, results, indent=2):
    """One JSON object: the model, the images and the figures of every scheme (see ``Evaluation.as_dict``)."""
    return json.dumps({"model": model_name, "images": len(dataset), "classes": dataset.num_classes,
                       "results": [r.as_dict(dataset.index_to_synset) for r in results]}, indent=indent) + "\n"
