"""The cost model: per-layer shapes, parameters, bytes and FLOPs under the four conventions.

Every expected number is derived independently of the code: copied from the seeds
(001's walkthrough tables, 003's homework, 000's backward formulas), worked out by
hand from the kernels (the formula is written next to it), taken from published
model tables (LeNet-5, VGG-16), or measured by PyTorch's FlopCounterMode.
"""

import csv
import io
import json
import math

import numpy as np
import pytest

from tallynet.cli import main
from tallynet.cost import EXACT, MACS, WALKTHROUGH, Convention, LayerFlops, Ops, summary
from tallynet.cost.walkthrough import blocks
from tallynet.layers import Affine, Conv2d
from tallynet.models import FullyConnectedNet

MB = 1024 ** 2

# --- seed 001 under the walkthrough convention ----------------------------------------------
# Seed 001's forward table (batch 32, float32), every figure as its layer sections state it:
# (name, input shape, output shape, params, param bytes, activation bytes, forward FLOPs).
SEED001_FORWARD = [
    ("Conv1", (32, 3, 32, 32), (32, 32, 32, 32), 896, 3_584, 4_194_304, 56_623_104),
    ("BatchNorm1", (32, 32, 32, 32), (32, 32, 32, 32), 64, 256, 4_194_304, 5_242_880),
    ("ReLU1", (32, 32, 32, 32), (32, 32, 32, 32), 0, 0, 4_194_304, 1_048_576),
    ("MaxPool1", (32, 32, 32, 32), (32, 32, 16, 16), 0, 0, 1_048_576, 1_048_576),
    ("Conv2", (32, 32, 16, 16), (32, 64, 16, 16), 18_496, 73_984, 2_097_152, 301_989_888),
    ("BatchNorm2", (32, 64, 16, 16), (32, 64, 16, 16), 128, 512, 2_097_152, 2_621_440),
    ("ReLU2", (32, 64, 16, 16), (32, 64, 16, 16), 0, 0, 2_097_152, 524_288),
    ("MaxPool2", (32, 64, 16, 16), (32, 64, 8, 8), 0, 0, 524_288, 524_288),
    ("Conv3", (32, 64, 8, 8), (32, 128, 8, 8), 73_856, 295_424, 1_048_576, 301_989_888),
    ("BatchNorm3", (32, 128, 8, 8), (32, 128, 8, 8), 256, 1_024, 1_048_576, 1_310_720),
    ("ReLU3", (32, 128, 8, 8), (32, 128, 8, 8), 0, 0, 1_048_576, 262_144),
    ("MaxPool3", (32, 128, 8, 8), (32, 128, 4, 4), 0, 0, 262_144, 262_144),
    ("GAP", (32, 128, 4, 4), (32, 128), 0, 0, 16_384, 65_536),
    ("FC", (32, 128), (32, 10), 1_290, 5_160, 1_280, 81_920),
]

# Seed 001's backward table, last layer first: (name, gradient bytes, parameter-gradient bytes,
# backward FLOPs, the FLOPs as the table prints them in millions). The exact integers follow the
# seed's rules: ReLU and pooling 1 per input element (its sections state 262,144 for ReLU3 and
# 65,536 for GAP), batchnorm equal to its forward, conv twice its forward, FC 164,160 (stated).
SEED001_BACKWARD = [
    ("FC", 16_384, 5_160, 164_160, "0.16"),
    ("GAP", 262_144, 0, 65_536, "0.07"),
    ("MaxPool3", 1_048_576, 0, 262_144, "0.3"),
    ("ReLU3", 1_048_576, 0, 262_144, "0.3"),
    ("BatchNorm3", 1_048_576, 1_024, 1_310_720, "1.3"),
    ("Conv3", 524_288, 295_424, 603_979_776, "604.0"),
    ("MaxPool2", 2_097_152, 0, 524_288, "0.5"),
    ("ReLU2", 2_097_152, 0, 524_288, "0.5"),
    ("BatchNorm2", 2_097_152, 512, 2_621_440, "2.6"),
    ("Conv2", 1_048_576, 73_984, 603_979_776, "604.0"),
    ("MaxPool1", 4_194_304, 0, 1_048_576, "1.0"),
    ("ReLU1", 4_194_304, 0, 1_048_576, "1.0"),
    ("BatchNorm1", 4_194_304, 256, 5_242_880, "5.2"),
    # The seed prints 113.0 M, but twice Conv1's forward 56,623,104 is 113,246,208 = 113.2 M
    # (its own rule; see the walkthrough's notes). We give the consistent figure.
    ("Conv1", 393_216, 3_584, 113_246_208, "113.2"),
]


