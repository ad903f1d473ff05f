"""The walkthrough's "Analysis and Insights", and seed 001's closing claims in its Notes.

The figures are derived here from the layer formulas (see tests/test_compare.py's by_hand),
not from tallynet's output; the step's peak, which the profiler checks against measured
memory, is the one figure taken from the cost model.
"""

import re

import pytest

from tallynet.cost import summary
from tallynet.cost.walkthrough import walkthrough
from tallynet.models import FullyConnectedNet

from test_compare import DEPTHWISE, KEEP_FIRST, ONE_MORE_BLOCK, SEED, WIDTH_2, by_hand


@pytest.fixture(scope="module")
def doc():
    return walkthrough("seed-cnn")


def _section(doc):
    return doc[doc.index("## Analysis and Insights"):doc.index("## Notes")]


def test_seed_cnn_has_the_section(doc):
    headings = re.findall(r"^#+ .*$", doc, flags=re.M)
    for h in ("## Analysis and Insights", "### 1. Parameter Efficiency", "### 2. Memory Requirements",
              "### 3. Computational Cost", "### 4. Optimization Opportunities", "### 5. Scaling Considerations"):
        assert h in headings, h
    assert doc.index("# Summary Tables") < doc.index("## Analysis and Insights") < doc.index("## Notes")
    assert "6. Analysis and Insights" in doc


def test_each_statement_is_computed(doc):
    section = _section(doc)
    seed, dw, first, wide, more = (by_hand(x) for x in (SEED, DEPTHWISE, KEEP_FIRST, WIDTH_2, ONE_MORE_BLOCK))
    fc = 3 * 32 * 32 * 128 + 128
    peak = summary("seed-cnn", convention="walkthrough").totals()["peak_bytes_estimate"]
    figures = [
        f"**{seed['params']:,}**", f"3,072 × 128 + 128 = **{fc:,}**",
        "(**×3.00**", f"(**+{100 * 2 * seed['params'] * 4 / peak:.1f} %**)",  # Adam: two moments in float32
        f"Backward / forward FLOPs: **{seed['backward'] / seed['flops']:.2f}**",
        f"(**÷{seed['conv_macs'] / dw['conv_macs']:.2f}**)", f"**÷{seed['flops'] / dw['flops']:.2f}**",
        f"÷{seed['flops'] / first['flops']:.2f} with the first convolution kept standard",
        f"parameters ÷{seed['params'] / dw['params']:.2f}",
        "activations **×4.00**", "forward FLOPs **×4.00**",
        f"parameters **×{wide['params'] / seed['params']:.2f}**", f"forward FLOPs **×{wide['flops'] / seed['flops']:.2f}**",
        "Conv(128→256, k=3, s=1, p=1) → BatchNorm → ReLU → MaxPool(k=2, s=2)",
        f"**+{more['params'] - seed['params']:,}** parameters (Conv4 295,168 + BatchNorm4 512 + 1,280",
        f"**+{(more['flops'] - seed['flops']) * 32 / 1e6:.1f} MFLOPs** forward",
        "÷2.00",  # float16 activations
    ]
    for figure in figures:
        assert figure in section, figure


def test_notes_check_seed001s_claims_with_both_figures(doc):
    notes = doc[doc.index("### Seed 001's analysis, checked"):]
    lines = {key: next(line for line in notes.splitlines() if key in line)
             for key in ("74K", "~3×", "8-9×", "2× memory", "4× memory", "4× parameters", "approximately 2×",
                         "393,344")}
    # the claims that do not hold, each with the seed's figure and the computed one
    assert "**296,960**" in lines["74K"] and "does not hold" in lines["74K"] and "73,856" in lines["74K"]
    # Adam's two moments, 2 x 94,986 float32 values, on top of the step's peak (the walkthrough's, batch 32)
    peak = summary("seed-cnn", convention="walkthrough").totals()["peak_bytes_estimate"]
    adam = f"+{100 * 2 * 94_986 * 4 / peak:.1f} %"
    assert adam in lines["~3×"] and "does not hold" in lines["~3×"] and "×3.00, **holds**" in lines["~3×"]
    seed, dw = by_hand(SEED), by_hand(DEPTHWISE)
    assert f"÷{seed['conv_macs'] / dw['conv_macs']:.2f}, **holds**" in lines["8-9×"]
    assert "**÷6.91**" in lines["8-9×"] and "**÷4.62**" in lines["8-9×"] and "does not hold" in lines["8-9×"]
    # doubling the resolution: 4x the activations, but at 64x64 the convolutions' columns reach
    # MIN_BAND_COLUMNS, and by bands they keep only their padded input: the step's peak grows less
    from tallynet.cost.variants import variant
    big = variant("seed-cnn@input=3x64x64").summary(batch=32).totals()["peak_bytes_estimate"]
    ratio = big / summary("seed-cnn", batch=32).totals()["peak_bytes_estimate"]
    assert ratio < 3.5
    assert ("activations ×4.00" in lines["4× memory"] and f"the step's peak ×{ratio:.2f}" in lines["4× memory"]
            and "does not hold" in lines["4× memory"])
    # the ones that hold say so, and only so
    for key in ("2× memory", "4× parameters", "approximately 2×", "393,344"):
        assert "**holds**" in lines[key] and "does not hold" not in lines[key], key


def test_the_section_for_other_networks():
    graph = _section(walkthrough("resnet20", batch=2))
    assert "### 5. Scaling Considerations" in graph and "not computed" in graph and "graph" in graph
    assert "Depthwise-separable" in graph
    fcnet = _section(walkthrough(FullyConnectedNet([7, 5], input_dim=12, normalization="batchnorm", seed=1)))
    assert "Depthwise-separable" not in fcnet and "resolution" not in fcnet  # no convolution, no image
    assert "One more block" in fcnet and "Fully Connected (5 → 10)" in fcnet
    assert "Seed 001" not in walkthrough("lenet5")
