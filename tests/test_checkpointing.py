"""Gradient checkpointing: bitwise the gradients of a normal step, the segments' boundaries kept
and nothing else, the cost model's peak and extra FLOPs against measurement and counting."""

import copy
import os
import tracemalloc

import numpy as np
import pytest
import yaml

from tallynet.cli import main
from tallynet.cost import summary
from tallynet.cost.render import fmt_bytes, fmt_flops
from tallynet.models import FullyConnectedNet, PRESETS, from_spec, preset
from tallynet.models.checkpointing import Checkpointed
from tallynet.models.graph import run_forward
from tallynet.profile import profile
from tallynet.solver import Solver


def _seed_cnn_with_dropout():
    spec = copy.deepcopy(PRESETS["seed-cnn"])  # conv, batchnorm, relu, maxpool x 3, GAP, FC
    spec["layers"].insert(3, {"dropout": {"keep": 0.8}})   # after ReLU1
    spec["layers"].insert(13, {"dropout": {"keep": 0.7}})  # after ReLU3
    return spec


# A residual network for 1 x 8 x 8 inputs with batchnorm, dropout, and shortcuts that cross segment
# boundaries: a basic block, max pooling, a block whose 1x1 projection shortcut reads pool1.
RESNET = yaml.safe_load("""
    input: [1, 8, 8]
    batch: 32
    blocks:
      basic:                 # two 3x3 convolutions and an identity shortcut
        params: {filters: null}
        nodes:
          - conv1: {conv: {filters: $filters, kernel: 3, pad: 1, bias: false}}
          - bn1: batchnorm
          - relu1: relu
          - conv2: {conv: {filters: $filters, kernel: 3, pad: 1, bias: false}}
          - bn2: batchnorm
          - add: {add: null, inputs: [bn2, input]}
          - relu2: relu
      widen:                 # the same to more channels, the shortcut a 1x1 convolution
        params: {filters: null}
        nodes:
          - conv1: {conv: {filters: $filters, kernel: 3, pad: 1, bias: false}}
          - bn1: batchnorm
          - relu1: relu
          - conv2: {conv: {filters: $filters, kernel: 3, pad: 1, bias: false}}
          - bn2: batchnorm
          - shortcut: {conv: {filters: $filters, kernel: 1, bias: false}, inputs: input}
          - shortcut_bn: batchnorm
          - add: {add: null, inputs: [bn2, shortcut_bn]}
          - relu2: relu
    nodes:
      - conv1: {conv: {filters: 32, kernel: 3, pad: 1, bias: false}}
      - bn1: batchnorm
      - relu: relu
      - layer1: {block: basic, filters: 32}
      - pool1: {maxpool: {kernel: 2}}          # 8x8 -> 4x4
      - layer2: {block: widen, filters: 64}
      - pool2: {maxpool: {kernel: 2}}          # 4x4 -> 2x2
      - flatten: flatten
      - dropout: {dropout: {keep: 0.5}}
      - fc: {affine: {units: 10}}
    loss: softmax
""")


def _batch(model, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n,) + model.input_shape).astype(np.float32)
    return X, rng.integers(model.output_shape[-1], size=n)


def _one_step(spec, k, X, y, steps=2):
    """Loss, gradients, layer state and recomputed passes after ``steps`` steps of plain SGD."""
    model = from_spec(spec, seed=3)
    model.checkpoint = k
    recomputed = []

    def again(i, layer, x, params, mode):
        recomputed.append(i)
        return run_forward(i, layer, x, params, mode)

    for _ in range(steps):
        recomputed.clear()
        loss, grads = model.loss(X, y, recompute_hook=again)
        for key, w in model.params.items():
            model.params[key] = w - np.float32(1e-2) * grads[key]
    return loss, grads, model.get_state(), recomputed


@pytest.mark.parametrize("spec, ks, batch", [(_seed_cnn_with_dropout(), (1, 2, 4, 5, 15, 16), 4),
                                             (RESNET, range(1, 25), 6)], ids=["seed-cnn", "resnet"])