@pytest.fixture(scope="module")
def seed_cnn():
    return summary("seed-cnn", batch=32, convention="walkthrough")


def test_seed001_forward_table(seed_cnn):
    assert seed_cnn.input_shape == (32, 3, 32, 32)
    assert seed_cnn.input_bytes == 393_216  # 32 x 3 x 32 x 32 x 4, the seed's input row
    rows = [(l.name, l.input_shape, l.output_shape, l.params, l.param_bytes, l.activation_bytes, l.forward_flops)
            for l in seed_cnn.layers]
    assert rows == SEED001_FORWARD


def test_seed001_backward_table(seed_cnn):
    def millions(n):  # as the seed's table prints them: 0.16, 0.07, 0.3, ..., 604.0
        return f"{n / 1e6:.{2 if n < 2e5 else 1}f}"

    rows = [(l.name, l.input_grad_bytes, l.param_bytes, l.backward_flops, millions(l.backward_flops))
            for l in reversed(seed_cnn.layers)]
    assert rows == SEED001_BACKWARD
    # The split the seed's sections give: conv input and weight gradients each equal to the
    # forward; FC 81,920 + (81,920 + 320).
    conv3, fc = seed_cnn.layers[8], seed_cnn.layers[13]
    assert conv3.flops.backward_input.total == conv3.flops.backward_params.total == 301_989_888
    assert (fc.flops.backward_input.total, fc.flops.backward_params.total) == (81_920, 81_920 + 320)


def test_seed001_totals_give_the_consistent_figures(seed_cnn):
    t = seed_cnn.totals()
    assert t["params"] == 94_986 and t["param_bytes"] == 379_944
    assert t["non_trainable_params"] == 2 * (32 + 64 + 128)  # running mean and variance
    # Forward activation memory: the seed's total says 22.2 MB, its rows (input included) add up to 23.1 MB.
    assert t["activation_bytes"] == 393_216 + sum(row[5] for row in SEED001_FORWARD) == 24_265_984
    assert round(t["activation_bytes"] / MB, 1) == 23.1
    # Backward gradient memory: the seed's 23.1 MB and 379,944 B do add up.
    assert round(t["input_grad_bytes"] / MB, 1) == 23.1
    assert t["gradient_bytes"] == 379_944
    # FLOP totals: the rows add up to 673.6 M forward (the seed says 673.4 M) and 1,334.3 M backward (1,334.0 M).
    assert t["forward_flops"] == sum(row[6] for row in SEED001_FORWARD) == 673_595_392
    assert t["backward_flops"] == sum(row[3] for row in SEED001_BACKWARD) == 1_334_280_512
    assert t["total_flops"] == 2_007_875_904
    assert round(100 * t["forward_flops"] / t["total_flops"], 1) == 33.5  # the seed's percentage holds


def test_seed001_breakdown_by_type(seed_cnn):
    groups = seed_cnn.by_type()
    # Parameters: 896 + 18,496 + 73,856 = 93,248 (the seed's table says 93,184); BN 448; FC 1,290.
    assert groups["Convolution"]["params"] == 93_248
    assert groups["Batch Normalization"]["params"] == 448
    assert groups["Fully Connected"]["params"] == 1_290
    forward = {g: v["forward_flops"] for g, v in groups.items()}
    assert round(forward["Convolution"] / 1e6, 1) == 660.6
    assert round(forward["Activation (ReLU)"] / 1e6, 1) == 1.8
    assert round(forward["Fully Connected"] / 1e6, 2) == 0.08
    # The seed prints 9.1 M, the sum of its rounded rows 5.2 + 2.6 + 1.3; the rows are 9,175,040.
    assert forward["Batch Normalization"] == 5_242_880 + 2_621_440 + 1_310_720
    # Pooling includes GAP here (the seed's 1.8 M leaves it out).
    assert forward["Pooling"] == 1_048_576 + 524_288 + 262_144 + 65_536
    total = seed_cnn.totals()["forward_flops"]
    assert [round(100 * forward[g] / total, 1) for g in ("Convolution", "Batch Normalization")] == [98.1, 1.4]


