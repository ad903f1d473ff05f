"""Time a training step and a forward pass of a spec's model, tallynet beside PyTorch.

    tallynet bench SPEC [--batch 32 128] [--repeats 21] [--threads 2] [--no-torch]

(``python benchmarks/train_step.py`` runs the same.) A training step is forward,
softmax loss, backward and an SGD-momentum update; the forward pass is test mode
(running statistics, no caches; PyTorch ``eval()`` and ``no_grad()``). float32,
after warm-up, the two alternated in one process so that both see the same
machine state; medians and the spread (25th to 75th percentile). When PyTorch is
installed it builds the identical network (same layers, same initial weights,
NCHW, ``torch.set_num_threads`` = threads), checks that one step of each gives
the same loss to 1e-4 (not with dropout, whose masks each library draws itself),
and reports the ratio tallynet / PyTorch. The last line of the output is one JSON
object with every number.

Neither library's idle threads spin while the other runs: OpenBLAS's sleep at once
(:func:`tallynet.tune_process` sets OPENBLAS_THREAD_TIMEOUT=4, see :mod:`tallynet._openblas`) and
PyTorch's OpenMP threads are passive (OMP_WAIT_POLICY=PASSIVE, set here before
PyTorch is imported). Left spinning,
either slows the other on a 2-core machine: OpenBLAS's default alone makes
PyTorch's step 1.7x slower, which flatters the ratio.
"""

import contextlib
import json
import os
import platform
import sys
import time

import numpy as np

from . import _openblas
from .layers._threads import num_threads
from .models import from_spec, resolve_spec
from .step import rule_update, train_step
from .tuning import tune_process

LOSS_TOLERANCE = 1e-4  # relative, on the first step's loss (float32)
WARMUP_STEPS = 3


def _tallynet_runner(model, X, y):
    update = rule_update("sgd_momentum", {"learning_rate": 1e-2, "momentum": 0.9})
    return (lambda: train_step(model, X, y, update, check_finite=False)), lambda: model.loss(X)


def _torch_runner(model, X, y, torch):
    from .torch_bridge import to_torch

    net = to_torch(model)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)

    def step():
        net.train()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(tX), ty)
        loss.backward()
        opt.step()
        return loss.item()

    def forward():
        with torch.no_grad():
            return net.eval()(tX)
    return step, forward


def _quartiles(seconds):
    q1, med, q3 = np.percentile(np.array(seconds) * 1e3, [25, 50, 75])
    return {"median_ms": round(float(med), 3), "q1_ms": round(float(q1), 3), "q3_ms": round(float(q3), 3)}


def bench_batch(spec, batch, repeats, torch=None):
    """Times of one batch size: a dict with ``batch``, ``tallynet`` (and ``pytorch``, the
    first-step losses, ``loss_match`` and the ratios when ``torch`` is the module)."""
    model = from_spec(resolve_spec(spec), seed=0, dtype=np.float32)
    if model.loss_name != "softmax":
        raise ValueError(f"tallynet bench times a softmax classifier (as PyTorch's cross_entropy); "
                         f"this spec's loss is {model.loss_name!r}")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch,) + model.input_shape).astype(np.float32)
    y = rng.integers(model.output_shape[-1], size=batch)
    runners = {"tallynet": _tallynet_runner(model, X, y)}
    if torch is not None:
        runners["pytorch"] = _torch_runner(model, X, y, torch)  # copies the weights before any step
    result = {"batch": batch}
    if torch is not None:
        first = {name: float(step()) for name, (step, _) in runners.items()}  # the same weights, one step each
        result["first_step_loss"] = first
        # dropout draws its masks from each library's own generator: then the losses differ by design
        result["loss_match"] = None if any(layer.kind == "dropout" for layer in model.layers) else (
            abs(first["tallynet"] - first["pytorch"]) <= LOSS_TOLERANCE * max(1.0, abs(first["pytorch"])))
    for step, _ in runners.values():
        for _ in range(WARMUP_STEPS):
            step()
    times = {name: {"step": [], "forward": []} for name in runners}
    for _ in range(repeats):  # alternate, so that both see the same machine state
        for name, (step, forward) in runners.items():
            for kind, fn in (("step", step), ("forward", forward)):
                start = time.perf_counter()
                fn()
                times[name][kind].append(time.perf_counter() - start)
    for name in runners:
        result[name] = {kind: _quartiles(ts) for kind, ts in times[name].items()}
        # from the median as reported (rounded to the microsecond), so that the two agree
        result[name]["images_per_second"] = round(batch / (result[name]["step"]["median_ms"] / 1e3), 1)
    if torch is not None:
        for kind in ("step", "forward"):
            # of the medians as reported, not rounded again: the two agree to the last digit
            result[f"ratio_{kind}"] = result["tallynet"][kind]["median_ms"] / result["pytorch"][kind]["median_ms"]
    return result


