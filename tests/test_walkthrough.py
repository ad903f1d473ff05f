"""The generated walkthrough: seed 001's document for any network."""

import re

import pytest

from tallynet.cli import main
from tallynet.cost import Convention, LayerFlops, Ops, summary
from tallynet.cost import CONVENTIONS
from tallynet.cost.summary import blocks
from tallynet.cost.walkthrough import flop_terms, walkthrough
from tallynet.counts import PARTS
from tallynet.models import FullyConnectedNet, PRESETS

# A network with every layer kind the seeds do not cover: layernorm (2-D and spatial), average
# pooling (tiling and overlapping), sigmoid, dropout, flatten, batchnorm on features, no-bias conv.
ZOO = {
    "name": "zoo", "input": [2, 9, 9], "batch": 3,
    "layers": [{"conv": {"filters": 4, "kernel": 3, "pad": 1, "bias": False}}, "layernorm", "sigmoid",
               {"avgpool": {"kernel": 3, "stride": 2}}, {"conv": {"filters": 3, "kernel": 2}}, "relu",
               {"avgpool": {"kernel": 3}}, "flatten", {"dropout": {"keep": 0.8}}, {"affine": {"units": 6}},
               "batchnorm", "layernorm", {"affine": {"units": 2}}],
}


@pytest.fixture(scope="module")
def seed_doc():
    return walkthrough("seed-cnn")


def test_seed_cnn_reproduces_seed001_figures(seed_doc):
    # Conv1's output size with the numbers substituted, as seed 001 writes it.
    assert (r"$$\textcolor{red}{H_{out}} = \left\lfloor \frac{32 + 2(1) - 3}{1} \right\rfloor + 1 = "
            r"\left\lfloor \frac{31}{1} \right\rfloor + 1 = 32$$") in seed_doc
    assert r"\left\lfloor \frac{32 + 2(0) - 2}{2} \right\rfloor + 1 = \left\lfloor \frac{30}{2} \right\rfloor + 1 = 16" \
        in seed_doc  # MaxPool1
    for figure in ("$$= 32 \\times 32 \\times 32 \\times 32 \\times 54 = 56,623,104",  # Conv1 FLOPs
                   "= 301,989,888", "5,242,880", "2,621,440", "1,310,720", "= 81,920", "164,160",
                   "603,979,776", "113,246,208", "**94,986**", "$864 + 32 = 896$ parameters = **3,584 bytes**",
                   "$18,432 + 64 = 18,496$", "**295,424 bytes**", "**4,194,304 bytes**", "**393,216 bytes**",
                   "**16,384 bytes**", "**1,280 bytes**", "$1,280 + 10 = 1,290$ parameters = **5,160 bytes**",
                   "| **Block Total** | — | **13.0 MB** | **960** |", "| **Block Total** | — | **3.50 MB** | **296,448 B** |"):
        assert figure in seed_doc, figure


def test_seed_cnn_structure(seed_doc):
    headings = re.findall(r"^#+ .*$", seed_doc, flags=re.M)
    for h in ("# seed-cnn: Theoretical Walkthrough", "## Architecture Overview", "## Notation and Conventions",
              "# Forward Pass", "## Input Layer", "## Block 1: Conv1 → BatchNorm1 → ReLU1 → MaxPool1",
              "### Conv1: Convolutional Layer", "#### Given", "#### Output Dimensions", "#### Memory",
              "#### Parameters", "#### FLOPs", "### Block 3 Summary", "## GAP: Global Average Pooling",
              "## FC: Fully Connected Layer", "# Backward Pass", "## FC Gradients",
              "## Block 3 Gradients: MaxPool3 ← ReLU3 ← BatchNorm3 ← Conv3", "### Block 1 Backward Summary",
              "# Summary Tables", "## Forward Pass Summary", "## Backward Pass Summary", "## Total Network Statistics",
              "### Computational Breakdown by Layer Type", "## Notes"):
        assert h in headings, h
    assert "Block 1: Conv(3→32, k=3, s=1, p=1) → BatchNorm → ReLU → MaxPool(k=2, s=2)" in seed_doc
    # The forward table is render.py's, rows included.
    assert "| MaxPool3 | (32, 128, 8, 8) | (32, 128, 4, 4) |" in seed_doc
    assert seed_doc.index("# Forward Pass") < seed_doc.index("# Backward Pass") < seed_doc.index("# Summary Tables")


def test_seed_cnn_notes_state_seed001_inconsistencies(seed_doc):
    notes = seed_doc[seed_doc.index("## Notes"):]
    assert "### Seed 001's inconsistencies" in notes
    for figure in ("22.2 MB", "**23.14 MB**", "93,184", "**93,248**", "673.4 M", "**673.6 M**", "113.0 M",
                   "**113,246,208**", "1,334.0 M", "**1,334.3 M**", "2,007.4 M", "63.8 M"):
        assert figure in notes, figure
    assert "Block 2: 607.6 M" not in notes  # that block total the seed gets right
    # The notes are about the preset; they are computed at its settings whatever the document's are.
    assert "**23.14 MB**" in walkthrough("seed-cnn", batch=4, convention="exact", dtype="float16")