def test_seed001_block_summaries(seed_cnn):
    groups = [g for g in blocks(seed_cnn.layers) if len(g) > 1]
    assert [[l.name for l in g] for g in groups] == [
        [f"{k}{i}" for k in ("Conv", "BatchNorm", "ReLU", "MaxPool")] for i in (1, 2, 3)]
    # Forward block tables: 13.0 / 6.5 / 3.25 MB and 960 / 18,624 / 74,112 parameters.
    assert [sum(l.activation_bytes for l in g) / MB for g in groups] == [13.0, 6.5, 3.25]
    assert [sum(l.params for l in g) for g in groups] == [960, 18_624, 74_112]
    # Backward block tables: 12.4 (12.375) / 7.0 / 3.5 MB and 3,840 / 74,496 / 296,448 bytes.
    assert [sum(l.input_grad_bytes for l in g) / MB for g in groups] == [12.375, 7.0, 3.5]
    assert [sum(l.param_bytes for l in g) for g in groups] == [3_840, 74_496, 296_448]


# --- seed 003 Q1 and seed 000 under the exact convention ------------------------------------------
def test_homework3_q1_exact():
    s = summary("homework3-q1", batch=1, convention="exact")
    conv, relu, pool = s.layers[:3]
    assert conv.output_shape == (1, 12, 7, 7) and pool.output_shape == (1, 12, 3, 3)
    # C_mul = 7^2 * 30 * 4^2 * 12 (the homework's figure)
    assert conv.flops.forward == Ops(mul=282_240, add=281_652)
    # The homework's C_add = 7^2 * (4^2 - 1) * 12 * 30 = 264,600 counts the additions inside each
    # channel's window; summing the 30 channels adds 29 per output: 588 * 29 = 17,052 more.
    assert 264_600 + 12 * 7 * 7 * 29 == 281_652 == 588 * (30 * 16 - 1)
    assert pool.flops.forward == Ops(cmp=864)  # P_max = 3^2 * 12 * (3^2 - 1)
    assert relu.flops.forward == Ops(cmp=588)
    assert conv.params == 12 * 30 * 4 * 4  # no bias


@pytest.mark.parametrize("N", [1, 2])
def test_seed000_affine_backward(N):
    D, M = 7, 5
    flops = Affine(M).exact_flops((N, D))
    # dx = dout.dot(w.T): (2M - 1) * D FLOPs per sample, "multiplied by the batch size at the end".
    assert flops.backward_input == Ops(mul=N * D * M, add=N * D * (M - 1))
    assert flops.backward_input.total == (2 * M - 1) * D * N
    dw, db = Ops(mul=D * M * N, add=D * M * (N - 1)), Ops(add=M * (N - 1))
    assert flops.backward_params == dw + db
    if N == 1:
        # dw = x.T.dot(dout): the seed's D * M FLOPs for N = 1 (one product per entry, nothing to add).
        assert dw.total == D * M
        # db: the seed computes ones.dot(dout), M multiplications at N = 1; our kernel sums dout over
        # the batch, which for one sample is 0 operations.
        seed_db = M
        assert db.total == 0 != seed_db
    else:
        # Scaling the N = 1 count by N misses the D * M * (N - 1) additions across the batch in dw.
        assert dw.total == D * M * N + D * M * (N - 1) != D * M * N


@pytest.mark.parametrize("N, C, H, W, F, k, stride, pad", [(1, 3, 7, 7, 4, 3, 1, 1), (2, 2, 6, 5, 3, 2, 2, 0)])
def test_seed000_im2col_conv_backward(N, C, H, W, F, k, stride, pad):
    out_h, out_w = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
    flops = Conv2d(F, k, stride=stride, pad=pad).exact_flops((N, C, H, W))
    HH = WW = k
    # dx_cols = w.reshape(F, -1).T.dot(dout_reshaped): (C*HH*WW) * ((2F - 1) * N*outH*outW)
    dx_cols = (C * HH * WW) * ((2 * F - 1) * N * out_h * out_w)
    # col2im: N*C*HH*WW*outH*outW additions
    col2im = N * C * HH * WW * out_h * out_w
    assert flops.backward_input.total == dx_cols + col2im
    assert flops.backward_input.add == (C * HH * WW) * (F - 1) * N * out_h * out_w + col2im
    # dw = dout_reshaped.dot(x_cols.T): F * ((2 outH outW - 1) * (C HH WW)) at N = 1, with N outH outW columns in general
    dw = F * ((2 * N * out_h * out_w - 1) * (C * HH * WW))
    # db = np.sum(dout, axis=(0, 2, 3)): the seed counts outH*outW at N = 1, for one filter; summing
    # N outH outW values takes one fewer addition, for each of the F filters.
    db = F * (N * out_h * out_w - 1)
    if N == 1:
        assert db != out_h * out_w
    K, cols = C * HH * WW, N * out_h * out_w
    assert flops.backward_params == Ops(mul=F * K * cols, add=F * K * (cols - 1) + db)
    assert flops.backward_params.total == dw + db
    no_bias = Conv2d(F, k, stride=stride, pad=pad, bias=False).exact_flops((N, C, H, W))
    assert no_bias.backward_params.total == dw and no_bias.backward_input == flops.backward_input


