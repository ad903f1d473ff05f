"""`tallynet compare`: the transformations of seed-cnn, checked against the layer formulas by hand.

Seed 001's CNN and each of its variants are written out below as the layers they must be, and
their parameters, activations, FLOPs (seed 001's `walkthrough` rules) and MACs are derived here
from the layer formulas (conv: F * C/g * k * k + F parameters, F * C/g * k * k * H' * W' MACs per
sample), never from tallynet's output; the `exact` counts of the whole network are counted by
executing the kernels.
"""

import json
import pathlib

import numpy as np
import pytest

from tallynet.cli import main
from tallynet.cost import summary
from tallynet.cost.compare import compare
from tallynet.cost.variants import TransformError, variant
from tallynet.models import from_spec, load_spec
from tallynet.profile.counter import Counter, counting, plain

N = 32  # seed 001's batch


# --- seed-cnn and its variants, as layers --------------------------------------------------
def conv(filters, k=3, pad=1, groups=1, bias=True):
    return ("conv", filters, k, pad, groups, bias)


BN, RELU, POOL, GAP = ("bn",), ("relu",), ("pool",), ("gap",)
HEAD = [GAP, ("fc", 10)]


def block(filters):
    return [conv(filters), BN, RELU, POOL]


def separable(channels, filters):
    """A 3x3 depthwise convolution (no bias) and a 1x1 pointwise one, nothing between."""
    return [conv(channels, groups=channels, bias=False), conv(filters, k=1, pad=0)]


SEED = block(32) + block(64) + block(128) + HEAD
WIDTH_2 = block(64) + block(128) + block(256) + HEAD
ONE_MORE_BLOCK = block(32) + block(64) + block(128) + block(256) + HEAD
DEPTHWISE = separable(3, 32) + [BN, RELU, POOL] + separable(32, 64) + [BN, RELU, POOL] + separable(64, 128) + \
    [BN, RELU, POOL] + HEAD
KEEP_FIRST = block(32) + separable(32, 64) + [BN, RELU, POOL] + separable(64, 128) + [BN, RELU, POOL] + HEAD


