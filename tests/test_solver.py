"""The Solver and its checkpoints, on a tiny two-layer net written here.

The net has everything a checkpoint must carry: trainable parameters, a
running mean (like batchnorm's) and its own dropout generator as model state,
and the solver draws minibatches and accuracy subsets from its generator. The
resume tests compare against an uninterrupted run with ``np.array_equal``:
anything not restored exactly would change the weights.
"""

import os
import signal

import numpy as np
import pytest

from tallynet.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tallynet.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss
from tallynet.solver import Solver, TrainingDiverged

D, H, C = 6, 8, 3


class TinyNet:
    """(x - running_mean) -> affine - relu - dropout - affine -> softmax, in float32."""

    def __init__(self, seed=0, hidden=H, keep=0.8):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": (0.5 * rng.standard_normal((D, hidden))).astype(np.float32),
            "b1": np.zeros(hidden, np.float32),
            "W2": (0.5 * rng.standard_normal((hidden, C))).astype(np.float32),
            "b2": np.zeros(C, np.float32),
        }
        self.keep = keep
        self.running_mean = np.zeros(D, np.float32)
        self.dropout_rng = np.random.default_rng(seed + 1)
        self.train_calls = 0

    def loss(self, X, y=None):
        p = self.params
        h, c1 = affine_forward(X - self.running_mean, p["W1"], p["b1"])
        a, c2 = relu_forward(h)
        if y is None:
            return affine_forward(a, p["W2"], p["b2"])[0]
        self.train_calls += 1
        self.running_mean = 0.9 * self.running_mean + 0.1 * X.mean(axis=0)
        mask = ((self.dropout_rng.random(a.shape) < self.keep) / self.keep).astype(np.float32)
        scores, c3 = affine_forward(a * mask, p["W2"], p["b2"])
        loss, dscores = softmax_loss(scores, y)
        da, dW2, db2 = affine_backward(dscores, c3)
        _, dW1, db1 = affine_backward(relu_backward(da * mask, c2), c1)
        return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    def get_state(self):
        return {"running_mean": self.running_mean, "dropout_rng": self.dropout_rng.bit_generator.state}

    def set_state(self, state):
        self.running_mean = state["running_mean"]
        self.dropout_rng.bit_generator.state = state["dropout_rng"]


def make_data(seed=0, n_train=50, n_val=20):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((D, C))
    X = rng.standard_normal((n_train + n_val, D)).astype(np.float32)
    y = np.argmax(X @ W, axis=1)
    return {"X_train": X[:n_train], "y_train": y[:n_train], "X_val": X[n_train:], "y_val": y[n_train:]}


# 50 samples / batch 10 = 5 iterations per epoch; the train accuracy scores a
# random 30 of the 50 samples, so the epoch ends draw from the generator too.
SETTINGS = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, lr_decay=0.9, batch_size=10,
                num_epochs=4, num_train_samples=30, verbose=False, seed=123)


def make_solver(model=None, **kwargs):
    return Solver(model if model is not None else TinyNet(), make_data(), **{**SETTINGS, **kwargs})


def reference_run():
    solver = make_solver()
    solver.train()
    return solver


def assert_same_run(a, b):
    """Bitwise equal outcome: parameters, best parameters, optimizer state, model state, histories."""
    for name in a.model.params:
        assert np.array_equal(a.model.params[name], b.model.params[name]), name
        assert np.array_equal(a.best_params[name], b.best_params[name]), name
        for key in ("m", "v"):
            assert np.array_equal(a.optim_configs[name][key], b.optim_configs[name][key]), (name, key)
        assert a.optim_configs[name]["t"] == b.optim_configs[name]["t"]
        assert a.optim_configs[name]["learning_rate"] == b.optim_configs[name]["learning_rate"]
    assert np.array_equal(a.model.running_mean, b.model.running_mean)
    assert a.model.dropout_rng.bit_generator.state == b.model.dropout_rng.bit_generator.state
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.loss_history == b.loss_history
    assert a.train_acc_history == b.train_acc_history
    assert a.val_acc_history == b.val_acc_history
    assert (a.epoch, a.iteration, a.best_val_acc) == (b.epoch, b.iteration, b.best_val_acc)


def resume_and_train(path, **kwargs):
    # A differently initialised model and a differently seeded solver: everything
    # that matters must come from the checkpoint.
    solver = make_solver(TinyNet(seed=99), seed=999, resume_from=path, **kwargs)
    solver.train()
    return solver


# --- training ------------------------------------------------------------------

