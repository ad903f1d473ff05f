"""Naive vs fast convolution on the three convolutions of seed 001 (batch 32, float32).

Prints, for each convolution, the median forward and backward time of
``conv_*_naive`` (one dot product per output element) and ``conv_*_fast``
(im2col + one GEMM forward, two GEMMs + col2im backward), and the speedup.
The naive path takes seconds per call, so it is timed on fewer repeats.

    python benchmarks/conv_naive_vs_fast.py [--repeats 10] [--naive-repeats 3]
"""

import argparse
import statistics
import time

import numpy as np

import tallynet
from tallynet.layers.conv import conv_backward_fast, conv_backward_naive, conv_forward_fast, conv_forward_naive

# Seed 001's CNN: x (N, C, H, W) and w (F, C, kh, kw), all stride 1 pad 1.
CONVS = [
    ("conv1", (32, 3, 32, 32), (32, 3, 3, 3)),
    ("conv2", (32, 32, 16, 16), (64, 32, 3, 3)),
    ("conv3", (32, 64, 8, 8), (128, 64, 3, 3)),
]
CONV_PARAM = {"stride": 1, "pad": 1}


def median_time(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` calls, and its last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def time_impl(forward, backward, x, w, b, dout, repeats):
    t_fwd, (out, cache) = median_time(lambda: forward(x, w, b, CONV_PARAM), repeats)
    t_bwd, grads = median_time(lambda: backward(dout, cache), repeats)
    return t_fwd, t_bwd, out, grads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed calls of the fast path")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed calls of the naive path")
    args = parser.parse_args()
    tallynet.tune_process()

    rng = np.random.default_rng(0)
    header = (f"{'layer':<6} {'x':<16} {'w':<16} {'naive fwd':>10} {'fast fwd':>10} {'speedup':>8}"
              f" {'naive bwd':>10} {'fast bwd':>10} {'speedup':>8}")
    print(f"float32, stride 1, pad 1; median of {args.naive_repeats} naive / {args.repeats} fast calls")
    print(header)
    print("-" * len(header))
    for name, x_shape, w_shape in CONVS:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        b = rng.standard_normal(w_shape[0], dtype=np.float32)
        dout = rng.standard_normal((x_shape[0], w_shape[0], x_shape[2], x_shape[3]), dtype=np.float32)
        conv_backward_fast(dout, conv_forward_fast(x, w, b, CONV_PARAM)[1])  # warm-up
        fast = time_impl(conv_forward_fast, conv_backward_fast, x, w, b, dout, args.repeats)
        naive = time_impl(conv_forward_naive, conv_backward_naive, x, w, b, dout, args.naive_repeats)
        # The two must compute the same thing (up to float32 summation order).
        for ours, ref in zip((fast[2], *fast[3]), (naive[2], *naive[3])):
            np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-3 * float(np.abs(ref).max()))
        print(f"{name:<6} {str(x_shape):<16} {str(w_shape):<16}"
              f" {naive[0] * 1e3:8.0f}ms {fast[0] * 1e3:8.2f}ms {naive[0] / fast[0]:7.0f}x"
              f" {naive[1] * 1e3:8.0f}ms {fast[1] * 1e3:8.2f}ms {naive[1] / fast[1]:7.0f}x")


if __name__ == "__main__":
    main()
