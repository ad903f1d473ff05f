"""How much counting mode slows a training step: counted / uncounted time, seed 001's CNN.

    python benchmarks/counting_overhead.py [SPEC] [--batch 32] [--repeats 7]

A step is :func:`tallynet.step.train_step` (forward, softmax loss, backward and an
SGD update of every parameter), float32, after a warm-up. The counted step runs the same code
on counting arrays inside a :class:`tallynet.profile.Counter` (its layers'
running averages and generators included), so every operation goes through the
counter. Prints the medians, the ratio (the target is at most 3x) and the
counted FLOPs, then one JSON line with the numbers.
"""

import argparse
import json
import statistics
import time

import numpy as np

import tallynet
from tallynet.models import from_spec, resolve_spec
from tallynet.profile import Counter, counting
from tallynet.step import rule_update, train_step

SGD = rule_update("sgd")


def step(model, X, y):
    return train_step(model, X, y, SGD, check_finite=False)


def counted_step(model, X, y):
    with Counter(owners=model.layers) as c:
        model.params = counting(model.params)
        step(model, counting(X), y)
    model.params = {k: np.asarray(w) for k, w in model.params.items()}  # plain again (views, no copies)
    return c


def median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="seed-cnn")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    tallynet.tune_process()
    model = from_spec(resolve_spec(args.spec), seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.batch,) + model.input_shape).astype(model.dtype)
    y = rng.integers(model.output_shape[-1], size=args.batch)
    step(model, X, y)  # warm-up
    counter = counted_step(model, X, y)
    plain = median_seconds(lambda: step(model, X, y), args.repeats)
    counted = median_seconds(lambda: counted_step(model, X, y), args.repeats)
    ratio = counted / plain
    print(f"{args.spec}, batch {args.batch}, float32, medians of {args.repeats} steps")
    print(f"  uncounted step {plain * 1e3:8.2f} ms")
    print(f"  counted step   {counted * 1e3:8.2f} ms   ({counter.flops.total:,} FLOPs counted; "
          f"{sum(counter.unknown.values())} unpriced operations)")
    print(f"  overhead       {ratio:8.2f}x   (target: at most 3x)")
    print(json.dumps({"spec": args.spec, "batch": args.batch, "uncounted_ms": round(plain * 1e3, 3),
                      "counted_ms": round(counted * 1e3, 3), "ratio": round(ratio, 3),
                      "counted_flops": counter.flops.total, "unknown": dict(counter.unknown)}))


if __name__ == "__main__":
    main()