def test_conv_kernels_take_no_bias():
    from tallynet.layers.conv import conv_backward_fast, conv_backward_naive, conv_forward_fast, conv_forward_naive

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    param = {"stride": 2, "pad": 1}
    reference, _ = conv_forward_naive(x, w, np.zeros(4), param)
    dout = rng.standard_normal(reference.shape)
    for forward, backward in ((conv_forward_fast, conv_backward_fast), (conv_forward_naive, conv_backward_naive)):
        out, cache = forward(x, w, None, param)
        np.testing.assert_allclose(out, reference, rtol=1e-12, atol=1e-12)
        dx, dw, db = backward(dout, cache)
        assert db is None and dx.shape == x.shape and dw.shape == w.shape


# --- the exact convention, layer by layer, against hand formulas -------------------------------
def test_exact_seed_cnn_small_batch():
    N = 2
    s = summary("seed-cnn", batch=N, convention="exact")
    L = {l.name: l for l in s.layers}
    # Conv1: (2, 3, 32, 32) -> (2, 32, 32, 32); each output a dot product of 27 terms plus a bias.
    out = N * 32 * 32 * 32
    assert L["Conv1"].flops.forward == Ops(mul=out * 27, add=out * 26 + out)
    # backward: dcols (27, 2048) = W.T (27, 32) @ dout (32, 2048), then col2im adds its 27 * 2048 entries;
    # dW (32, 27) = dout (32, 2048) @ cols.T (2048, 27); db sums 2048 values for each of 32 filters.
    cols = 27 * N * 32 * 32
    assert L["Conv1"].flops.backward_input == Ops(mul=cols * 32, add=cols * 31 + cols)
    assert L["Conv1"].flops.backward_params == Ops(mul=32 * 27 * 2048, add=32 * 27 * 2047 + 32 * 2047)
    # BatchNorm2 on (2, 64, 16, 16): n = 32,768 values, 64 channels of m = 512.
    n, C, m = N * 64 * 16 * 16, 64, N * 16 * 16
    assert L["BatchNorm2"].flops.forward == Ops(
        add=C * (m - 1) + n + C * (m - 1) + C + n + 2 * C,   # mean, x - mean, var, var + eps, + beta, running
        mul=n + n + n + 4 * C,                               # (x - mean)^2, * inv_std, * gamma, running
        div=3 * C, special=C)                                # mean, var, 1 / sqrt; sqrt
    assert L["BatchNorm2"].flops.backward_params == Ops(mul=n, add=2 * C * (m - 1))
    # backward, fused batchnorm form: dx = (gamma inv_std) (dout - dbeta / m - x_hat dgamma / m)
    assert L["BatchNorm2"].flops.backward_input == Ops(mul=2 * n + C, add=2 * n, div=2 * C)
    # ReLU: max(x, 0) forward; backward the mask x > 0 and dout * mask.
    assert L["ReLU3"].flops.forward == Ops(cmp=N * 128 * 8 * 8)
    assert L["ReLU3"].flops.backward_input == Ops(cmp=N * 128 * 8 * 8, mul=N * 128 * 8 * 8)
    # MaxPool1: 2x2 windows tiling the input: 3 comparisons per output (np.maximum over the four
    # views); backward, for each of the first three views: view == max, pending * hit, pending -= that.
    windows = N * 32 * 16 * 16
    assert L["MaxPool1"].flops.forward == Ops(cmp=windows * 3)
    assert L["MaxPool1"].flops.backward == Ops(cmp=windows * 3, mul=windows * 3, add=windows * 3)
    # GAP: 15 additions and 1 division per (n, c); backward 1 division per (n, c).
    assert L["GAP"].flops.forward == Ops(add=N * 128 * 15, div=N * 128)
    assert L["GAP"].flops.backward == Ops(div=N * 128)
    # FC: (2, 128) @ (128, 10) + b.
    assert L["FC"].flops.forward == Ops(mul=N * 10 * 128, add=N * 10 * 127 + N * 10)
    # Caches: im2col columns (27 x 2048 values); max pooling on tiles keeps only its input and
    # output (nothing new); batchnorm x_hat + mean + inv_std.
    assert L["Conv1"].cache_bytes == 27 * 2048 * 4
    assert L["MaxPool1"].cache_bytes == 0
    assert L["BatchNorm2"].cache_bytes == (n + 2 * C) * 4
    assert L["ReLU1"].cache_bytes == L["GAP"].cache_bytes == L["FC"].cache_bytes == 0