def test_notes_only_for_the_seed_networks():
    spec = dict(PRESETS["seed-cnn"], layers=[{"conv": {"filters": 8, "kernel": 3, "pad": 1}}, "relu",
                                             "global_avgpool", {"affine": {"units": 10}}])
    doc = walkthrough(spec)
    assert "## Notes" in doc and "Seed 001" not in doc and "17,052" not in doc


def test_homework_q1_explains_the_missing_additions():
    doc = walkthrough("homework3-q1", convention="exact")
    notes = doc[doc.index("## Notes"):]
    for figure in ("282,240", "281,652", "264,600", "17,052", "588 \\times 479", "864", "564,756", "547,704"):
        assert figure in notes, figure
    # The conv section derives the counts: one dot product of 480 terms per output, no bias.
    assert "1 \\times 12 \\times 7 \\times 7 \\times 479 = 281,652" in doc
    assert "bias additions" not in doc.split("### Conv: Convolutional Layer")[1].split("###")[0]
    assert r"\left\lfloor \frac{14 + 2(1) - 4}{2} \right\rfloor + 1 = \left\lfloor \frac{12}{2} \right\rfloor + 1 = 7" \
        in doc


@pytest.mark.parametrize("network, convention", [
    ("seed-cnn", "walkthrough"), ("lenet5", "macs"), ("homework3-q1", "torch"), (ZOO, "exact"), (ZOO, "walkthrough"),
    (FullyConnectedNet([7, 5], input_dim=12, normalization="batchnorm", dropout_keep_ratio=0.5, seed=1), "exact"),
])
def test_every_layer_gets_a_forward_and_a_backward_section(network, convention):
    doc = walkthrough(network, convention=convention)
    s = summary(network, convention=convention)
    headings = re.findall(r"^#+ (.*)$", doc, flags=re.M)
    for l in s.layers:
        assert any(h.startswith(f"{l.name}: ") for h in headings), l.name
        assert f"{l.name} Gradients" in headings, l.name
    assert headings.count("FLOPs") == 2 * len(s.layers)


@pytest.mark.parametrize("convention", list(CONVENTIONS))
@pytest.mark.parametrize("network", ["seed-cnn", "homework3-q1", "lenet5", ZOO])
def test_derivations_are_the_layer_counts(network, convention):
    # Every count under a built-in convention comes with its derivation, and the printed
    # terms add up, kind by kind, to the count the summary reports.
    s = summary(network, batch=2, convention=convention)
    for l in s.layers:
        terms = flop_terms(l, s.convention)
        assert terms is not None, (l.name, convention)
        for part in PARTS:
            assert sum((t.ops for t in terms.get(part, [])), Ops()) == getattr(l.flops, part)


def test_blocks():
    assert [len(g) for g in blocks(summary("seed-cnn").layers)] == [4, 4, 4, 1, 1]
    lenet = [[l.name for l in g] for g in blocks(summary("lenet5").layers)]
    assert lenet == [["Conv1", "ReLU1", "MaxPool1"], ["Conv2", "ReLU2", "MaxPool2"], ["FC1", "ReLU3"],
                     ["FC2", "ReLU4"], ["FC3"]]
    zoo = [[l.type for l in g] for g in blocks(summary(ZOO).layers)]
    assert zoo == [["conv", "layernorm", "sigmoid", "avgpool"], ["conv", "relu", "avgpool"], ["flatten"],
                   ["dropout"], ["affine", "batchnorm", "layernorm"], ["affine"]]


def test_dtype_changes_the_bytes():
    doc = walkthrough("lenet5", dtype="float16")
    assert "$1 \\times 1 \\times 32 \\times 32 = 1,024$ elements $\\times$ 2 bytes = **2,048 bytes**" in doc
    assert "float16" in doc


def test_user_defined_convention_is_described_without_derivations():
    class Half(Convention):
        name = "half"
        description = "half of walkthrough"

        def flops(self, layer, input_shape):
            f = layer.walkthrough_flops(input_shape)
            return LayerFlops(*(Ops(add=getattr(f, p).total // 2) for p in PARTS))

    doc = walkthrough("seed-cnn", convention=Half())
    assert "### Counting Convention `half`" in doc and "half of walkthrough" in doc
    assert "$$\\text{FLOPs} = 28,311,552 \\approx \\textbf{28.3 MFLOPs}$$" in doc  # Conv1: 56,623,104 / 2


def test_cli_walkthrough(tmp_path, capsys):
    out = tmp_path / "q1.md"
    assert main(["walkthrough", "homework3-q1", "--convention", "exact", "-o", str(out)]) == 0
    assert "17,052" in out.read_text(encoding="utf-8")
