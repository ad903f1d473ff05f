"""The figures the README and docs/ quote are the ones the tools print.

Each test computes a figure with the cost model (from shapes alone) and requires the
README or the docs page to quote it as printed, so that a change of a count or of a
renderer cannot leave the documentation behind. Times are not checked: they vary.
"""

import pathlib
import re

import pytest

from tallynet.cost import summary
from tallynet.cost.render import fmt_bytes, fmt_flops

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONVENTIONS_DOC = (ROOT / "docs" / "conventions.md").read_text(encoding="utf-8")


def _conventions_row(text, convention):
    row = next(line for line in text.splitlines() if line.startswith(f"| `{convention}` |"))
    return row.rsplit("|", 2)[-2].strip()


@pytest.mark.parametrize("convention", ["exact", "walkthrough", "macs", "torch"])
@pytest.mark.parametrize("doc", ["README.md", "docs/conventions.md"])
def test_the_conventions_table_quotes_seed_001s_cnn(convention, doc):
    t = summary("seed-cnn", batch=32, convention=convention).totals()
    expected = f"{fmt_flops(t['forward_flops'])} / {fmt_flops(t['backward_flops'])}"
    assert _conventions_row(README if doc == "README.md" else CONVENTIONS_DOC, convention) == expected


def test_the_step_backward_figure():
    t = summary("seed-cnn", batch=32, convention="exact").totals()
    sentence = f"{fmt_flops(t['step_backward_flops'])} of seed 001's\n{fmt_flops(t['backward_flops'])} under `exact`"
    assert sentence in README
    assert f"{fmt_flops(t['step_backward_flops'])} of {fmt_flops(t['backward_flops'])}" in CONVENTIONS_DOC


def test_parameter_and_mac_counts_quoted():
    assert f"{summary('seed-cnn').totals()['params']:,} parameters" in README
    lenet, vgg = (summary(name, batch=1, convention="macs").totals() for name in ("lenet5", "vgg16"))
    assert f"LeNet-5\n({lenet['params']:,} parameters, {lenet['forward_flops']:,} MACs)" in README
    assert f"VGG-16 ({vgg['params']:,} parameters, {vgg['forward_flops']:,} MACs)" in README


def test_seed_003_q1_counts_quoted():
    conv, _, pool = summary("homework3-q1", batch=1, convention="exact").layers[:3]
    f = conv.flops.forward
    assert f"Q1 ({f.mul:,} mul, {f.add:,} add, {pool.flops.forward.cmp:,} cmp)" in README


def test_seed_001_inconsistencies_quoted():
    s = summary("seed-cnn", batch=32, convention="walkthrough")
    t = s.totals()
    conv = [l for l in s.layers if l.type == "conv"]
    for figure in (f"activation total is {fmt_bytes(t['activation_bytes'])}",
                   f"convolutional parameters {sum(l.params for l in conv):,}",
                   f"the forward FLOPs {fmt_flops(t['forward_flops'])}",
                   f"backward {fmt_flops(conv[0].backward_flops)}"):
        assert figure in README, figure


def _profile_rows():
    table = README[README.index("| Layer | Fwd FLOPs predicted |"):]
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:] if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells] for cells in rows}


def test_the_profile_table_quotes_the_predictions():
    s = summary("seed-cnn", batch=32, convention="exact")
    rows = _profile_rows()
    for l in s.layers:
        row = rows[l.name]
        assert row[1] == fmt_flops(l.forward_flops), l.name
        assert row[3] == fmt_flops(l.step_backward.total), l.name
        assert row[5] == fmt_bytes(l.cache_bytes), l.name
    t = s.totals()
    assert rows["**TOTAL**"][1] == f"**{fmt_flops(t['forward_flops'])}**"
    assert rows["**TOTAL**"][3] == f"**{fmt_flops(t['step_backward_flops'])}**"
    assert f"| Peak memory of a training step | {fmt_bytes(t['peak_bytes_estimate'])} |" in README


def test_the_convention_example_of_the_docs_runs():
    code = re.search(r"## A convention of your own\n\n```python\n(.*?)```", CONVENTIONS_DOC, re.S).group(1)
    code = code.replace("register(TwoPerMacConvs())", "")  # not into the process-wide registry from a test
    namespace = {}
    exec(code, namespace)  # noqa: S102 - the documentation's own example
    conv1 = summary("seed-cnn", convention=namespace["TwoPerMacConvs"]()).layers[0]
    assert conv1.forward_flops == 2 * conv1.layer.macs(conv1.input_shape)


def test_the_resnet50_summary_quoted():
    s = summary("resnet50", batch=32)
    header = s.to_markdown().splitlines()[0]
    assert header in README
    total = next(line for line in s.to_markdown().splitlines() if line.startswith("| **TOTAL**"))
    assert total in README
