"""Time a training step and a forward pass of a spec's model, tallynet beside PyTorch.

    tallynet bench SPEC [--batch 32 128] [--repeats 21] [--rounds 5] [--threads 2] [--no-torch]
                        [--no-channels-last]

(``python benchmarks/train_step.py`` runs the same.) A training step is forward,
softmax loss, backward and an SGD-momentum update; the forward pass is test mode
(running statistics, no caches; PyTorch ``eval()`` and ``no_grad()``), float32.

Each library runs alone in a process of its own, with its own default settings
(tallynet's: :func:`tallynet.tune_process`, as its command applies; PyTorch's: its
own, but ``torch.set_num_threads``), so that neither's idle threads or allocator
slow the other. For every batch size the two alternate over ``rounds`` rounds, a
fresh process each, ``repeats`` timed runs after warm-up in each; the report gives
the median and quartiles over all runs of all rounds and, for the ratio tallynet /
PyTorch, the median of the rounds' ratios and their range. PyTorch's network is
the identical one (same layers, same initial weights through
``tallynet.torch_bridge.to_torch``), timed twice: in NCHW, PyTorch's default memory
format, and in ``channels_last`` (NHWC memory, which oneDNN's CPU convolutions prefer),
for networks of images. One step of each must give the same loss to 1e-4 (not compared
with dropout, whose masks each library draws itself). The last line of the output is
one JSON object with every number.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time

import numpy as np

LOSS_TOLERANCE = 1e-4  # relative, on the first step's loss (float32)
WARMUP_STEPS = 3
LIBRARIES = ("tallynet", "pytorch", "pytorch-channels-last")
#: the suffix of a reference library's ratios in the results (``ratio_step``, ``ratio_step_channels_last``)
RATIO_SUFFIX = {"pytorch": "", "pytorch-channels-last": "_channels_last"}


# --- one library in its process ------------------------------------------------------------------
def _check_timable(spec):
    """Refuse, from shapes alone, a spec bench cannot time (before any process starts)."""
    from .models.spec import build_nodes

    loss = build_nodes(spec)[3].get("loss", "softmax")
    if loss != "softmax":
        raise ValueError(f"tallynet bench times a softmax classifier (as PyTorch's cross_entropy); "
                         f"this spec's loss is {loss!r}")


def _model_and_batch(spec, batch):
    from .models import from_spec

    _check_timable(spec)
    model = from_spec(spec, seed=0, dtype=np.float32)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch,) + model.input_shape).astype(np.float32)
    return model, X, rng.integers(model.output_shape[-1], size=batch)


def _tallynet_runner(model, X, y, threads):
    from .layers._threads import set_num_threads
    from .step import rule_update, train_step
    from .tuning import tune_process

    tune_process()
    set_num_threads(threads)
    _limit_blas(threads)
    update = rule_update("sgd_momentum", {"learning_rate": 1e-2, "momentum": 0.9})
    return (lambda: train_step(model, X, y, update, check_finite=False)), lambda: model.loss(X)


def _limit_blas(threads):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn (the [data] extra); then BLAS keeps its default
        return
    threadpool_limits(threads, user_api="blas")


def _torch_runner(model, X, y, threads, channels_last=False):
    import torch

    from .torch_bridge import to_torch

    torch.set_num_threads(threads)
    net = to_torch(model)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        tX = tX.contiguous(memory_format=torch.channels_last)
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


def measure(library, spec, batch, repeats, threads):
    """In this process: the first step's loss and ``repeats`` timed steps and forward passes
    (seconds) of ``library`` after warm-up, as a dict."""
    model, X, y = _model_and_batch(spec, batch)
    if library == "tallynet":
        step, forward = _tallynet_runner(model, X, y, threads)
    else:
        step, forward = _torch_runner(model, X, y, threads, channels_last=library == "pytorch-channels-last")
    first = float(step())
    for _ in range(WARMUP_STEPS):
        step()
    times = {"step": [], "forward": []}
    for _ in range(repeats):
        for kind, fn in (("step", step), ("forward", forward)):
            start = time.perf_counter()
            fn()
            times[kind].append(time.perf_counter() - start)
    return {"first_step_loss": first, "dropout": any(layer.kind == "dropout" for layer in model.layers), **times}


def _worker(argv):
    """``python -m tallynet.bench --worker LIB SPEC_JSON BATCH REPEATS THREADS``: one JSON line."""
    library, spec, batch, repeats, threads = argv
    print(json.dumps(measure(library, json.loads(spec), int(batch), int(repeats), int(threads))))


def _in_a_process(library, spec, batch, repeats, threads):
    out = subprocess.run([sys.executable, "-m", "tallynet.bench", "--worker", library, json.dumps(spec),
                          str(batch), str(repeats), str(threads)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the {library} process failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the comparison ---------------------------------------------------------------------------------
def _quartiles(seconds):
    q1, med, q3 = np.percentile(np.array(seconds) * 1e3, [25, 50, 75])
    return {"median_ms": round(float(med), 3), "q1_ms": round(float(q1), 3), "q3_ms": round(float(q3), 3)}


def losses_match(first, dropout):
    """Whether the first-step losses ``{"tallynet": ..., "pytorch": ..., ...}`` agree (every
    PyTorch run's with tallynet's); None with dropout, whose masks each library draws itself."""
    if dropout:
        return None
    ours = first["tallynet"]
    return all(abs(ours - ref) <= LOSS_TOLERANCE * max(1.0, abs(ref)) for lib, ref in first.items()
               if lib != "tallynet")


def bench_batch(spec, batch, repeats, rounds, threads, libraries, run=_in_a_process):
    """Times of one batch size: a dict with ``batch``, each library's quartiles (and, with both,
    the first-step losses, ``loss_match`` and the ratios with their range over the rounds)."""
    _check_timable(spec)
    rounds_of = {lib: [] for lib in libraries}
    for r in range(rounds):
        for lib in libraries if r % 2 == 0 else libraries[::-1]:  # alternate who goes first
            rounds_of[lib].append(run(lib, spec, batch, repeats, threads))
    result = {"batch": batch}
    for lib, runs in rounds_of.items():
        result[lib] = {kind: _quartiles([t for one in runs for t in one[kind]]) for kind in ("step", "forward")}
        # from the median as reported (rounded to the microsecond), so that the two agree
        result[lib]["images_per_second"] = round(batch / (result[lib]["step"]["median_ms"] / 1e3), 1)
    if len(libraries) > 1:
        first = {lib: runs[0]["first_step_loss"] for lib, runs in rounds_of.items()}
        result["first_step_loss"] = first
        result["loss_match"] = losses_match(first, rounds_of["tallynet"][0]["dropout"])
        for reference in libraries[1:]:
            result.update(_ratios(result, rounds_of, reference))
    return result


def _ratios(result, rounds_of, reference):
    """tallynet / ``reference`` for each kind: the ratio of the reported medians and the range of
    the rounds' ratios, keyed ``ratio_step``, ``ratio_step_rounds`` (+ the reference's suffix)."""
    ratios = {}
    for kind in ("step", "forward"):
        key = f"ratio_{kind}{RATIO_SUFFIX[reference]}"
        per_round = sorted(np.median(a[kind]) / np.median(b[kind])
                           for a, b in zip(rounds_of["tallynet"], rounds_of[reference]))
        # of the medians as reported, not rounded again: the two agree to the last digit
        ratios[key] = result["tallynet"][kind]["median_ms"] / result[reference][kind]["median_ms"]
        ratios[f"{key}_rounds"] = {"median": float(np.median(per_round)), "min": per_round[0], "max": per_round[-1]}
    return ratios


def _torch_version():
    """PyTorch's version, asked in a process of its own (importing it here would change this one), or None."""
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                         text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu():
    """The CPU's model name and widest vector extension, from Linux's /proc/cpuinfo (the ratios depend
    on both: oneDNN, PyTorch's convolutions, runs AVX-512 code where it can), else the platform's word."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            info = cpuinfo.read()
    except OSError:
        return platform.processor() or "CPU unknown"
    name, flags = (re.search(rf"^{key}\s*:\s*(.*)$", info, re.M) for key in ("model name", "flags"))
    flags = set(flags.group(1).split()) if flags else set()
    vector = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), None)
    return (name.group(1).strip() if name else "CPU unknown") + (f", {vector}" if vector else "")


def _blas():
    """NumPy's BLAS as threadpoolctl reports it (library, version, the kernels it picked), or None."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            kernels = f" ({lib['architecture']} kernels)" if lib.get("architecture") else ""
            library = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}.get(lib.get("internal_api"), "BLAS")
            return f"{library} {lib.get('version') or ''}".strip() + kernels
    return None


