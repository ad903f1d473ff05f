"""Predicted against measured: the peak of a PyTorch CPU training step, for the README's table.

    python scripts/torch_memory.py [--batch 32] [--input 3 64 64] [NETWORK ...]

For each network (default: seed-cnn, resnet18, mobilenet_v2) and optimizer (sgd, adam):
``summary(..., memory="torch")``'s peak, the one measured on the twin by
``torch.profiler`` (:func:`tallynet.profile.torch_memory.measure_model_step_peak`: a later
step, the optimizer's state alive before it), their difference, and tallynet's own peak
(``memory="tallynet"``) for contrast. Prints a markdown table. Needs torch.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tallynet.cost import summary  # noqa: E402
from tallynet.cost.render import fmt_bytes  # noqa: E402
from tallynet.models import from_spec, with_input  # noqa: E402
from tallynet.profile.torch_memory import measure_model_step_peak  # noqa: E402

NETWORKS = ("seed-cnn", "resnet18", "mobilenet_v2")
OPTIMIZERS = ("sgd", "adam")


def rows(networks, batch, sample):
    """One dict per network and optimizer: predicted (both models) and measured peak bytes."""
    for name in networks:
        spec = with_input(name, sample)
        model = from_spec(spec, seed=0, dtype=np.float32)
        for optimizer in OPTIMIZERS:
            peak = {memory: summary(spec, batch=batch, optimizer=optimizer, memory=memory).totals()
                    ["peak_bytes_estimate"] for memory in ("torch", "tallynet")}
            yield {"network": name, "optimizer": optimizer, "predicted": peak["torch"], "tallynet": peak["tallynet"],
                   "measured": measure_model_step_peak(model, batch, optimizer)["peak_bytes"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", default=list(NETWORKS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--input", type=int, nargs="+", default=[3, 64, 64])
    args = parser.parse_args(argv)
    print(f"batch {args.batch}, input {' x '.join(map(str, args.input))}, float32\n")
    print("| network | optimizer | `--memory torch` | measured (torch.profiler) | difference | `--memory tallynet` |")
    print("|---|---|---|---|---|---|")
    for r in rows(args.networks, args.batch, args.input):
        print(f"| {r['network']} | {r['optimizer']} | {fmt_bytes(r['predicted'])} | {fmt_bytes(r['measured'])} | "
              f"{100 * (r['predicted'] / r['measured'] - 1):+.2f} % | {fmt_bytes(r['tallynet'])} |", flush=True)


if __name__ == "__main__":
    main()