def _import_torch(threads):
    """PyTorch with passive OpenMP threads and ``threads`` threads, or None if not installed."""
    if "torch" not in sys.modules:  # libgomp reads the policy when it loads
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def bench(spec, batches=(32, 128), repeats=21, threads=2, use_torch=True):
    """Run :func:`bench_batch` for each batch size with ``threads`` threads for NumPy's BLAS,
    tallynet's own passes and PyTorch, after :func:`tallynet.tune_process`. Returns the JSON
    object the report ends with.

    The thread settings are restored afterwards (PyTorch's stays, as its own setting).
    """
    for name, value in (("threads", threads), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not batches or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in batches):
        raise ValueError(f"batches must be integers >= 1, got {batches!r}")
    tuned = tune_process()
    torch = _import_torch(threads) if use_torch else None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn (the [data] extra)
        threadpool_limits = None
    with num_threads(threads), (contextlib.nullcontext() if threadpool_limits is None
                                else threadpool_limits(threads, user_api="blas")):
        results = [bench_batch(spec, b, repeats, torch) for b in batches]
    return {
        "spec": spec if isinstance(spec, str) else spec.get("name", "spec"), "threads": threads, "repeats": repeats,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "blas_threads_limited": threadpool_limits is not None,
        "openblas_thread_timeout": os.environ.get(_openblas.VARIABLE, "unset"),
        "openblas_timeout_in_effect": tuned["openblas_idle_threads_sleep"],
        "keep_freed_memory": tuned["keep_freed_memory"],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset") if torch is not None else None,
        "pytorch": None if torch is None else torch.__version__,
        "results": results,
    }


def report(data):
    """The printed form of :func:`bench`'s result: a header, one line per batch and kind, the JSON line."""
    lines = [f"{data['spec']}, float32, {data['threads']} threads, {data['machine']}; "
             f"median (25th-75th percentile) of {data['repeats']} runs"]
    if not data["blas_threads_limited"]:
        lines.append("threadpoolctl not installed: NumPy's BLAS uses its default number of threads")
    settings = f"OPENBLAS_THREAD_TIMEOUT={data['openblas_thread_timeout']}"
    if not data["openblas_timeout_in_effect"]:
        settings += " (not in effect: NumPy's BLAS is not OpenBLAS, or the value is not OpenBLAS's)"
    if data["pytorch"] is None:
        settings += "; PyTorch not timed"
    else:
        settings += f"; PyTorch {data['pytorch']}, OMP_WAIT_POLICY={data['omp_wait_policy']}"
    lines.append(settings)
    lines.append(f"{'batch':>5}  {'':8}  {'tallynet ms':>22}  {'pytorch ms':>22}  {'ratio':>6}  {'img/s ours':>10}")
    for r in data["results"]:
        for kind in ("step", "forward"):
            ours = r["tallynet"][kind]
            line = f"{r['batch']:>5}  {kind:8}  {ours['median_ms']:8.2f} ({ours['q1_ms']:.1f}-{ours['q3_ms']:.1f})"
            if "pytorch" in r:
                ref = r["pytorch"][kind]
                line += f"  {ref['median_ms']:8.2f} ({ref['q1_ms']:.1f}-{ref['q3_ms']:.1f})  {r['ratio_' + kind]:6.2f}"
            if kind == "step":
                line += f"  {r['tallynet']['images_per_second']:10.1f}"
            lines.append(line)
        if "loss_match" in r:
            verdict = {True: "match", False: "MISMATCH", None: "not compared: dropout masks differ"}[r["loss_match"]]
            lines.append(f"        first-step loss: tallynet {r['first_step_loss']['tallynet']:.6f}, "
                         f"pytorch {r['first_step_loss']['pytorch']:.6f} ({verdict})")
    lines.append(json.dumps(data))
    return "\n".join(lines) + "\n"