def test_training_learns_and_restores_the_best_parameters():
    solver = make_solver(num_epochs=15, optim_config={"learning_rate": 3e-2}, lr_decay=1.0)
    solver.train()
    assert len(solver.loss_history) == solver.num_iterations == 75
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 15 + 1  # epoch 0, as in the course
    assert np.mean(solver.loss_history[-10:]) < 0.6 * np.mean(solver.loss_history[:10])
    assert solver.check_accuracy(solver.X_train, solver.y_train) >= 0.9
    assert solver.best_val_acc == max(solver.val_acc_history)
    for name, w in solver.model.params.items():
        assert w.dtype == np.float32
        assert np.array_equal(w, solver.best_params[name])


def test_the_best_epochs_model_state_comes_back_with_its_parameters():
    # The running mean moves on after the best epoch; the model kept must be the one that
    # was validated: that epoch's parameters under that epoch's statistics.
    running_means = {}
    solver = make_solver(num_epochs=20, optim_config={"learning_rate": 1e-1}, lr_decay=1.0,
                         on_epoch_end=lambda s, info: running_means.__setitem__(info["epoch"],
                                                                                s.model.running_mean.copy()))
    solver.train()
    best_epoch = int(np.argmax(solver.val_acc_history))  # the first epoch to reach the best accuracy
    assert 1 <= best_epoch < 20, "the settings must put the best epoch before the last"
    assert np.array_equal(solver.model.running_mean, running_means[best_epoch])
    assert not np.array_equal(running_means[best_epoch], running_means[20])
    assert solver.check_accuracy(solver.X_val, solver.y_val) == solver.best_val_acc


def test_step_updates_every_parameter_with_a_batch_from_the_solvers_generator():
    model = TinyNet()
    batches = []
    loss_of = model.loss

    def recording_loss(X, y=None):
        if y is not None:
            batches.append((X.copy(), y.copy()))
        return loss_of(X, y)

    model.loss = recording_loss
    solver = make_solver(model, update_rule="sgd", optim_config={"learning_rate": 0.5}, seed=7)
    before = {k: v.copy() for k, v in model.params.items()}
    twin = TinyNet()
    twin.running_mean, twin.dropout_rng = model.running_mean.copy(), np.random.default_rng(1)
    loss = solver.step()

    idx = np.random.default_rng(7).integers(50, size=10)  # with replacement, like the course
    np.testing.assert_array_equal(batches[0][0], solver.X_train[idx])
    np.testing.assert_array_equal(batches[0][1], solver.y_train[idx])
    twin_loss, grads = twin.loss(solver.X_train[idx], solver.y_train[idx])
    assert loss == twin_loss and solver.loss_history == [loss] and solver.iteration == 1
    for name in before:
        np.testing.assert_array_equal(model.params[name], before[name] - np.float32(0.5) * grads[name])


def test_hooks_and_learning_rate_decay():
    iterations, epochs = [], []
    solver = make_solver(on_iteration=lambda s, info: iterations.append(info),
                         on_epoch_end=lambda s, info: epochs.append(info))
    solver.train()
    assert [i["iteration"] for i in iterations] == list(range(1, 21))
    assert [i["epoch"] for i in iterations] == [e for e in range(1, 5) for _ in range(5)]
    assert set(iterations[0]) == {"epoch", "num_epochs", "iteration", "num_iterations",
                                  "iterations_per_epoch", "loss", "lr"}
    assert iterations[0]["num_iterations"] == 20 and iterations[0]["iterations_per_epoch"] == 5
    assert [i["loss"] for i in iterations] == solver.loss_history
    assert set(epochs[0]) == {"epoch", "num_epochs", "iteration", "num_iterations", "loss", "train_acc",
                              "val_acc", "best_val_acc", "lr", "next_lr", "checkpoint"}
    lrs = [1e-2, 1e-2 * 0.9, 1e-2 * 0.9 * 0.9, 1e-2 * 0.9 * 0.9 * 0.9, 1e-2 * 0.9 * 0.9 * 0.9 * 0.9]
    assert [e["lr"] for e in epochs] == lrs[:4] and [e["next_lr"] for e in epochs] == lrs[1:]
    assert [i["lr"] for i in iterations[::5]] == lrs[:4]
    assert solver.learning_rate == lrs[4]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    assert [e["val_acc"] for e in epochs] == solver.val_acc_history[1:]  # [0]: epoch 0, no hook
    assert epochs[1]["loss"] == pytest.approx(np.mean(solver.loss_history[5:10]))
    assert all(e["checkpoint"] is None for e in epochs)


