"""Time a training step and a forward pass of a spec's model, tallynet beside PyTorch.

    python benchmarks/train_step.py [SPEC] [--batch 32 128] [--repeats 15] [--threads 2]

A training step is forward, softmax loss, backward and an SGD-momentum update;
the forward pass is test mode (running statistics, no caches; PyTorch eval() and
no_grad()). float32, after warm-up, the two alternated in one process; medians
and the spread (25th to 75th percentile). When PyTorch is installed it builds
the identical network (same layers, same initial weights, NCHW,
torch.set_num_threads = --threads), checks that one step of each gives the same
loss to 1e-4, and prints the ratio tallynet / PyTorch. The last line of the
output is one JSON object with every number.

Neither library's idle threads spin while the other runs: OpenBLAS's sleep at once
(tallynet sets OPENBLAS_THREAD_TIMEOUT=4 when imported before NumPy) and
PyTorch's OpenMP threads are passive (OMP_WAIT_POLICY=PASSIVE). Left spinning,
either slows the other on a 2-core machine: OpenBLAS's default alone makes
PyTorch's step 1.7x slower here, which flatters the ratio.
"""

import argparse
import json
import os
import platform
import time

import tallynet  # before NumPy, so that OpenBLAS's idle threads sleep (see tallynet._openblas)
import numpy as np  # noqa: E402
from tallynet import _openblas, optim
from tallynet.models import from_spec, resolve_spec


def tallynet_step(model, configs):
    def step(X, y):
        loss, grads = model.loss(X, y)
        for k, w in model.params.items():
            model.params[k], configs[k] = optim.sgd_momentum(w, grads[k], configs[k])
        return loss
    return step


def torch_step(net, torch):
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)

    def step(X, y):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(X), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def quartiles(times):
    q1, med, q3 = np.percentile(np.array(times) * 1e3, [25, 50, 75])
    return {"median_ms": round(float(med), 3), "q1_ms": round(float(q1), 3), "q3_ms": round(float(q3), 3)}


def run(spec, batch, repeats, threads, torch):
    model = from_spec(resolve_spec(spec), seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch,) + model.input_shape).astype(np.float32)
    y = rng.integers(model.output_shape[-1], size=batch)
    configs = {k: {"learning_rate": 1e-2, "momentum": 0.9} for k in model.params}
    runners = {"tallynet": (tallynet_step(model, configs), lambda: model.loss(X), X, y)}
    result = {"batch": batch}
    if torch is not None:
        from tallynet.torch_bridge import to_torch

        net = to_torch(model)
        tX, ty = torch.from_numpy(X), torch.from_numpy(y)

        def torch_forward():
            with torch.no_grad():
                return net.eval()(tX)
        tstep = torch_step(net, torch)
        runners["pytorch"] = (lambda X, y: (net.train(), tstep(X, y))[1], torch_forward, tX, ty)
        first = {name: r[0](r[2], r[3]) for name, r in runners.items()}  # the same weights, one step each
        result["first_step_loss"] = first
        result["loss_match"] = abs(first["tallynet"] - first["pytorch"]) <= 1e-4 * max(1.0, abs(first["pytorch"]))
    for name, (step, _, A, b) in runners.items():  # warm-up
        for _ in range(3):
            step(A, b)
    times = {name: {"step": [], "forward": []} for name in runners}
    for _ in range(repeats):  # alternate, so that both see the same machine state
        for name, (step, forward, A, b) in runners.items():
            t = time.perf_counter()
            step(A, b)
            times[name]["step"].append(time.perf_counter() - t)
            t = time.perf_counter()
            forward()
            times[name]["forward"].append(time.perf_counter() - t)
    for name in runners:
        result[name] = {kind: quartiles(ts) for kind, ts in times[name].items()}
        result[name]["images_per_second"] = round(batch / np.median(times[name]["step"]), 1)
    if torch is not None:
        result["ratio_step"] = round(result["tallynet"]["step"]["median_ms"] / result["pytorch"]["step"]["median_ms"], 3)
        result["ratio_forward"] = round(result["tallynet"]["forward"]["median_ms"]
                                        / result["pytorch"]["forward"]["median_ms"], 3)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="seed-cnn")
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    tallynet.set_num_threads(args.threads)
    try:  # NumPy's BLAS threads (threadpoolctl comes with scikit-learn, the [data] extra)
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads, user_api="blas")
    except ImportError:
        print("threadpoolctl not installed: BLAS uses its default number of threads")
    torch = None
    if not args.no_torch:
        # PyTorch's OpenMP threads sleep between its calls instead of spinning against
        # NumPy's work on the same cores (set before libgomp loads)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            print("PyTorch not installed: timing tallynet alone")
    results = [run(args.spec, b, args.repeats, args.threads, torch) for b in args.batch]
    print(f"{args.spec}, float32, {args.threads} threads, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; median (25th-75th percentile) of {args.repeats} runs")
    timeout = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "unset")
    print(f"OPENBLAS_THREAD_TIMEOUT={timeout}" + ("" if _openblas.in_effect else " (NumPy was imported first)")
          + f", OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    header = f"{'batch':>5}  {'':8}  {'tallynet ms':>22}  {'pytorch ms':>22}  {'ratio':>6}  {'img/s ours':>10}"
    print(header)
    for r in results:
        for kind in ("step", "forward"):
            ours = r["tallynet"][kind]
            line = f"{r['batch']:>5}  {kind:8}  {ours['median_ms']:8.2f} ({ours['q1_ms']:.1f}-{ours['q3_ms']:.1f})"
            if "pytorch" in r:
                ref = r["pytorch"][kind]
                line += f"  {ref['median_ms']:8.2f} ({ref['q1_ms']:.1f}-{ref['q3_ms']:.1f})  {r['ratio_' + kind]:6.2f}"
            if kind == "step":
                line += f"  {r['tallynet']['images_per_second']:10.1f}"
            print(line)
        if "loss_match" in r:
            print(f"        first-step loss: tallynet {r['first_step_loss']['tallynet']:.6f}, "
                  f"pytorch {r['first_step_loss']['pytorch']:.6f} ({'match' if r['loss_match'] else 'MISMATCH'})")
    print(json.dumps({"spec": args.spec, "threads": args.threads, "openblas_thread_timeout": timeout,
                      "results": results}))


if __name__ == "__main__":
    main()
