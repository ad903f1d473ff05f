"""How long a summary of a torchvision model takes from the shell: tallynet against torchinfo.

    python benchmarks/import_time.py [MODEL] [--rounds 5] [--input 3 224 224]

Each round runs, each in a fresh Python process (start, imports and all, as a user types it):

* tallynet: ``python -m tallynet.cli summary torchvision.models:MODEL --input C H W``
* torchinfo: ``torchinfo.summary(torchvision.models.MODEL(), input_size=(1, C, H, W))`` after
  ``import torchvision`` (with ``torchvision._meta_registrations`` replaced by an empty module
  where, as beside the CPU torch, the wheel's compiled operators fail to register; the
  models need none of them). Skipped if torchinfo is not installed (``pip install torchinfo``).
* import numpy, torch: ``python -c "import numpy, torch"``, the floor both stand on.

The two alternate, round by round, so a change in the machine's load falls on both. Prints,
for each, the median over the rounds of the CPU time (user + system of the process) and of the
wall time, with their spread (min to max), then one JSON line with the numbers.
"""

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

TORCHINFO = """
import sys, types
try:
    import torchvision
except RuntimeError as err:  # operator torchvision::nms does not exist: the CPU torch
    if "torchvision::" not in str(err):
        raise
    for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
        del sys.modules[name]
    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    import torchvision
import torchinfo
torchinfo.summary(getattr(torchvision.models, sys.argv[1])(), input_size=(1, *map(int, sys.argv[2:])))
"""


def commands(model, shape):
    dims = [str(d) for d in shape]
    tools = {"tallynet": [sys.executable, "-m", "tallynet.cli", "summary", f"torchvision.models:{model}",
                          "--input", *dims]}
    if importlib.util.find_spec("torchinfo") is not None:
        tools["torchinfo"] = [sys.executable, "-c", TORCHINFO, model, *dims]
    tools["import numpy, torch"] = [sys.executable, "-c", "import numpy, torch"]
    return tools


def run(command):
    """``(cpu seconds, wall seconds)`` of one process running ``command`` to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="resnet50")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--input", type=int, nargs="+", default=[3, 224, 224])
    args = parser.parse_args()
    tools = commands(args.model, args.input)
    # this checkout's tallynet, not another one installed
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [repository, os.environ.get("PYTHONPATH")]))
    times = {name: [] for name in tools}
    for _ in range(args.rounds):
        for name, command in tools.items():
            times[name].append(run(command))
    result = {}
    for name, pairs in times.items():
        cpu, wall = [p[0] for p in pairs], [p[1] for p in pairs]
        result[name] = {"cpu_median_s": round(statistics.median(cpu), 2),
                        "cpu_min_max_s": [round(min(cpu), 2), round(max(cpu), 2)],
                        "wall_median_s": round(statistics.median(wall), 2),
                        "wall_min_max_s": [round(min(wall), 2), round(max(wall), 2)]}
        r = result[name]
        print(f"{name:>19}  cpu {r['cpu_median_s']:.2f} s ({r['cpu_min_max_s'][0]:.2f}-{r['cpu_min_max_s'][1]:.2f})  "
              f"wall {r['wall_median_s']:.2f} s ({r['wall_min_max_s'][0]:.2f}-{r['wall_min_max_s'][1]:.2f})  "
              f"median of {args.rounds}, {args.model} {'x'.join(map(str, args.input))}")
    print(json.dumps({"model": args.model, "input": args.input, "rounds": args.rounds, **result}))


if __name__ == "__main__":
    main()