def test_check_accuracy_batches_and_subsamples_with_the_solvers_generator():
    class FirstColumn:
        def __init__(self):
            self.params, self.seen = {}, []

        def loss(self, X, y=None):  # predicts class X[:, 0]
            self.seen.append(X.copy())
            return np.eye(C)[X[:, 0].astype(int)]

    X = np.array([[0, 0], [1, 1], [2, 2], [0, 3], [1, 4], [2, 5], [0, 6], [1, 7], [2, 8], [0, 9]], np.float32)
    y = np.array([0, 1, 2, 1, 1, 0, 0, 2, 2, 0])
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    model = FirstColumn()
    solver = Solver(model, data, seed=5, verbose=False)
    assert solver.check_accuracy(X, y, batch_size=3) == 0.7
    assert [len(x) for x in model.seen] == [3, 3, 3, 1]
    model.seen.clear()
    idx = np.random.default_rng(5).choice(10, 4, replace=False)
    assert solver.check_accuracy(X, y, num_samples=4) == np.mean(X[idx, 0] == y[idx])
    np.testing.assert_array_equal(np.concatenate(model.seen), X[idx])


def test_zero_epochs_changes_nothing():
    solver = make_solver(num_epochs=0)
    before = {k: v.copy() for k, v in solver.model.params.items()}
    solver.train()
    assert solver.iteration == 0 and solver.loss_history == []
    for name in before:
        assert np.array_equal(solver.model.params[name], before[name])


# --- checkpoints and resuming -----------------------------------------------------

def test_checkpoint_files(tmp_path):
    name = str(tmp_path / "run" / "tiny")  # the directory is created
    epochs = []
    solver = make_solver(checkpoint_name=name, on_epoch_end=lambda s, info: epochs.append(info["checkpoint"]))
    solver.train()
    assert sorted(os.listdir(tmp_path / "run")) == ["tiny_epoch_1.npz", "tiny_epoch_2.npz", "tiny_epoch_3.npz",
                                                    "tiny_epoch_4.npz", "tiny_last.npz"]
    assert epochs == [f"{name}_epoch_{e}.npz" for e in range(1, 5)]
    second, last = load_checkpoint(f"{name}_epoch_2.npz"), load_checkpoint(f"{name}_last.npz")
    assert (second["epoch"], second["iteration"], last["epoch"], last["iteration"]) == (2, 10, 4, 20)
    assert last["loss_history"].tolist() == solver.loss_history
    assert last["val_acc_history"] == solver.val_acc_history and last["best_val_acc"] == solver.best_val_acc
    assert last["learning_rate"] == solver.learning_rate
    assert last["params"]["W1"].dtype == np.float32
    assert np.array_equal(last["best_params"]["W2"], solver.best_params["W2"])
    assert solver.last_checkpoint == f"{name}_last.npz"


@pytest.mark.parametrize("how", ["kwarg", "method"])
def test_two_epochs_then_resume_equals_four_epochs(tmp_path, how):
    reference = reference_run()
    name = str(tmp_path / "tiny")
    make_solver(num_epochs=2, checkpoint_name=name).train()
    if how == "kwarg":
        resumed = resume_and_train(f"{name}_last.npz")
    else:
        resumed = make_solver(TinyNet(seed=99), seed=999)
        assert resumed.resume(f"{name}_epoch_2.npz") is resumed
        resumed.train()
    assert_same_run(reference, resumed)


@pytest.mark.parametrize("at", [7, 10])  # mid-epoch, and an epoch's last iteration before its end is processed
def test_resume_from_a_checkpoint_saved_by_a_hook(tmp_path, at):
    path = str(tmp_path / "mid.npz")

    def save_at(solver, info):
        if info["iteration"] == at:
            solver.save_checkpoint(path)

    reference = make_solver(on_iteration=save_at)  # saving does not disturb the run
    reference.train()
    assert_same_run(reference, reference_run())
    assert load_checkpoint(path)["iteration"] == at
    assert_same_run(reference, resume_and_train(path))


def raise_at(hook, value):
    def hook_fn(solver, info):
        if info[hook] == value:
            raise KeyboardInterrupt
    return hook_fn


@pytest.mark.parametrize("hook, key, value, iteration", [
    ("on_iteration", "iteration", 7, 7),
    ("on_iteration", "iteration", 15, 15),
    ("on_epoch_end", "epoch", 2, 10),
])
def test_keyboard_interrupt_saves_last_checkpoint_and_resumes_exactly(tmp_path, hook, key, value, iteration):
    name = str(tmp_path / "tiny")
    with pytest.raises(KeyboardInterrupt):
        make_solver(checkpoint_name=name, **{hook: raise_at(key, value)}).train()
    assert load_checkpoint(f"{name}_last.npz")["iteration"] == iteration
    assert_same_run(reference_run(), resume_and_train(f"{name}_last.npz", checkpoint_name=name))
    assert os.path.exists(f"{name}_epoch_4.npz")