def test_exact_pooling_with_overlapping_windows_counts_col2im():
    from tallynet.layers import AvgPool2d, MaxPool2d

    # 3x3 windows, stride 2, on 7x7: 3x3 outputs; backward scatters 9 entries per window with col2im.
    windows = 2 * 3 * 3 * 3
    assert MaxPool2d(3, stride=2).exact_flops((2, 3, 7, 7)) == LayerFlops(
        forward=Ops(cmp=windows * 8), backward_input=Ops(add=windows * 9))
    assert AvgPool2d(3, stride=2).exact_flops((2, 3, 7, 7)) == LayerFlops(
        forward=Ops(add=windows * 8, div=windows), backward_input=Ops(div=windows, add=windows * 9))
    # 2x2 windows tiling 6x6: a reshape both ways.
    assert AvgPool2d(2).exact_flops((2, 3, 6, 6)) == LayerFlops(
        forward=Ops(add=2 * 3 * 9 * 3, div=2 * 3 * 9), backward_input=Ops(div=2 * 3 * 9))


def test_exact_layernorm_and_dropout():
    from tallynet.layers import Dropout, LayerNorm

    # LayerNorm on (4, 6): 4 rows of 6 values; no running averages.
    n, s, c = 24, 4, 6
    f = LayerNorm().exact_flops((4, 6))
    assert f.forward == Ops(add=2 * s * 5 + 2 * n + s, mul=3 * n, div=3 * s, special=s)
    assert f.backward_params == Ops(mul=n, add=2 * c * (4 - 1))
    assert LayerNorm().cache_bytes((4, 6), 8) == (n + 2 * s) * 8
    # Dropout: u < p, / p, x * mask forward; dout * mask backward; the mask is kept.
    assert Dropout(0.5).exact_flops((4, 6)) == LayerFlops(forward=Ops(cmp=n, div=n, mul=n), backward_input=Ops(mul=n))
    assert Dropout(0.5).cache_bytes((4, 6), 2) == n * 2


def test_dtype_and_batch_scale_bytes_and_flops():
    f32 = summary("seed-cnn", batch=4, convention="exact", dtype="float32")
    f16 = summary("seed-cnn", batch=4, convention="exact", dtype="float16")
    b8 = summary("seed-cnn", batch=8, convention="exact", dtype="float32")
    for a, h, b in zip(f32.layers, f16.layers, b8.layers):
        assert h.activation_bytes * 2 == a.activation_bytes and b.activation_bytes == 2 * a.activation_bytes
        assert h.param_bytes * 2 == a.param_bytes and b.param_bytes == a.param_bytes
        assert h.flops == a.flops  # the dtype changes bytes only
        if a.type == "maxpool":  # argmax indices are 8-byte integers whatever the dtype
            assert h.cache_bytes == a.cache_bytes
        else:
            assert h.cache_bytes * 2 == a.cache_bytes
        if a.type == "conv":  # the forward GEMM and bias add are linear in the batch
            assert b.flops.forward == a.flops.forward * 2
    wt4 = summary("seed-cnn", batch=4, convention="walkthrough")
    wt8 = summary("seed-cnn", batch=8, convention="walkthrough")
    assert wt8.totals()["forward_flops"] == 2 * wt4.totals()["forward_flops"]
    assert f16.totals()["activation_bytes"] * 2 == f32.totals()["activation_bytes"]
    assert summary("seed-cnn", batch=4, dtype="float64").totals()["param_bytes"] == 94_986 * 8


