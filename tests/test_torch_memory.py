"""``memory="torch"``: the peak of a PyTorch CPU training step, from shapes alone.

Checked against byte counts derived by hand for tiny networks (a chain and a residual graph,
SGD and Adam), against PyTorch's profiler for convolutions with whole blocks of channels, and
within 15 % of the measured peak of seed-cnn, resnet18 and mobilenet_v2 at batch 32 on
64 x 64 inputs, with SGD and Adam (what autograd saves, layer type by layer type, is checked
against autograd itself in tests/test_layer_contract.py).
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from tallynet.cost import summary
from tallynet.layers import Conv2d, ConvTranspose2d
from tallynet.models import from_spec, with_input

F32 = 4  # bytes

# conv (4 filters, 3 x 3, pad 1, no bias) -> relu -> maxpool 2 -> affine 5, on (2, 3, 8, 8)
CHAIN = {"input": [3, 8, 8], "layers": [{"conv": {"filters": 4, "kernel": 3, "pad": 1, "bias": False}}, "relu",
                                        {"maxpool": {"kernel": 2}}, {"affine": {"units": 5}}]}


def _chain_by_hand(state_arrays):
    """The chain's step at batch 2, counted by hand (bytes): (forward, backward, update) peaks."""
    x, conv_out, pool_out, scores = 2 * 3 * 64 * F32, 2 * 4 * 64 * F32, 2 * 4 * 16 * F32, 2 * 5 * F32
    indices, labels = 2 * 4 * 16 * 8, 2 * 8  # int64
    w_conv, fc = 4 * 3 * 9 * F32, (64 * 5 + 5) * F32
    params = w_conv + fc
    base = params * (1 + state_arrays) + x + labels
    # forward: oneDNN's blocked output beside its copy out (more than the reordered x and W);
    # relu saves its output and the conv's is freed; the pool saves its input and int64 indices,
    # the affine layer its input; the loss's log_softmax saves its result, then the scores go
    conv = base + conv_out + max(x + w_conv, conv_out)
    pooled = base + conv_out + pool_out + indices
    loss_forward = pooled + scores + scores
    # backward: dscores beside nll_loss's gradient; the affine layer's dx, dW, db (then dscores and
    # its saved input go); the pool's dx (then its dout and indices go); relu's dx (then its saved
    # output goes); the conv's dout, x and dW in the blocked layout and dW, no dx (its input is the batch)
    loss_backward = pooled + scores + 2 * scores
    affine = pooled + scores + (2 * 64 + fc // F32) * F32
    after_affine = pooled + fc
    pool = after_affine + conv_out
    after_pool = after_affine - pool_out + conv_out - indices
    relu = after_pool + conv_out
    after_relu = after_pool - conv_out
    conv_backward = after_relu + (conv_out + x + w_conv) + w_conv
    return (max(conv, pooled, loss_forward), max(loss_backward, affine, pool, relu, conv_backward),
            base + params)


def test_a_chain_by_hand_with_sgd():
    forward, backward, update = _chain_by_hand(state_arrays=0)
    assert (forward, backward, update) == (7380, 11080, 5016)  # the arithmetic above, written out
    peaks = summary(CHAIN, batch=2, optimizer="sgd", memory="torch").step_peaks()
    assert peaks == {"forward": forward, "backward": backward, "update": update}


def test_a_chain_by_hand_with_adam():
    forward, backward, update = _chain_by_hand(state_arrays=2)
    # Adam's update holds sqrt(exp_avg_sq) and its division for a parameter beside the last
    # parameter's denom: for fc.W (1,280 B) after conv.W (432 B), 2 x 1,280 + 432
    temporaries = max(2 * 432, 2 * 1280 + 432, 2 * 20 + 1280)
    peaks = summary(CHAIN, batch=2, optimizer="adam", memory="torch").step_peaks()
    assert peaks == {"forward": forward, "backward": backward, "update": update + temporaries}


def test_a_residual_graph_by_hand():
    spec = {"input": [4, 4, 4], "nodes": [
        {"conv1": {"conv": {"filters": 4, "kernel": 1, "bias": False}}}, {"relu": "relu"},
        {"conv2": {"conv": {"filters": 4, "kernel": 1, "bias": False}}},
        {"add": {"add": None, "inputs": ["conv2", "relu"]}}, {"relu2": "relu"}, {"gap": "global_avgpool"},
        {"fc": {"affine": {"units": 3}}}]}
    a, w, fc = 2 * 4 * 16 * F32, 16 * F32, (4 * 3 + 3) * F32  # every activation is (2, 4, 4, 4)
    params = 2 * w + fc
    base = params + a + 2 * 8  # the batch and its int64 labels
    # forward: relu's output stays (relu and conv2 save it); conv2's blocked output and its copy
    conv2 = base + a + (a + max(a + w, a))
    # backward, at conv2: relu's output, fc's gradients, the add's dout (passed on to conv2 and,
    # pending, to relu), then conv2's dx, its dout, x and dW blocked, and dW
    conv2_backward = base + a + fc + a + (a + (a + a + w) + w)
    assert (conv2, conv2_backward) == (2316, 3464)  # the arithmetic, written out
    assert summary(spec, batch=2, memory="torch").step_peaks() == {"forward": conv2, "backward": conv2_backward,
                                                                   "update": base + params}


def _outside_the_model(convolutions):
    """Whether oneDNN runs, for any of these (layer, input shape) pairs, a kernel the model leaves out.

    The model states oneDNN's AVX-512 kernels (measured on such a CPU). On a CPU without
    AVX-512 (measured: AMD EPYC, AVX2, PyTorch 2.13), oneDNN computes the weight gradient of a
    convolution (one group) whose input is narrower than its kernel (resnet18's 3x3 ones on 2x2 maps
    at 64x64 inputs) with its GEMM-based kernel, whose scratchpad holds about 4 x threads more
    weight-sized buffers (85.3 MB measured against 19.7 MB predicted for 512 filters on
    (32, 512, 2, 2), 2 threads); the comparisons with the profiler hold elsewhere."""
    import torch

    if torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return False
    return any(layer.kind == "conv" and layer.groups == 1 and shape[3] < layer.kw for layer, shape in convolutions)


@pytest.mark.parametrize("layer, shape", [
    (Conv2d(64, 3, pad=1), (32, 32, 32, 32)),
    (Conv2d(128, 3, stride=2, pad=1, bias=False), (32, 64, 16, 16)),
    (Conv2d(16, 1, bias=False), (32, 32, 32, 32)),
    (Conv2d(96, 3, stride=2, pad=1, groups=96, bias=False), (32, 96, 32, 32)),
    (Conv2d(512, 3, pad=1, bias=False), (32, 512, 2, 2)),
    (ConvTranspose2d(32, 2, stride=2), (32, 64, 16, 16)),
], ids=["3x3", "3x3-stride2", "1x1", "depthwise-stride2", "large-weight", "transposed"])
def test_the_convolutions_peaks_against_the_profiler(layer, shape):
    pytest.importorskip("torch")
    from tallynet.profile.torch_memory import measure_torch_layer

    if _outside_the_model([(layer, shape)]):
        pytest.skip("oneDNN runs its GEMM-based weight gradient here, which the model leaves out (no AVX-512)")
    kept, forward, backward = measure_torch_layer(layer, shape)
    footprint = layer.torch_footprint(shape, F32)
    assert kept == 0
    assert abs(forward - footprint.forward_peak) <= 0.1 * footprint.forward_peak, (forward, footprint)
    assert abs(backward - footprint.backward_peak) <= 0.1 * footprint.backward_peak, (backward, footprint)


@pytest.mark.parametrize("network", ["seed-cnn", "resnet18", "mobilenet_v2"])
def test_within_15_percent_of_pytorchs_measured_peak(network):
    pytest.importorskip("torch")
    from tallynet.profile.torch_memory import measure_model_step_peak

    spec = with_input(network, [3, 64, 64])
    model = from_spec(spec, seed=0, dtype=np.float32)
    if _outside_the_model(zip(model.layers, model.node_shapes(32)[0])):
        pytest.skip(f"oneDNN runs its GEMM-based weight gradient in {network}, which the model leaves out (no AVX-512)")
    for optimizer in ("sgd", "adam"):
        predicted = summary(spec, batch=32, optimizer=optimizer, memory="torch").totals()["peak_bytes_estimate"]
        measured = measure_model_step_peak(model, 32, optimizer)["peak_bytes"]
        assert abs(predicted - measured) <= 0.15 * measured, (network, optimizer, predicted, measured)


def test_a_small_vision_transformer_within_15_percent_of_the_measured_peak():
    pytest.importorskip("torch")
    from tallynet.models.zoo import vision_transformer
    from tallynet.profile.torch_memory import measure_model_step_peak

    spec = vision_transformer("vit_test", 8, 2, 4, 96, 192, image=32, classes=10)
    predicted = summary(spec, batch=16, optimizer="adam", memory="torch").totals()["peak_bytes_estimate"]
    measured = measure_model_step_peak(from_spec(spec, seed=0, dtype=np.float32), 16, "adam")["peak_bytes"]
    assert abs(predicted - measured) <= 0.15 * measured, (predicted, measured)


def test_the_measurement_of_a_linear_layer_by_hand():
    torch = pytest.importorskip("torch")
    from tallynet.profile.torch_memory import measure_torch_step_peak

    N, D, M = 8, 1000, 300
    net = torch.nn.Linear(D, M)
    X, y = torch.randn(N, D), torch.randint(M, (N,))
    result = measure_torch_step_peak(net, X, y, torch.optim.Adam(net.parameters()))
    params = (D * M + M) * F32
    # alive before: the parameters, Adam's two moments (and its step counters, 4 bytes each), the batch
    assert result["before_bytes"] == 3 * params + 2 * 4 + N * D * F32 + N * 8
    # left at the end: the gradients, allocated by the backward pass (zero_grad freed the last ones)
    assert result["end_bytes"] == params
    # the update: W's gradient beside sqrt(exp_avg_sq) and its quotient
    assert result["step_bytes"] >= params + 2 * D * M * F32


def test_the_summary_and_the_walkthrough_say_which_model():
    from tallynet.cost.walkthrough import walkthrough

    ours, torch_model = summary("seed-cnn"), summary("seed-cnn", memory="torch")
    assert ours.totals() == summary("seed-cnn", memory="tallynet").totals()  # the default
    assert "memory model `tallynet` (tallynet's own NumPy kernels)" in ours.to_markdown().splitlines()[0]
    assert "memory model `torch` (a PyTorch CPU training step" in torch_model.to_markdown().splitlines()[0]
    assert torch_model.totals()["memory_model"] == "torch" and torch_model.as_dict()["memory"] == "torch"
    # seed 001's CNN at batch 32: tallynet's peak as the profiler measures it (tracemalloc; the issue
    # measured 63.1 MB, before convolutions kept their padded input instead of the im2col columns),
    # and the 22.3 MB by PyTorch's allocator (decimal MB)
    from tallynet.profile import profile
    measured = profile("seed-cnn", batch=32, steps=1, gemm_peak=1.0).totals()["measured_peak_bytes"]
    assert abs(ours.totals()["peak_bytes_estimate"] - measured) <= 0.01 * measured
    assert abs(torch_model.totals()["peak_bytes_estimate"] / 1e6 - 22.3) <= 0.15 * 22.3
    text = walkthrough("seed-cnn", memory="torch")
    assert "**Memory model `torch`**" in text and "- **Saved by PyTorch's autograd**: input, indices (int64" in text
    assert "Saved by PyTorch's autograd" not in walkthrough("seed-cnn")


def test_an_unknown_memory_model_is_refused():
    with pytest.raises(ValueError, match="memory must be one of tallynet, torch, got 'pytorch'"):
        summary("seed-cnn", memory="pytorch")
    with pytest.raises(ValueError, match="memory='torch' does not model gradient checkpointing"):
        summary("seed-cnn", memory="torch", checkpoint=4).totals()


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "import sys; from tallynet.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True)


def test_the_command_line_takes_memory():
    out = _cli("summary", "seed-cnn", "--input", "3", "64", "64", "--memory", "torch", "--optimizer", "adam",
               "--format", "json")
    assert out.returncode == 0, out.stderr
    totals = json.loads(out.stdout)["totals"]
    expected = summary(with_input("seed-cnn", [3, 64, 64]), optimizer="adam", memory="torch").totals()
    assert totals["memory_model"] == "torch" and totals["peak_bytes_estimate"] == expected["peak_bytes_estimate"]
    walk = _cli("walkthrough", "seed-cnn", "--memory", "torch")
    assert walk.returncode == 0 and "**Memory model `torch`**" in walk.stdout
    bad = _cli("summary", "seed-cnn", "--memory", "pytorch")
    assert bad.returncode == 2 and "invalid choice: 'pytorch'" in bad.stderr and "Traceback" not in bad.stderr


def test_the_readme_quotes_the_predictions():
    import pathlib

    from tallynet.cost.render import fmt_bytes

    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for network in ("seed-cnn", "resnet18", "mobilenet_v2"):
        spec = with_input(network, [3, 64, 64])
        for optimizer in ("sgd", "adam"):
            row = next(line for line in readme.splitlines() if line.startswith(f"| {network} | {optimizer} |"))
            cells = [c.strip() for c in row.strip("|").split("|")]
            for column, memory in ((2, "torch"), (5, "tallynet")):
                peak = summary(spec, batch=32, optimizer=optimizer, memory=memory).totals()["peak_bytes_estimate"]
                assert cells[column] == fmt_bytes(peak), (network, optimizer, memory)
    torch_peak = summary("seed-cnn", batch=32, memory="torch").totals()["peak_bytes_estimate"]
    assert f"and {fmt_bytes(torch_peak)} in PyTorch" in readme