@pytest.mark.skipif(signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
                    reason="someone else handles SIGINT")
def test_ctrl_c_inside_a_step_finishes_the_step_then_saves(tmp_path):
    class InterruptedNet(TinyNet):
        def loss(self, X, y=None):
            if y is not None and self.train_calls == 7:  # during the 8th forward pass
                os.kill(os.getpid(), signal.SIGINT)
            return super().loss(X, y)

    name = str(tmp_path / "tiny")
    with pytest.raises(KeyboardInterrupt):
        make_solver(InterruptedNet(), checkpoint_name=name).train()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert load_checkpoint(f"{name}_last.npz")["iteration"] == 8
    assert_same_run(reference_run(), resume_and_train(f"{name}_last.npz"))


def test_interrupt_from_inside_a_step_keeps_the_last_checkpoint(tmp_path):
    class RaisingNet(TinyNet):  # a KeyboardInterrupt that the signal handler did not defer
        def loss(self, X, y=None):
            if y is not None and self.train_calls == 7:
                raise KeyboardInterrupt
            return super().loss(X, y)

    name = str(tmp_path / "tiny")
    solver = make_solver(RaisingNet(), checkpoint_name=name)
    with pytest.raises(KeyboardInterrupt):
        solver.train()
    # the 8th step was half done (minibatch drawn): the epoch-1 checkpoint stays
    assert solver.last_checkpoint == f"{name}_last.npz"
    assert load_checkpoint(f"{name}_last.npz")["iteration"] == 5


def test_keyboard_interrupt_without_checkpoint_name_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        make_solver(on_iteration=raise_at("iteration", 3)).train()
    assert os.listdir(tmp_path) == []


def test_resume_rejects_an_incompatible_checkpoint(tmp_path):
    name = str(tmp_path / "tiny")
    make_solver(num_epochs=1, checkpoint_name=name).train()
    last = f"{name}_last.npz"
    with pytest.raises(ValueError, match="batch_size 10, but this Solver has 5"):
        make_solver(batch_size=5, resume_from=last)
    with pytest.raises(ValueError, match="update_rule 'adam', but this Solver has 'sgd'"):
        make_solver(update_rule="sgd", resume_from=last)
    with pytest.raises(ValueError, match=r"W1 with shape \(6, 8\).*model's has shape \(6, 4\)"):
        make_solver(TinyNet(hidden=4), resume_from=last)
    save_checkpoint(tmp_path / "other.npz", {"kind": "something else"})
    with pytest.raises(CheckpointError, match="other.npz' is a tallynet checkpoint but not a Solver checkpoint"):
        make_solver(resume_from=tmp_path / "other.npz")


# --- divergence ------------------------------------------------------------------

class NaNAt(TinyNet):
    """Its loss is NaN at the ``bad``-th training call."""

    def __init__(self, bad):
        super().__init__()
        self.bad = bad

    def loss(self, X, y=None):
        out = super().loss(X, y)
        return (float("nan"), out[1]) if y is not None and self.train_calls == self.bad else out


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    name = str(tmp_path / "tiny")
    kept = {}

    def remember(solver, info):
        kept[info["iteration"]] = {k: v.copy() for k, v in solver.model.params.items()}

    solver = make_solver(NaNAt(13), checkpoint_name=name, on_iteration=remember)
    with pytest.raises(TrainingDiverged, match=r"epoch 3, iteration 13: the loss is nan") as err:
        solver.train()
    assert isinstance(err.value, FloatingPointError)
    assert f"the last good checkpoint '{name}_last.npz' was kept" in str(err.value)
    assert (err.value.epoch, err.value.iteration, err.value.checkpoint) == (3, 13, f"{name}_last.npz")
    assert solver.iteration == 12 and len(solver.loss_history) == 12
    for key, w in solver.model.params.items():  # the failing step was not applied
        assert np.array_equal(w, kept[12][key])
    last = load_checkpoint(f"{name}_last.npz")
    assert (last["epoch"], last["iteration"]) == (2, 10)
    for key in kept[10]:
        assert np.array_equal(last["params"][key], kept[10][key])
    assert not os.path.exists(f"{name}_epoch_3.npz")


