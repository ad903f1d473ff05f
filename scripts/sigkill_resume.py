"""Kill a `tallynet train` with SIGKILL at random moments, resume after each, compare with a straight run.

    python scripts/sigkill_resume.py [--kills 10] [--seed 0] [--epochs 8] [--workdir DIR]

A training is run once uninterrupted (the reference) and once through ``--kills`` SIGKILLs,
each followed by a resume (``--resume`` once a checkpoint exists, else ``--overwrite``),
then a last resume that runs to the end. The moments are not wall-clock times, which
would depend on the machine's load: every training process counts *events* (before each
iteration; before and after each rename that puts a checkpoint, metrics.jsonl or
result.json in place; before each metrics line, and half-way through writing one) and
SIGKILLs itself at a randomly drawn one (``os.kill(os.getpid(), SIGKILL)``, a real
SIGKILL: no handler, no cleanup). So every dangerous window is hit at random, and a
given ``--seed`` hits the same ones on any machine.

Checks at the end: no metrics line is lost or doubled (metrics.jsonl equals the
reference's, but for the times), no temporary file is left in the run directory, and
checkpoint_last.npz and best.npz are bit-identical to the reference's (parameters,
optimizer state, generator, histories). Prints one line per run and a summary; exits 1
if a check fails.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "examples", "digits-fcnet.yaml")
FLAGS = ["--data", "digits", "--num-train", "200", "--batch", "50", "--optimizer", "sgd_momentum", "--seed", "3"]

# The training process: counts events and SIGKILLs itself at the TALLYNET_KILL_AT-th (0: never).
CHILD = r"""
import atexit, json, os, signal, sys
kill_at = int(os.environ["TALLYNET_KILL_AT"])
count = 0
atexit.register(lambda: print(f"tallynet-events {count}", file=sys.stderr))