def test_gradients_are_bitwise_those_of_a_normal_step(spec, ks, batch):
    model = from_spec(spec, seed=3)
    assert model.dtype == np.float32
    kinds = {layer.kind for layer in model.layers}
    assert {"dropout", "batchnorm"} <= kinds
    n = len(model.nodes)
    X, y = _batch(model, batch)
    loss, grads, state, _ = _one_step(spec, None, X, y)
    for k in ks:
        loss_k, grads_k, state_k, recomputed = _one_step(spec, k, X, y)
        assert loss_k == loss
        assert set(grads_k) == set(grads) == set(model.params)
        for key in grads:
            assert np.array_equal(grads_k[key], grads[key]), (k, key)
        # batchnorm's running averages updated once per step, dropout's generator advanced once
        assert set(state_k) == set(state)
        for key in state:
            assert np.array_equal(state_k[key], state[key]), (k, key)
        # every segment but the last one is run again, in order, segment by segment from the end
        last_start = (n - 1) // k * k
        assert sorted(recomputed) == list(range(last_start))
        assert recomputed == [i for s in reversed(range(0, last_start, k)) for i in range(s, s + k)]


def test_a_residual_forward_keeps_every_output_a_recomputed_segment_reads():
    """RESNET's nodes: conv1 bn1 relu | layer1: conv1 bn1 relu1 conv2 bn2 add(bn2, relu) relu2 | pool1 |
    layer2: conv1 bn1 relu1 conv2 bn2 shortcut(pool1) shortcut_bn add relu2 | pool2 flatten dropout fc."""
    model = from_spec(RESNET, seed=0)
    names = model.node_names
    assert names[8] == "layer1.add" and names[16] == "layer2.shortcut" and len(names) == 24
    model.checkpoint = 4  # segments [0-3] [4-7] [8-11] [12-15] [16-19] [20-23], the last not recomputed
    X, y = _batch(model, 2)
    _, record = model.forward(X, "train")
    assert isinstance(record, Checkpointed)
    # relu (2) feeds layer1.add (8, segment 2) across segment 1; pool1 (10) feeds the shortcut (16,
    # segment 4) across segment 3; 3, 7, 11, 15 end their segments; 19 feeds the last segment only
    assert set(record.kept) == {2, 3, 7, 10, 11, 15}
    assert [i for i, c in enumerate(record.caches) if c is not None] == [20, 21, 22, 23]


def test_solver_trains_with_checkpointing_to_the_same_parameters():
    spec = copy.deepcopy(RESNET)
    rng = np.random.default_rng(0)
    data = {"X_train": rng.standard_normal((20, 1, 8, 8)).astype(np.float32), "y_train": rng.integers(10, size=20),
            "X_val": rng.standard_normal((6, 1, 8, 8)).astype(np.float32), "y_val": rng.integers(10, size=6)}
    params = []
    for k in (None, 5):
        model = from_spec(spec, seed=1)
        Solver(model, data, batch_size=10, num_epochs=1, verbose=False, seed=0, gradient_checkpoint=k).train()
        assert model.checkpoint == k
        params.append(model.params)
    assert all(np.array_equal(params[0][key], params[1][key]) for key in params[0])


@pytest.mark.parametrize("k, pattern", [(0, "checkpoint must be"), (-2, "checkpoint must be"),
                                        (2.5, "checkpoint must be"), (15, "exceeds the network's 14 layers")])
def test_bad_segment_lengths_are_refused(k, pattern):
    model = preset("seed-cnn")
    with pytest.raises((ValueError, TypeError), match=pattern):  # TypeError: not an integer
        model.checkpoint = k
    with pytest.raises((ValueError, TypeError), match=pattern):
        summary("seed-cnn", checkpoint=k)
    model.checkpoint = 14  # one segment, the last: nothing is recomputed
    assert summary(model).totals()["recompute_flops"] == 0


def test_dropout_drawing_from_numpys_global_generator_is_refused():
    model = FullyConnectedNet([5], input_dim=4, dropout_keep_ratio=0.5)
    with pytest.raises(ValueError, match="NumPy's global generator"):
        model.checkpoint = 2