def test_non_finite_update_is_caught_before_it_is_applied():
    class InfGrad(TinyNet):
        def loss(self, X, y=None):
            if y is None:
                return super().loss(X)
            loss, grads = super().loss(X, y)
            grads["W2"] = np.full_like(grads["W2"], np.inf)
            return loss, grads

    solver = make_solver(InfGrad(), update_rule="sgd")
    before = {k: v.copy() for k, v in solver.model.params.items()}
    with pytest.raises(TrainingDiverged, match="epoch 1, iteration 1: the update made parameter 'W2' "
                                               "non-finite.*checkpoint_name is not set"):
        solver.train()
    for key in before:
        assert np.array_equal(solver.model.params[key], before[key])
    assert "velocity" not in solver.optim_configs["W1"] and solver.iteration == 0


# --- arguments -------------------------------------------------------------------

def test_bad_arguments_are_named():
    data = make_data()
    with pytest.raises(ValueError, match="got 'adamw'"):
        Solver(TinyNet(), data, update_rule="adamw")
    with pytest.raises(ValueError, match="data lacks y_val"):
        Solver(TinyNet(), {k: v for k, v in data.items() if k != "y_val"})
    with pytest.raises(ValueError, match=r"X_val \(shape \(20, 6\)\) and y_val \(shape \(19,\)\)"):
        Solver(TinyNet(), {**data, "y_val": data["y_val"][:19]})
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        Solver(TinyNet(), data, batch_size=0)
    with pytest.raises(ValueError, match="lr_decay"):
        Solver(TinyNet(), data, lr_decay=0)
    with pytest.raises(TypeError, match="learning_rate"):
        Solver(TinyNet(), data, learning_rate=0.1)
    with pytest.raises(TypeError, match="params dict"):
        Solver(object(), data)
    with pytest.raises(ValueError, match=r"adam: config\['learning_rate'\] must be a number >= 0, got -1"):
        Solver(TinyNet(), data, update_rule="adam", optim_config={"learning_rate": -1}, verbose=False).train()


# --- the checkpoint file format -----------------------------------------------------

def test_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    payload = {
        "weights": {"W1": rng.standard_normal((3, 2)).astype(np.float32), "n": np.arange(4)},
        "configs": [{"velocity": np.zeros(2), "t": 3}, None],
        "rng": rng.bit_generator.state,  # 128-bit integers
        "lr": 0.1 * 0.9 * 0.9, "name": "tiny/run", "flag": True, "scalar": np.float64(1 / 3),
        "a/b": np.ones(1), "a": {"b": np.zeros(1)},  # two paths that flatten to the same key
    }
    path = save_checkpoint(tmp_path / "c.npz", payload)
    back = load_checkpoint(path)
    assert back["weights"]["W1"].dtype == np.float32
    assert np.array_equal(back["weights"]["W1"], payload["weights"]["W1"])
    assert np.array_equal(back["weights"]["n"], np.arange(4))
    assert back["configs"][0]["t"] == 3 and back["configs"][1] is None
    assert back["rng"] == payload["rng"]
    assert back["lr"] == payload["lr"] and back["scalar"] == 1 / 3
    assert back["name"] == "tiny/run" and back["flag"] is True
    assert np.array_equal(back["a/b"], np.ones(1)) and np.array_equal(back["a"]["b"], np.zeros(1))
    assert os.listdir(tmp_path) == ["c.npz"]


def test_loading_a_bad_file_names_it(tmp_path):
    missing = str(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_checkpoint(missing)
    good = save_checkpoint(tmp_path / "good.npz", {"w": np.arange(1000.0)})
    data = open(good, "rb").read()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.npz.*truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError, match="text.npz"):
        load_checkpoint(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", w=np.zeros(2))
    with pytest.raises(CheckpointError, match="plain.npz' is not a tallynet checkpoint"):
        load_checkpoint(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="pickled.npz"):
        load_checkpoint(tmp_path / "pickled.npz")


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.npz", {"w": np.zeros(2)})
    with pytest.raises(TypeError, match="'model/layer' has type object"):
        save_checkpoint(path, {"w": np.ones(2), "model": {"layer": object()}})
    with pytest.raises(TypeError, match="'w' is an object array"):
        save_checkpoint(path, {"w": np.array([None])})

    def write_half_then_fail(file, **arrays):  # the disk fills up halfway through
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"w": np.ones(2)})
    monkeypatch.undo()
    assert np.array_equal(load_checkpoint(path)["w"], np.zeros(2))
    assert os.listdir(tmp_path) == ["c.npz"]