def by_hand(layers, shape=(3, 32, 32)):
    """Per sample: parameters, activation elements (the input and every output), forward and backward
    FLOPs under seed 001's rules (conv 2 C/g k^2 per output, backward twice that; batchnorm 5 per
    element both ways; ReLU 1 per element, 1 per input back; 2x2 max pooling 4 per output, 1 per
    input back; GAP 1 per input both ways; affine 2 in per output, back two products and the bias
    sum), and the MACs of the convolutions and of FC."""
    C, H, W = shape
    f = dict(params=0, elements=C * H * W, flops=0, backward=0, conv_macs=0, fc_macs=0)
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            _, F, k, pad, g, bias = layer
            H, W = H + 2 * pad - k + 1, W + 2 * pad - k + 1  # stride 1
            f["params"] += F * (C // g) * k * k + (F if bias else 0)
            macs = F * H * W * (C // g) * k * k
            f["conv_macs"] += macs
            f["flops"] += 2 * macs
            f["backward"] += 4 * macs
            C = F
        elif kind == "bn":
            f["params"] += 2 * C
            f["flops"] += 5 * C * H * W
            f["backward"] += 5 * C * H * W
        elif kind == "relu":
            f["flops"] += C * H * W
            f["backward"] += C * H * W
        elif kind == "pool":
            f["backward"] += C * H * W
            H, W = H // 2, W // 2
            f["flops"] += 4 * C * H * W
        elif kind == "gap":
            f["flops"] += C * H * W
            f["backward"] += C * H * W
            H = W = 1
        else:  # fc on the C features GAP leaves
            units = layer[1]
            f["params"] += C * units + units
            f["fc_macs"] += C * units
            f["flops"] += 2 * C * units
            f["backward"] += 4 * C * units + units
            C = units
        f["elements"] += C * H * W
    return f


VARIANTS = {"seed-cnn": (SEED, (3, 32, 32)), "seed-cnn@width=2": (WIDTH_2, (3, 32, 32)),
            "seed-cnn@blocks=+1": (ONE_MORE_BLOCK, (3, 32, 32)), "seed-cnn@depthwise": (DEPTHWISE, (3, 32, 32)),
            "seed-cnn@depthwise=keep-first": (KEEP_FIRST, (3, 32, 32)),
            "seed-cnn@input=3x64x64": (SEED, (3, 64, 64))}


@pytest.fixture(scope="module")
def rows():
    c = compare(*VARIANTS, convention="walkthrough")
    return {r["label"]: r for r in c.rows()}


@pytest.mark.parametrize("label", list(VARIANTS))
def test_each_variant_is_its_layers_by_hand(rows, label):
    hand = by_hand(*VARIANTS[label])
    row = rows[label]
    assert row["params"] == hand["params"]
    assert row["activation_bytes"] == N * hand["elements"] * 4
    assert row["forward_flops"] == N * hand["flops"]
    assert row["backward_flops"] == N * hand["backward"]


def test_seed_cnn_figures_of_the_issue(rows):
    seed = by_hand(SEED)
    assert seed["params"] == 94_986
    # one more block: Conv 128 -> 256 3x3 (295,168), its batchnorm (512), the classifier reading 256 features (1,280)
    assert 256 * 128 * 9 + 256 + 2 * 256 + (256 - 128) * 10 == 296_960
    assert rows["seed-cnn@blocks=+1"]["params"] - rows["seed-cnn"]["params"] == 296_960
    added = rows["seed-cnn@blocks=+1"]["forward_flops"] - rows["seed-cnn"]["forward_flops"]
    assert 290e6 < added < 310e6  # seed 001's "+~300M FLOPs" holds
    # doubling the input resolution: 4x the activations and 4x the FLOPs; doubling the channels ~4x
    assert round(rows["seed-cnn@input=3x64x64"]["ratios"]["activation_bytes"], 2) == 4.00
    assert round(rows["seed-cnn@input=3x64x64"]["ratios"]["forward_flops"], 2) == 4.00
    assert round(rows["seed-cnn@width=2"]["ratios"]["params"], 2) == round(374_282 / 94_986, 2) == 3.94


def test_depthwise_convolution_macs_and_whole_network(rows):
    seed, depthwise, keep_first = by_hand(SEED), by_hand(DEPTHWISE), by_hand(KEEP_FIRST)
    assert (seed["conv_macs"], depthwise["conv_macs"]) == (10_321_920, 1_285_120)
    assert round(seed["conv_macs"] / depthwise["conv_macs"], 1) == 8.0  # the issue's 8.0x fewer convolution MACs
    macs = {r["label"]: r for r in compare("seed-cnn", "seed-cnn@depthwise", convention="macs").rows()}
    for label, hand in (("seed-cnn", seed), ("seed-cnn@depthwise", depthwise)):
        assert macs[label]["forward_flops"] == N * (hand["conv_macs"] + hand["fc_macs"])
    # the whole network's forward FLOPs under seed 001's rules: 7.1x and 4.7x, not 8-9x
    assert rows["seed-cnn"]["forward_flops"] / rows["seed-cnn@depthwise"]["forward_flops"] == \
        pytest.approx(seed["flops"] / depthwise["flops"]) == pytest.approx(7.07, abs=0.005)
    assert seed["flops"] / keep_first["flops"] == pytest.approx(4.68, abs=0.005)


def _counted_forward(spec, batch):
    """The forward FLOPs the kernels execute, layer by layer, in train mode."""
    model = from_spec(spec, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + tuple(model.input_shape)).astype(np.float32)
    total = 0
    for layer in model.layers:
        params = layer.init_params(x.shape, rng, "he", np.float32)
        layer.reset_state(x.shape, np.float32)
        with Counter(owners=[layer]) as c:
            out, _ = layer.forward(counting(x), counting(params), "train")
        assert not c.unknown
        total += c.flops.total
        x = np.ascontiguousarray(plain(out))
    return total


def test_depthwise_whole_network_exact_counts_by_execution():
    # the issue's 4.6x to 6.9x fewer FLOPs on the whole network: every operation executed
    labels = ("seed-cnn", "seed-cnn@depthwise", "seed-cnn@depthwise=keep-first")
    rows = compare(*labels, batch=2, convention="exact").rows()
    counted = [_counted_forward(variant(label).spec, 2) for label in labels]
    assert [r["forward_flops"] for r in rows] == counted
    assert round(counted[0] / counted[1], 1) == 6.9
    assert round(counted[0] / counted[2], 1) == 4.6


def test_adam_triples_parameter_memory_but_not_the_step():
    sgd, adam = (summary("seed-cnn", optimizer=o).totals() for o in ("sgd", "adam"))
    param_bytes = 94_986 * 4
    assert adam["param_bytes"] + adam["optimizer_state_bytes"] == 3 * param_bytes
    row = compare("seed-cnn", "seed-cnn@optimizer=adam").rows()[1]
    # the two moments are alive through the whole step, at its peak too
    assert row["peak_bytes_estimate"] - sgd["peak_bytes_estimate"] == 2 * param_bytes
    assert 1.005 < row["ratios"]["peak_bytes_estimate"] < 1.02  # about +1 %, not x3


def test_mixed_precision_and_16_bit_storage():
    rows = compare("seed-cnn", "seed-cnn@mixed", "seed-cnn@dtype=float16", "seed-cnn@dtype=bfloat16").rows()
    elements = by_hand(SEED)["elements"] * N
    assert [r["activation_bytes"] for r in rows] == [4 * elements, 2 * elements, 2 * elements, 2 * elements]
    assert [r["precision"] for r in rows] == ["float32", "mixed float16", "float16", "bfloat16"]
    mixed = variant("seed-cnn@mixed").summary().totals()
    assert mixed["param_bytes"] == 94_986 * 4 and mixed["weight_copy_bytes"] == 94_986 * 2  # float32 masters
    # every byte of seed-cnn's step scales with the itemsize (it keeps no integer arrays): exactly half
    assert rows[2]["peak_bytes_estimate"] * 2 == rows[0]["peak_bytes_estimate"]
    assert rows[3]["peak_bytes_estimate"] == rows[2]["peak_bytes_estimate"]
    # the masters, their gradients and the weights' copies cost a little more than pure float16
    assert rows[2]["peak_bytes_estimate"] < rows[1]["peak_bytes_estimate"] < 0.52 * rows[0]["peak_bytes_estimate"]


def test_combined_transformations_and_batch():
    a, b = compare("seed-cnn", "seed-cnn@width=2,mixed@optimizer=adam", batch=4).rows()
    assert b["params"] == by_hand(WIDTH_2)["params"] and b["optimizer"] == "adam"
    assert b["precision"] == "mixed float16" and a["activation_bytes"] == 4 * 4 * by_hand(SEED)["elements"]


def test_graph_variants_by_hand_edited_spec():
    # resnet20 with every filter count doubled, edited by hand, against width=2
    spec = load_spec("examples/resnet20.yaml")
    text = json.dumps(spec)
    for old, new in (('"filters": 64', '"filters": 128'), ('"filters": 32', '"filters": 64'),
                     ('"filters": 16', '"filters": 32')):
        text = text.replace(old, new)
    hand = summary(json.loads(text)).totals()
    row = compare("resnet20", "examples/resnet20.yaml@width=2").rows()[1]
    assert row["params"] == hand["params"] and row["forward_flops"] == hand["forward_flops"]


def test_graph_variants_keep_depthwise_and_run_in_pytorch():
    torch = pytest.importorskip("torch")
    from tallynet.torch_bridge import to_torch

    wide = variant("mobilenet_v2@width=2").summary()
    grouped = [l for l in wide.layers if l.type == "conv" and l.layer.groups > 1]
    assert grouped and all(l.layer.groups == l.input_shape[1] for l in grouped)  # still depthwise
    for label in ("resnet20@depthwise", "seed-cnn@depthwise", "resnet20@width=0.5"):
        v = variant(label)
        model = from_spec(v.spec, seed=0)
        net = to_torch(model)
        assert sum(p.numel() for p in net.parameters()) == v.summary().totals()["params"]
        x = torch.zeros((2,) + tuple(model.input_shape))
        assert tuple(net(x).shape) == (2, 10)
        if "depthwise" in label:  # every 3x3 convolution became a depthwise one, beside 1x1 ones
            convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
            assert all(m.kernel_size == (1, 1) or m.groups == m.in_channels > 1 for m in convs)


def test_blocks_on_a_graph_is_refused(capsys):
    assert main(["compare", "resnet20", "resnet20@blocks=+1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "graph" in err and "chain" in err


@pytest.mark.parametrize("text", ["seed-cnn@widht=2", "seed-cnn@width=", "seed-cnn@width=-1", "seed-cnn@blocks=1",
                                  "seed-cnn@", "seed-cnn@input=3x64x", "seed-cnn@mixed=float32", "seed-cnn@a,,b",
                                  "seed-cnn@optimizer=lbfgs", "seed-cnn@depthwise=yes"])
def test_bad_syntax_names_the_accepted_forms(capsys, text):
    with pytest.raises(TransformError):
        variant(text)
    assert main(["compare", "seed-cnn", text]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for form in ("input=CxHxW", "width=K", "blocks=+N", "depthwise", "mixed", "dtype=", "optimizer="):
        assert form in err, form


def test_cli_formats(capsys):
    assert main(["compare", "seed-cnn", "seed-cnn@depthwise", "--format", "json", "--convention", "macs"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["convention"] == "macs" and data["baseline"] == "seed-cnn" and data["batch"] == 32
    assert data["variants"][1]["forward_flops"] == N * (1_285_120 + 1_280)
    assert main(["compare", "seed-cnn", "seed-cnn@depthwise", "--format", "markdown", "--batch", "8"]) == 0
    out = capsys.readouterr().out
    assert "Batch 8, convention `exact`" in out and "| seed-cnn@depthwise | float32 | sgd |" in out
    assert main(["compare", "seed-cnn", "seed-cnn@mixed"]) == 0
    assert "convention exact" in capsys.readouterr().out


def test_the_readme_quotes_the_command():
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    labels = ("seed-cnn", "seed-cnn@depthwise", "seed-cnn@depthwise=keep-first", "seed-cnn@width=2",
              "seed-cnn@input=3x64x64", "seed-cnn@blocks=+1", "seed-cnn@mixed", "seed-cnn@optimizer=adam",
              "seed-cnn@checkpoint=4")
    assert "tallynet compare " + " ".join(labels[:4]) + " \\\n    " + " ".join(labels[4:]) + " \\\n    --format" in readme
    assert compare(*labels).to_markdown() in readme


def test_checkpoint_variant_adds_the_recomputed_forward_passes():
    # seed-cnn's 14 layers in segments of 4: the last segment (GAP, FC) keeps its caches and is
    # not run again, the other three (the three conv blocks) are; under macs only their
    # convolutions count: 3·32·9 per output at 32x32, 32·64·9 at 16x16, 64·128·9 at 8x8
    per_sample = 32 * 32 * 32 * 3 * 9 + 64 * 16 * 16 * 32 * 9 + 128 * 8 * 8 * 64 * 9
    plain, checkpointed = compare("seed-cnn", "seed-cnn@checkpoint=4", convention="macs", batch=2).rows()
    assert plain["recompute_flops"] == 0 and checkpointed["recompute_flops"] == 2 * per_sample
    assert checkpointed["peak_bytes_estimate"] < plain["peak_bytes_estimate"]
    with pytest.raises(TransformError, match="checkpoint=K"):
        compare("seed-cnn", "seed-cnn@checkpoint=0")