@pytest.mark.parametrize("argv, pattern", [
    (["summary", "seed-cnn", "--checkpoint", "0"], "must be an integer >= 1"),
    (["summary", "seed-cnn", "--checkpoint", "99"], "exceeds the network's 14 layers"),
    (["profile", "seed-cnn", "--checkpoint", "99", "--force"], "exceeds the network's 14 layers"),
    (["train", "seed-cnn", "--checkpoint", "99"], "exceeds the network's 14 layers")])
def test_the_cli_refuses_a_bad_checkpoint_in_one_line(argv, pattern, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's refusal of the flag itself
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert pattern in err.strip().splitlines()[-1] and "Traceback" not in err  # argparse's usage comes first
    assert not list(tmp_path.iterdir())  # train refused before making its run directory


def test_predicted_recompute_flops_are_the_recomputed_layers_forward_flops():
    plain = summary("seed-cnn", batch=3)
    forward = [l.forward_flops for l in plain.layers]
    for k in (1, 3, 4, 7, 13):
        t = summary("seed-cnn", batch=3, checkpoint=k).totals()
        last_start = 13 // k * k  # the last segment's first layer (14 layers)
        assert t["recompute_flops"] == sum(forward[:last_start])
        assert t["step_flops"] == plain.totals()["step_flops"] + sum(forward[:last_start])
    assert "Gradient checkpointing every 4 layers (4 segments, 12 layers recomputed)" in \
        summary("seed-cnn", batch=3, checkpoint=4).to_markdown()


def _measured_step_peak(model, X, y):
    """The largest memory tracemalloc saw during a step, every array alive having been made while tracing."""
    tracemalloc.start()
    try:
        model.params = {k: w.copy() for k, w in model.params.items()}  # allocated while tracing
        for layer in model.layers:
            layer.set_state(layer.get_state())
        X, y = X.copy(), y.copy()
        _, grads = model.loss(X, y)
        del grads
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_seed_cnn_at_batch_128_checkpointed_peak_and_flops_as_predicted():
    """Done means: with checkpointing on seed-cnn at batch 128 the measured peak is within 10 % of
    the predicted one and below the peak without it, and the counted extra forward FLOPs equal
    the predicted ones."""
    p = profile("seed-cnn", batch=128, steps=1, gemm_peak=1.0, checkpoint=4)
    t = p.totals()
    assert t["checkpoint"] == 4
    assert abs(t["measured_peak_bytes"] / t["predicted_peak_bytes"] - 1) < 0.10
    plain = preset("seed-cnn", seed=0)
    X, y = _batch(plain, 128)
    # about a third less (predicted: 120 MB against 179 MB without checkpointing)
    assert t["measured_peak_bytes"] < 0.7 * _measured_step_peak(plain, X, y)
    assert t["predicted_peak_bytes"] < summary("seed-cnn", batch=128).totals()["peak_bytes_estimate"]
    # counted by executing the recomputed passes on counting arrays
    assert t["counted_recompute_flops"] == t["predicted_recompute_flops"] > 0
    assert t["flops_match"]
    assert [l.counted_recompute.total > 0 for l in p.layers] == [True] * 12 + [False] * 2


def test_the_readme_quotes_the_predicted_figures():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    plain = summary("seed-cnn", batch=128).totals()
    four = summary("seed-cnn", batch=128, checkpoint=4).totals()
    assert f"| no checkpointing | {fmt_bytes(plain['peak_bytes_estimate'])} |" in readme
    assert (f"| {fmt_bytes(four['peak_bytes_estimate'])} | " in readme
            and f"| {fmt_flops(four['recompute_flops'])} / " in readme)
    others = {k: fmt_bytes(summary("seed-cnn", batch=128, checkpoint=k).totals()["peak_bytes_estimate"])
              for k in (1, 2, 3, 5, 7)}
    assert (f"{others[1]} at K = 1 (every output is a boundary),\n{others[2]} at 2, {others[3]} at 3, "
            f"{others[5]} at 5, {others[7]} at 7.") in readme
    assert f"+{100 * (four['step_flops'] / plain['step_flops'] - 1):.0f} % of the step's" in readme