def bench(spec, batches=(32, 128), repeats=21, threads=2, use_torch=True, rounds=5, channels_last=True):
    """Run :func:`bench_batch` for each batch size, ``threads`` threads for each library (NumPy's
    BLAS and tallynet's passes; PyTorch's intra-op threads), PyTorch also in ``channels_last``
    when asked and the input is an image. Returns the JSON object the report ends with."""
    from .models import load_spec, resolve_spec

    for name, value in (("threads", threads), ("repeats", repeats), ("rounds", rounds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not batches or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in batches):
        raise ValueError(f"batches must be integers >= 1, got {batches!r}")
    name = spec if isinstance(spec, str) else spec.get("name", "spec")
    resolved = resolve_spec(spec)  # a dict, for the processes' command lines
    resolved = dict(resolved) if isinstance(resolved, dict) else load_spec(os.fspath(resolved))
    version = _torch_version() if use_torch else None
    images = len(resolved.get("input", ())) == 3  # (C, H, W): channels_last applies
    libraries = LIBRARIES[:(3 if channels_last and images else 2) if version else 1]
    return {
        "spec": name, "threads": threads, "repeats": repeats, "rounds": rounds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_cpu()}",
        "blas": _blas(),
        "pytorch": version,
        "results": [bench_batch(resolved, b, repeats, rounds, threads, libraries) for b in batches],
    }


