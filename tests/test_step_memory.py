"""A training step's memory is stable over steps, and float32 agrees with float64."""

import tracemalloc

import numpy as np
import pytest

from tallynet import optim
from tallynet.models import preset


def _numpy_bytes():
    """Bytes of NumPy array buffers alive now: Python's own objects (whose free lists fill
    slowly over a long run) are left out."""
    domain = tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)
    return sum(t.size for t in tracemalloc.take_snapshot().filter_traces([domain]).traces)


def test_peak_memory_does_not_grow_over_20_steps():
    model = preset("seed-cnn", seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3, 32, 32)).astype(np.float32)
    y = rng.integers(10, size=8)
    configs = {k: {"learning_rate": 1e-2, "momentum": 0.9} for k in model.params}
    peaks, held = [], []
    tracemalloc.start()
    try:
        for _ in range(20):
            tracemalloc.reset_peak()
            _, grads = model.loss(X, y)
            for k, w in model.params.items():
                model.params[k], configs[k] = optim.sgd_momentum(w, grads[k], configs[k])
            del grads
            peaks.append(tracemalloc.get_traced_memory()[1])
            held.append(_numpy_bytes())
    finally:
        tracemalloc.stop()
    # After the first steps (optimizer state is created in step 1), no array accumulates.
    assert max(peaks[2:]) <= peaks[2] * 1.01
    assert held[2] > 0 and max(held[2:]) == held[2]


def test_float32_loss_agrees_with_float64():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((16, 3, 32, 32))
    y = rng.integers(10, size=16)
    loss32, _ = preset("seed-cnn", dtype=np.float32, seed=5).loss(X.astype(np.float32), y)
    loss64, _ = preset("seed-cnn", dtype=np.float64, seed=5).loss(X, y)
    assert loss32 == pytest.approx(loss64, rel=1e-4)
