"""Time a training step and a forward pass of a spec's model, tallynet beside PyTorch.

    python benchmarks/train_step.py [SPEC] [--batch 32 128] [--repeats 21] [--threads 2] [--no-torch]

The same as ``tallynet bench``: see :mod:`tallynet.bench` for what is timed and how.
"""

import sys

import tallynet.cli  # the command applies tallynet.tune_process() before it runs

if __name__ == "__main__":
    sys.exit(tallynet.cli.main(["bench", *sys.argv[1:]]))