def _times(quartiles):
    """A median and its quartiles, in milliseconds, 22 characters wide."""
    return f"{quartiles['median_ms']:8.2f} ({quartiles['q1_ms']:.1f}-{quartiles['q3_ms']:.1f})".ljust(22)


def report(data):
    """The printed form of :func:`bench`'s result: a header, one line per batch and kind, the JSON line."""
    lines = [f"{data['spec']}, float32, {data['threads']} threads each, {data['machine']}; each library alone in "
             f"its process, {data['rounds']} alternated rounds of {data['repeats']} runs; median (25th-75th "
             "percentile) over all runs, the ratio tallynet / PyTorch of the medians (its range over the rounds)"]
    if data.get("blas"):
        lines.append(f"NumPy {np.__version__}, its BLAS {data['blas']}")
    if data["pytorch"] is None:
        lines.append("PyTorch not timed")
    else:
        layouts = " and channels_last" if any(LIBRARIES[2] in r for r in data["results"]) else ""
        lines.append(f"PyTorch {data['pytorch']}, its default settings, NCHW{layouts}")
    references = [lib for lib in LIBRARIES[1:] if any(lib in r for r in data["results"])]
    lines.append(f"{'batch':>5}  {'':8}  {'tallynet ms':<22}" + "".join(
        f"  {lib + ' ms':<22}  {'ratio':<17}" for lib in references) + f"  {'img/s ours':>10}")
    for r in data["results"]:
        for kind in ("step", "forward"):
            line = f"{r['batch']:>5}  {kind:8}  {_times(r['tallynet'][kind])}"
            for lib in references:
                key = f"ratio_{kind}{RATIO_SUFFIX[lib]}"
                spread = r[f"{key}_rounds"]
                line += f"  {_times(r[lib][kind])}  {r[key]:5.2f} ({spread['min']:.2f}-{spread['max']:.2f})"
            if kind == "step":
                line += f"  {r['tallynet']['images_per_second']:10.1f}"
            lines.append(line)
        if "loss_match" in r:
            verdict = {True: "match", False: "MISMATCH", None: "not compared: dropout masks differ"}[r["loss_match"]]
            losses = ", ".join(f"{lib} {loss:.6f}" for lib, loss in r["first_step_loss"].items())
            lines.append(f"        first-step loss: {losses} ({verdict})")
    lines.append(json.dumps(data))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one library's timings, in a process of its own (for tallynet bench)")
    parser.add_argument("--worker", nargs=5, metavar=("LIB", "SPEC_JSON", "BATCH", "REPEATS", "THREADS"), required=True)
    _worker(parser.parse_args().worker)
