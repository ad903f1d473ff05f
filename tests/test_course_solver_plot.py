"""The Solver's epoch 0 and `_step` (the course's), plots that leave pyplot alone, a Summary's repr."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tallynet.cost import summary
from tallynet.models import Sequential
from tallynet.layers import Affine, ReLU
from tallynet.solver import Solver

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=n)
    return rng.standard_normal((n, 4)) + 2.0 * np.eye(3, 4)[y], y


def make_solver(**kwargs):
    (X, y), (Xv, yv) = blobs(60, 0), blobs(30, 1)
    model = Sequential([Affine(8), ReLU(), Affine(3)], (4,), seed=0)
    return Solver(model, {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv}, update_rule="sgd",
                  optim_config={"learning_rate": 0.1}, batch_size=10, seed=0, **kwargs)


def test_histories_start_at_epoch_zero_and_the_log_says_so(capsys):
    solver = make_solver(num_epochs=3, print_every=100, num_train_samples=40)
    solver.train()
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 3 + 1
    lines = capsys.readouterr().out.splitlines()
    # the course's order: the first iteration's loss, then epoch 0's accuracies
    assert lines[0].startswith("(Iteration 1 / 18) loss: ")
    assert lines[1].startswith("(Epoch 0 / 3) train acc: ")
    assert [line.split(")")[0] for line in lines if line.startswith("(Epoch")] == [
        "(Epoch 0 / 3", "(Epoch 1 / 3", "(Epoch 2 / 3", "(Epoch 3 / 3"]
    assert solver.best_val_acc == max(solver.val_acc_history)


def test_epoch_zero_leaves_the_minibatch_stream_alone():
    """Its subsample comes from a child generator: a seeded run trains on the minibatches it
    drew before this measurement existed."""
    solver = make_solver(num_epochs=1, verbose=False, num_train_samples=40)
    solver.step()
    state = solver.rng.bit_generator.state
    solver._score_epoch_zero()
    assert solver.rng.bit_generator.state == state
    assert len(solver.train_acc_history) == 1


def test_step_keeps_the_course_name():
    solver = make_solver(num_epochs=1, verbose=False)
    assert Solver._step is Solver.step
    solver._step()
    assert solver.iteration == 1 and len(solver.loss_history) == 1


def test_plot_training_leaves_pyplot_and_its_backend_alone(tmp_path):
    """Run where a backend other than Agg is active, as in a notebook: it must stay active."""
    path = tmp_path / "curves.png"
    code = ("import matplotlib.pyplot as plt; from tallynet.plot import plot_training, training_figure; "
            f"plot_training([2.0, 1.5, 1.0, 0.8], [0.2, 0.5, 0.7], [0.2, 0.4, 0.6], {str(path)!r}); "
            "fig = training_figure([1.0], [0.1, 0.2], [0.1, 0.3]); "
            "import matplotlib; print(matplotlib.get_backend(), plt.get_fignums(), len(fig.axes))")
    env = dict(os.environ, MPLBACKEND="svg", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["svg", "[]", "2"]
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_summary_repr_is_the_text_table():
    pytest.importorskip("rich")
    s = summary("seed-cnn")
    text = repr(s)
    assert "object at 0x" not in text
    assert "Conv1" in text and "(32, 3, 32, 32)" in text and "TOTAL" in text.upper()