# --- macs: published model tables ------------------------------------------------------------
def test_lenet5_macs():
    s = summary("lenet5", convention="macs")
    # conv1 6@5x5 on 32x32x1: 6*28*28*25; conv2 16@5x5x6 on 14x14: 16*10*10*150; fc 400-120-84-10.
    assert s.totals()["forward_flops"] == 117_600 + 240_000 + 48_000 + 10_080 + 840 == 416_520
    assert s.totals()["params"] == 61_706
    assert s.totals()["forward_flops_by_kind"]["mac"] == 416_520


def test_vgg16_macs_from_spec_without_allocating():
    s = summary("vgg16", convention="macs")  # 138M parameters: described from shapes only
    assert s.input_shape == (1, 3, 224, 224)
    assert s.totals()["params"] == 138_357_544
    assert s.totals()["forward_flops"] == 15_470_264_320
    assert s.layers[-1].output_shape == (1, 1000)


# --- torch: PyTorch's FlopCounterMode ----------------------------------------------------------
def test_torch_convention_matches_flop_counter_mode():
    torch = pytest.importorskip("torch")
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2, 2)]

    net = nn.Sequential(*block(3, 32), *block(32, 64), *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(128, 10))
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    with FlopCounterMode(display=False) as forward:
        out = net(x)
    with FlopCounterMode(display=False) as backward:
        out.sum().backward()
    t = summary("seed-cnn", batch=2, convention="torch").totals()
    assert t["forward_flops"] == forward.get_total_flops()
    assert t["backward_flops"] == backward.get_total_flops()


# --- renderings --------------------------------------------------------------------------------
def test_markdown_has_seed001_layout(seed_cnn):
    md = seed_cnn.to_markdown()
    for header in ("## Forward Pass Summary", "| Layer | Input Shape | Output Shape | Memory | Parameters | FLOPs |",
                   "## Backward Pass Summary", "| Layer | Gradient Shape | Memory | Param Grad Memory | FLOPs |",
                   "## Total Network Statistics", "| Pass | FLOPs | Percentage |",
                   "### Computational Breakdown by Layer Type", "| Layer Type | Forward FLOPs | % of Total Forward |"):
        assert header in md
    assert "| Conv1 | (32, 3, 32, 32) | (32, 32, 32, 32) | 4.0 MB | 896 | 56.6 M |" in md
    assert "**94,986**" in md


def test_json_layout():
    data = json.loads(summary("seed-cnn", batch=8, convention="exact").to_json())
    assert {"convention", "batch", "layers", "totals"} <= set(data)
    assert data["convention"] == "exact" and data["batch"] == 8
    layer_keys = {"name", "type", "input_shape", "output_shape", "params", "param_bytes", "activation_bytes",
                  "forward_flops", "backward_flops", "flops_by_kind"}
    assert all(layer_keys <= set(layer) for layer in data["layers"])
    assert {"params", "activation_bytes", "forward_flops", "backward_flops"} <= set(data["totals"])
    first = data["layers"][0]
    assert (first["name"], first["type"], first["input_shape"], first["output_shape"]) == (
        "Conv1", "conv", [8, 3, 32, 32], [8, 32, 32, 32])
    assert first["flops_by_kind"]["forward"]["mul"] == 8 * 32 * 32 * 32 * 27
    assert data["totals"]["params"] == 94_986


def test_csv_parses():
    s = summary("lenet5", convention="exact")
    rows = list(csv.DictReader(io.StringIO(s.to_csv())))
    assert [r["name"] for r in rows] == [l.name for l in s.layers]
    assert rows[0]["input_shape"] == "1 x 1 x 32 x 32" and rows[0]["params"] == "156"  # 6 * 25 + 6
    assert int(rows[0]["forward_mul"]) == 117_600
    assert sum(int(r["forward_flops"]) for r in rows) == s.totals()["forward_flops"]


def test_html_is_a_table():
    html = summary("homework3-q1").to_html()
    assert html.startswith("<div>") and "<table>" in html and "<th>Layer</th>" in html and "Conv" in html
    assert summary("homework3-q1")._repr_html_() == html