def event(moment, before_dying=None):
    global count
    count += 1
    if count == kill_at:
        if before_dying is not None:
            before_dying()
        print(f"tallynet-kill {moment}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

from tallynet import rundir, solver

step = solver.Solver.step
def counted_step(self):
    event(f"before iteration {self.iteration + 1}")
    return step(self)
solver.Solver.step = counted_step

replace = os.replace
def counted_replace(src, dst):
    name = os.path.basename(dst)
    event(f"before the rename to {name}")  # a kill here leaves the temporary file of a finished write
    replace(src, dst)
    event(f"after the rename to {name}")
os.replace = counted_replace

append = rundir.RunDirectory.append_metrics
def counted_append(self, record):
    def half_a_line():
        with open(self.file(rundir.METRICS_NAME), "a", encoding="utf-8") as f:
            f.write(json.dumps(record)[:20])
    event(f"before the metrics line of epoch {record['epoch']}")  # its checkpoint is written, the line not
    event(f"half-way through the metrics line of epoch {record['epoch']}", half_a_line)
    append(self, record)
rundir.RunDirectory.append_metrics = counted_append

from tallynet.cli import main
sys.exit(main(sys.argv[1:]))
"""


def train(out, extra, kill_at):
    env = dict(os.environ, TALLYNET_KILL_AT=str(kill_at), PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", CHILD, "train", SPEC, *FLAGS, *extra, "--out", out],
                          env=env, capture_output=True, text=True, timeout=300)
    return proc


def _payload(path):
    from tallynet.checkpoint import load_checkpoint

    return load_checkpoint(path)


def _differences(a, b, where=""):
    """Paths where two checkpoint payloads differ, bit for bit (times excepted)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a)} vs {sorted(b)}"]
        return [d for k in a if k != "seconds" for d in _differences(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        same = (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and a.tobytes() == b.tobytes())
        return [] if same else [f"{where}: arrays differ"]
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def _metrics(out):
    lines = open(os.path.join(out, "metrics.jsonl"), encoding="utf-8").read().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def run(kills=10, seed=0, epochs=8, workdir=None, log=print):
    """Returns the list of failed checks (empty when all hold)."""
    sys.path.insert(0, ROOT)
    workdir = workdir or tempfile.mkdtemp(prefix="tallynet-sigkill-")
    ref, out = os.path.join(workdir, "reference"), os.path.join(workdir, "killed")
    for d in (ref, out):
        shutil.rmtree(d, ignore_errors=True)
    epochs_flag = ["--epochs", str(epochs)]
    proc = train(ref, epochs_flag, kill_at=0)
    if proc.returncode != 0:
        return [f"the reference run failed ({proc.returncode}): {proc.stderr[-2000:]}"]
    total = int(proc.stderr.rsplit("tallynet-events ", 1)[1].split()[0])
    rng = random.Random(seed)
    failures = []
    for i in range(kills + 1):
        resume = os.path.exists(os.path.join(out, "checkpoint_last.npz"))
        # a moment drawn uniformly from the next epoch and a half of what is left of the run
        # (as many events an epoch as the reference had), so that the kills fall all along it
        done = _payload(os.path.join(out, "checkpoint_last.npz"))["epoch"] if resume else 0
        left = max(1, round(total * (epochs - done) / epochs))
        kill_at = rng.randint(1, min(left, round(1.5 * total / epochs))) if i < kills else 0
        mode = ["--resume"] if resume else (["--overwrite"] if os.path.isdir(out) else [])
        proc = train(out, epochs_flag + mode, kill_at)
        temps = sorted(n for n in os.listdir(out) if n.endswith(".tmp"))
        metrics = os.path.join(out, "metrics.jsonl")
        lines = open(metrics).read().count("\n") if os.path.exists(metrics) else 0
        last = os.path.join(out, "checkpoint_last.npz")
        saved = _payload(last)["epoch"] if os.path.exists(last) else None
        moment = proc.stderr.rsplit("tallynet-kill ", 1)[1].splitlines()[0] if "tallynet-kill " in proc.stderr \
            else "none"
        what = f"SIGKILL at event {kill_at}, {moment}" if kill_at else "to the end"
        log(f"run {i + 1:2d} ({' '.join(mode) or 'new'}; {what}): exit {proc.returncode}; then "
            f"checkpoint_last at epoch {saved}, {lines} whole metrics lines, temporary files: {temps or 'none'}")
        expected = -signal.SIGKILL if kill_at else 0
        if proc.returncode != expected:
            failures.append(f"run {i + 1} exited {proc.returncode}, expected {expected}: {proc.stderr[-2000:]}")
            return failures
    temps = [n for n in os.listdir(out) if n.endswith(".tmp")]
    if temps:
        failures.append(f"temporary files left: {temps}")
    if _metrics(out) != _metrics(ref):
        failures.append(f"metrics.jsonl differs from the reference's: {_metrics(out)} vs {_metrics(ref)}")
    for name in ("checkpoint_last.npz", "best.npz", f"checkpoint_epoch_{epochs}.npz"):
        diff = _differences(_payload(os.path.join(ref, name)), _payload(os.path.join(out, name)))
        if diff:
            failures.append(f"{name} differs from the reference's at {diff[:3]}")
    result = [json.load(open(os.path.join(d, "result.json")))["test_acc"] for d in (ref, out)]
    if result[0] != result[1]:
        failures.append(f"test accuracy {result[1]} differs from the reference's {result[0]}")
    log(f"{kills} SIGKILLs: {len(_metrics(out))} metrics lines (reference {len(_metrics(ref))}), "
        f"no temporary file left: {not temps}, checkpoint_last.npz and best.npz bit-identical to the "
        f"reference's: {not any('npz' in f for f in failures)}, test accuracy {result[1]} (reference {result[0]})")
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seeds the choice of the moments")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--workdir", default=None, help="where the two run directories go (default: a new temp dir)")
    args = parser.parse_args(argv)
    failures = run(args.kills, args.seed, args.epochs, args.workdir)
    for failure in failures:
        print("FAILED:", failure)
    print("OK" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