def test_cli_summary_json(capsys):
    assert main(["summary", "seed-cnn", "--format", "json", "--convention", "walkthrough"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["batch"] == 32 and data["totals"]["forward_flops"] == 673_595_392
    assert main(["summary", "seed-cnn", "--format", "csv", "--batch", "2"]) == 0
    assert len(list(csv.reader(io.StringIO(capsys.readouterr().out)))) == 1 + 14


# --- any network, any convention ----------------------------------------------------------------
def test_fifty_layer_spec():
    layers = []
    for i in range(12):
        layers += [{"conv": {"filters": 16, "kernel": 3, "pad": 1}}, "batchnorm", "relu",
                   {"dropout": {"keep": 0.9}}]
    layers += ["flatten", {"affine": {"units": 10}}]
    spec = {"name": "deep", "input": [3, 16, 16], "layers": layers}
    assert len(layers) == 50
    s = summary(spec, batch=64, convention="exact", optimizer="adam")
    assert len(s.layers) == 50
    t = s.totals()
    assert t["optimizer_state_bytes"] == 2 * t["param_bytes"]
    # conv 1: 16*3*9 + 16, conv 2..12: 16*16*9 + 16; batchnorm 2*16; affine 4096*10 + 10
    assert t["params"] == 448 + 11 * 2320 + 12 * 32 + 40_970


def test_model_object_is_the_net_you_analyse():
    model = FullyConnectedNet([20, 15], input_dim=30, normalization="layernorm", dropout_keep_ratio=0.5, seed=0)
    s = summary(model, batch=5, convention="exact", dtype="float64")
    assert [l.type for l in s.layers] == ["affine", "layernorm", "relu", "dropout"] * 2 + ["affine"]
    assert s.totals()["params"] == sum(p.size for p in model.params.values())
    assert s.layers[0].input_shape == (5, 30)


def test_user_defined_convention():
    class ConvOnly(Convention):
        name = "conv-only"
        description = "2 FLOPs per convolution MAC, nothing else"

        def flops(self, layer, input_shape):
            if layer.kind != "conv":
                return LayerFlops()
            m = layer.macs(input_shape)
            return LayerFlops(forward=Ops(mul=m, add=m))

    s = summary("lenet5", convention=ConvOnly())
    assert s.convention.name == "conv-only"
    assert s.totals()["forward_flops"] == 2 * (117_600 + 240_000)
    assert s.totals()["backward_flops"] == 0
    assert json.loads(s.to_json())["convention"] == "conv-only"


def test_conventions_agree_on_macs():
    s_mac, s_torch = summary("lenet5", convention=MACS), summary("lenet5", convention="torch")
    assert s_torch.totals()["forward_flops"] == 2 * s_mac.totals()["forward_flops"]
    assert s_torch.totals()["backward_flops"] == 4 * s_mac.totals()["forward_flops"]
    # walkthrough's conv and affine forward is the torch figure (2 per MAC, no bias)
    wt = summary("lenet5", convention=WALKTHROUGH)
    assert sum(l.forward_flops for l in wt.layers if l.type in ("conv", "affine")) == s_torch.totals()["forward_flops"]
    assert EXACT.flops(Conv2d(6, 5), (1, 1, 32, 32)).forward.mul == 117_600
    assert math.isclose(wt.totals()["backward_forward_ratio"], wt.totals()["backward_flops"] / wt.totals()["forward_flops"])


def test_a_convolution_by_bands_counts_dx_as_a_correlation():
    # resnet20's first stage at batch 128: columns of 144 x 131,072 entries, above MIN_BAND_COLUMNS,
    # so the kernels run by bands, and with 16 channels at stride 1 dx is dout, zero-padded,
    # correlated with the flipped filters: each of the N C H W inputs a dot product of F 3 3 terms
    N, C, H, W, F = 128, 16, 32, 32, 16
    flops = Conv2d(F, 3, pad=1, bias=False).exact_flops((N, C, H, W))
    inputs, terms = N * C * H * W, F * 9
    assert flops.backward_input == Ops(mul=inputs * terms, add=inputs * (terms - 1))
    # the same products as ever for the output and dW: 144 per output, 131,072 per weight
    assert flops.forward == Ops(mul=N * F * H * W * 144, add=N * F * H * W * 143)
    assert flops.backward_params == Ops(mul=F * 144 * N * H * W, add=F * 144 * (N * H * W - 1))
    # 8 channels: too few rows for the correlation's product, dcols and col2im (seed 000's count)
    small = Conv2d(F, 3, pad=1, bias=False).exact_flops((N, 8, H, W))
    cols = 8 * 9 * N * H * W
    assert small.backward_input == Ops(mul=cols * F, add=cols * (F - 1) + cols)
