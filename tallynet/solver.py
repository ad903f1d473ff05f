"""The training loop of seed 002 (the course's Solver), resumable bit for bit.

The model is anything with

- ``params``: a dict name -> ndarray of trainable parameters, and
- ``loss(X, y=None)``: the scores (N, C) when ``y`` is None, else ``(loss, grads)``
  with ``grads`` keyed like ``params``;
- optionally ``get_state()`` / ``set_state(state)``: non-trainable state such as
  batchnorm running statistics or dropout generators, a dict of name -> ndarray
  or JSON-able value, which checkpoints save and restore.

Everything random in the loop (minibatch indices, the subsets scored by
:meth:`Solver.check_accuracy`) comes from the solver's own ``np.random.Generator``.
Its state is part of every checkpoint, with the parameters, the model state, the
optimizer configs (velocities, moments), the counters, the learning rate and the
histories, so that training resumed from a checkpoint ends with exactly the
weights of a run that was never interrupted.

Checkpoints (when ``checkpoint_name`` is set), written atomically:

- ``{checkpoint_name}_epoch_{e}.npz`` at the end of epoch ``e`` (1-based),
- ``{checkpoint_name}_last.npz``, rewritten at every epoch end and on Ctrl-C.
"""

import contextlib
import copy
import numbers
import signal
import sys
import threading
import time

import numpy as np

from . import checkpoint, optim
from .layers._checks import check_int
from .step import NonFiniteStep, train_step

_DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")
_PAYLOAD_KEYS = ("epoch", "iteration", "batch_size", "num_train", "update_rule", "params",
                 "model_state", "optim_configs", "rng_state", "loss_history", "train_acc_history",
                 "val_acc_history", "best_val_acc", "best_params", "best_model_state")

FLOAT16_TRAINING = (
    "float16 training is not supported: Adam's and RMSProp's eps (1e-8) underflow to 0 in float16, "
    "and batchnorm's statistics lose their precision (x - mean rounds to 0 for inputs near 1000); "
    "train in float32 (the cost model, `tallynet summary --dtype float16`, still takes float16)")


def refuse_float16_training(dtype, what="the model"):
    """Raise TypeError for a float16 training dtype, saying why (:data:`FLOAT16_TRAINING`)."""
    if dtype is not None and np.dtype(dtype) == np.float16:
        raise TypeError(f"{what} has dtype float16: {FLOAT16_TRAINING}")


class TrainingDiverged(FloatingPointError):
    """The loss or an updated parameter became NaN or infinite.

    The failing step is not applied and no checkpoint is written for it.
    Attributes: ``epoch`` and ``iteration`` (1-based) of the failing step and
    ``checkpoint``, the last checkpoint written or resumed from (or None).
    """

    def __init__(self, message, epoch, iteration, checkpoint):
        super().__init__(message)
        self.epoch, self.iteration, self.checkpoint = epoch, iteration, checkpoint


def _check_callable_or_none(name, value):
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")
    return value


def _check_optional_count(name, value):
    return None if value is None else check_int(name, value, 1)


def _check_data(data):
    """The four arrays of ``data``, checked to pair up and to be non-empty."""
    missing = [key for key in _DATA_KEYS if key not in data]
    if missing:
        raise ValueError(f"data lacks {', '.join(missing)}; expected a dict with {', '.join(_DATA_KEYS)}")
    arrays = [np.asarray(data[key]) for key in _DATA_KEYS]
    for split, X, y in (("train", *arrays[:2]), ("val", *arrays[2:])):
        if X.ndim < 1 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(f"X_{split} (shape {X.shape}) and y_{split} (shape {y.shape}) must hold the "
                             "same number of samples, with one label per sample")
        if X.shape[0] == 0:
            raise ValueError(f"X_{split} is empty")
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            # else the first loss is NaN, reported as a divergence of the training
            bad = np.argwhere(~np.isfinite(X))[0]
            raise ValueError(f"X_{split} holds NaN or infinite values (the first at index {tuple(bad.tolist())}); "
                             "expected finite inputs")
    return arrays



class Solver:
    """Minibatch training of ``model`` on ``data`` with a first-order update rule.

    - data: dict with ``X_train``, ``y_train``, ``X_val``, ``y_val`` (other keys ignored)
    - update_rule: a name in :data:`tallynet.optim.UPDATE_RULES` or a function
      ``(w, dw, config) -> (next_w, config)`` that does not modify arrays in place
    - optim_config: hyperparameters for the update rule, copied for every parameter
    - lr_decay: the learning rate is multiplied by this at the end of every epoch
    - batch_size: samples per minibatch, drawn with replacement
    - num_epochs: epochs of ``max(num_train // batch_size, 1)`` iterations each
    - num_train_samples: training samples scored for the train accuracy at each
      epoch end (None: all); num_val_samples: the same for validation
    - checkpoint_name: prefix of the checkpoint files (None: no checkpoints)
    - print_every, verbose: print the loss every ``print_every`` iterations and
      the accuracies at each epoch end when ``verbose``
    - seed: seeds the solver's generator (an int, None or a ``np.random.Generator``)
    - on_iteration(solver, info): called after every iteration with info keys
      epoch, num_epochs, iteration, num_iterations, iterations_per_epoch, loss, lr
    - on_epoch_end(solver, info): called after every epoch (and its checkpoints)
      with info keys epoch, num_epochs, iteration, num_iterations, loss (the
      epoch's mean), train_acc, val_acc, best_val_acc, lr (the rate used during
      the epoch), next_lr (after the decay) and checkpoint (the epoch file or None);
      ``solver.epoch_log[-1]`` is then the epoch's record (epoch, iteration, loss,
      train_acc, val_acc, lr, seconds), which the epoch's checkpoints already hold
    - resume_from: a checkpoint path to continue from, as with :meth:`resume`
    - run_info: optional JSON-able dict describing the run (the CLI records the model's
      canonical spec, the data and the hyperparameters); it is saved in every checkpoint,
      and :meth:`resume` refuses a checkpoint whose record differs, naming the field, or
      that has none. Without it, a model built of layers is recorded as ``{"model": its
      canonical spec}``, so that a resume into another network with the same parameter
      shapes (sigmoid for relu, layernorm for batchnorm) is refused too
    - gradient_checkpoint: train with gradient checkpointing every this many layers
      (sets ``model.checkpoint``, see :mod:`tallynet.models.checkpointing`): less memory,
      one more forward pass per segment, the same gradients bit for bit

    Epochs and iterations are counted from 1 in ``info``, messages and file names.
    After :meth:`train` the parameters with the best validation accuracy are put
    back into ``model.params``, and the model's state of that epoch (batchnorm's running
    averages) with them: ``best_model_state``, which the course's Solver does not keep.
    """

    def __init__(self, model, data, *, update_rule="sgd", optim_config=None, lr_decay=1.0,
                 batch_size=100, num_epochs=10, num_train_samples=1000, num_val_samples=None,
                 checkpoint_name=None, print_every=10, verbose=True, seed=None,
                 on_iteration=None, on_epoch_end=None, resume_from=None, run_info=None, gradient_checkpoint=None):
        if not isinstance(getattr(model, "params", None), dict) or not callable(getattr(model, "loss", None)):
            raise TypeError("model must have a params dict and a loss(X, y=None) method")
        if hasattr(model, "get_state") != hasattr(model, "set_state"):
            raise TypeError("model must have both get_state and set_state, or neither")
        if optim_config is not None and not isinstance(optim_config, dict):
            raise TypeError(f"optim_config must be a dict or None, got {type(optim_config).__name__}")
        if isinstance(lr_decay, bool) or not isinstance(lr_decay, numbers.Real) or not lr_decay > 0:
            raise ValueError(f"lr_decay must be a number > 0, got {lr_decay!r}")
        for name, w in model.params.items():
            refuse_float16_training(getattr(w, "dtype", None), f"parameter {name!r}")
        if run_info is not None and not isinstance(run_info, dict):
            raise TypeError(f"run_info must be a dict or None, got {type(run_info).__name__}")
        self._run_info_given = run_info is not None
        self.run_info = run_info if run_info is not None else _model_record(model)
        self.model = model
        if gradient_checkpoint is not None:
            if not hasattr(model, "checkpoint"):
                raise TypeError(f"gradient_checkpoint needs a tallynet Graph or Sequential model, got "
                                f"{type(model).__name__}")
            model.checkpoint = gradient_checkpoint  # validated by the model: 1 to its layer count
        self.X_train, self.y_train, self.X_val, self.y_val = _check_data(data)
        self.update_rule = optim.get_update_rule(update_rule)
        self.update_rule_name = update_rule if isinstance(update_rule, str) else getattr(
            update_rule, "__name__", repr(update_rule))
        self.optim_config = {} if optim_config is None else optim_config
        self.lr_decay = float(lr_decay)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.num_epochs = check_int("num_epochs", num_epochs, 0)
        self.num_train_samples = _check_optional_count("num_train_samples", num_train_samples)
        self.num_val_samples = _check_optional_count("num_val_samples", num_val_samples)
        self.checkpoint_name = None if checkpoint_name is None else str(checkpoint_name)
        self.print_every = check_int("print_every", print_every, 1)
        self.verbose = bool(verbose)
        self.on_iteration = _check_callable_or_none("on_iteration", on_iteration)
        self.on_epoch_end = _check_callable_or_none("on_epoch_end", on_epoch_end)
        self.rng = np.random.default_rng(seed)
        self._reset()
        if resume_from is not None:
            self.resume(resume_from)

    def _reset(self):
        """Fresh training state (the course's ``_reset``)."""
        self.epoch = 0  # completed epochs
        self.iteration = 0  # completed iterations, over all epochs
        self.best_val_acc = 0.0
        self.best_params = {}
        self.best_model_state = None
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.epoch_log = []  # one record per finished epoch (the CLI's metrics.jsonl lines)
        self.seconds = 0.0  # training time so far, over every resumed run
        self._started = time.perf_counter()
        self.optim_configs = {name: copy.deepcopy(self.optim_config) for name in self.model.params}
        self.last_checkpoint = None  # the checkpoint last written or resumed from
        self._interrupt_requested = False
        self._consistent = True

    # --- counters -------------------------------------------------------------
    @property
    def iterations_per_epoch(self):
        return max(self.X_train.shape[0] // self.batch_size, 1)

    @property
    def num_iterations(self):
        return self.num_epochs * self.iterations_per_epoch

    @property
    def learning_rate(self):
        """The current learning rate (shared by all parameters); None before a rule has set one."""
        return next((c["learning_rate"] for c in self.optim_configs.values() if "learning_rate" in c), None)

    # --- one iteration ----------------------------------------------------------
    def step(self):
        """One iteration: sample a minibatch, compute loss and gradients, update every parameter.

        The minibatch is ``batch_size`` indices drawn with replacement from the
        solver's generator. Returns the loss, which is appended to ``loss_history``.
        Raises :class:`TrainingDiverged` when the loss or an updated parameter is
        not finite; then no parameter or optimizer state has been changed.
        """
        idx = self.rng.integers(self.X_train.shape[0], size=self.batch_size)
        new_configs = {}

        def update(name, w, dw):
            # each rule gets a copy of the config, so a failed step changes no state
            next_w, new_configs[name] = self.update_rule(w, dw, dict(self.optim_configs[name]))
            return next_w
        try:
            loss = train_step(self.model, self.X_train[idx], self.y_train[idx], update)
        except NonFiniteStep as err:
            raise self._diverged(str(err)) from None
        self.optim_configs.update(new_configs)
        self.iteration += 1
        self.loss_history.append(loss)
        return loss

    #: the course's name for :meth:`step`
    _step = step

    def _diverged(self, what):
        epoch, iteration = self.iteration // self.iterations_per_epoch + 1, self.iteration + 1
        if self.last_checkpoint is not None:
            kept = f"the last good checkpoint {self.last_checkpoint!r} was kept"
        elif self.checkpoint_name is None:
            kept = "no checkpoint was written (checkpoint_name is not set)"
        else:
            kept = "no checkpoint had been written yet"
        return TrainingDiverged(f"training diverged at epoch {epoch}, iteration {iteration}: {what}; "
                                f"the step was not applied and {kept}", epoch, iteration, self.last_checkpoint)

    def check_accuracy(self, X, y, num_samples=None, batch_size=100, rng=None):
        """Fraction of the samples of ``X`` whose highest score is at the label in ``y``.

        - X: (N, ...) inputs; y: (N,) labels
        - num_samples: when N is larger, score a random subset of this many samples,
          drawn without replacement from ``rng`` (default: the solver's generator)
        - batch_size: samples per call of ``model.loss`` (bounds the memory used)
        """
        X, y = np.asarray(X), np.asarray(y)
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            idx = (self.rng if rng is None else rng).choice(N, num_samples, replace=False)
            X, y = X[idx], y[idx]
        batch_size = check_int("batch_size", batch_size, 1)
        y_pred = [np.argmax(self.model.loss(X[i:i + batch_size]), axis=1) for i in range(0, X.shape[0], batch_size)]
        return float(np.mean(np.concatenate(y_pred) == y))

    # --- the loop -------------------------------------------------------------
    def train(self):
        """Train until ``num_epochs`` epochs are complete, then restore the best parameters
        (and the model state of their epoch).

        Continues from the solver's counters, so after :meth:`resume` it runs the
        remaining iterations only. A KeyboardInterrupt (Ctrl-C, or raised by a
        hook) saves ``{checkpoint_name}_last.npz`` before it propagates; a first
        Ctrl-C lets the running iteration finish so that the state saved is whole.
        """
        self._interrupt_requested = False
        self._consistent = True
        self._started = time.perf_counter() - self.seconds
        with self._sigint_deferred():
            try:
                self._loop()
            except KeyboardInterrupt:
                self._save_on_interrupt()
                raise
        if self.best_params:
            self.model.params.update({name: w.copy() for name, w in self.best_params.items()})
        if self.best_model_state:
            self.model.set_state(self.best_model_state)

    def _keep_if_best(self, val_acc):
        """Keep the parameters of the best validation accuracy so far (the first epoch to reach
        it, as in the course) and, unlike the course, the model's state with them: batchnorm's
        running averages of that epoch, so that the model restored after training is the one
        that was validated, not that epoch's weights under the last epoch's statistics."""
        if not self.best_params or val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {name: w.copy() for name, w in self.model.params.items()}
            # a copy: a model may hand out arrays that it goes on updating in place
            self.best_model_state = copy.deepcopy(self._model_state())

    def _model_state(self):
        """The model's state, None for a model without one (as the course's)."""
        return self.model.get_state() if hasattr(self.model, "get_state") else None

    def _loop(self):
        # The state alone says what comes next (an epoch whose end is still to be
        # processed, an iteration, or nothing), so a run resumed from any point
        # between two of these units takes the same path as an uninterrupted one.
        # _consistent is False while a unit is half done.
        while True:
            if self._interrupt_requested:
                raise KeyboardInterrupt
            if self.iteration >= 1 and self.epoch == 0 and not self.train_acc_history:
                self._score_epoch_zero()
            elif self.iteration // self.iterations_per_epoch > self.epoch:
                self._consistent = False
                info = self._end_epoch()
                self._consistent = True
                if self.on_epoch_end is not None:
                    self.on_epoch_end(self, info)
            elif self.iteration < self.num_iterations:
                self._consistent = False
                loss = self.step()
                self._consistent = True
                self._report_iteration(loss)
            else:
                return

    def _report_iteration(self, loss):
        if self.verbose and (self.iteration - 1) % self.print_every == 0:
            print(f"(Iteration {self.iteration} / {self.num_iterations}) loss: {loss:f}")
        if self.on_iteration is not None:
            self.on_iteration(self, {
                "epoch": (self.iteration - 1) // self.iterations_per_epoch + 1,
                "num_epochs": self.num_epochs,
                "iteration": self.iteration,
                "num_iterations": self.num_iterations,
                "iterations_per_epoch": self.iterations_per_epoch,
                "loss": loss,
                "lr": self.learning_rate,
            })

    def _score_epoch_zero(self):
        """The course's "(Epoch 0 / N)": the accuracies after the first iteration, so that the
        histories hold ``num_epochs + 1`` entries as the course's do (the course merges this
        with the end of epoch 1 when an epoch is one iteration; here both are kept). Its
        subsamples come from a child of the solver's generator, which leaves the stream of
        minibatches (and so a seeded run's weights) as it was without this measurement."""
        rng = self.rng.spawn(1)[0]
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples, rng=rng)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples, rng=rng)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self._keep_if_best(val_acc)
        if self.verbose:
            print(f"(Epoch 0 / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")

    def _end_epoch(self):
        """Score, decay the learning rate, keep the best parameters, write checkpoints."""
        lr = self.learning_rate
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.epoch += 1
        for config in self.optim_configs.values():
            if "learning_rate" in config:
                config["learning_rate"] *= self.lr_decay
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self._keep_if_best(val_acc)
        # The epoch's record goes into the checkpoints written next, so whoever logs it
        # (on_epoch_end) can rewrite a log that a kill cut short from the checkpoint.
        ipe = self.iterations_per_epoch
        self.seconds = time.perf_counter() - self._started
        self.epoch_log.append({
            "epoch": self.epoch, "iteration": self.iteration,
            "loss": float(np.mean(self.loss_history[(self.epoch - 1) * ipe:self.epoch * ipe])),
            "train_acc": train_acc, "val_acc": val_acc, "lr": lr, "seconds": round(self.seconds, 3)})
        epoch_path = None
        if self.checkpoint_name is not None:
            epoch_path = self.save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.npz")
            self.save_checkpoint()
        if self.verbose:
            print(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
        info = {key: self.epoch_log[-1][key] for key in ("epoch", "iteration", "loss", "train_acc", "val_acc", "lr")}
        return dict(info, num_epochs=self.num_epochs, num_iterations=self.num_iterations,
                    best_val_acc=self.best_val_acc, next_lr=self.learning_rate, checkpoint=epoch_path)

    # --- Ctrl-C -----------------------------------------------------------------
    @contextlib.contextmanager
    def _sigint_deferred(self):
        """While training, a first Ctrl-C only asks the loop to stop at the next unit boundary.

        Python would otherwise raise KeyboardInterrupt wherever it happens to be,
        usually inside the forward pass, with the minibatch already drawn. A
        second Ctrl-C interrupts at once (without a checkpoint). Signal handlers
        can only be set from the main thread, and one set by someone else is left
        alone; then a KeyboardInterrupt is saved only if it falls between units.
        """
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            yield
            return

        def request_stop(signum, frame):
            self._interrupt_requested = True
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if self.verbose:
                print("Interrupted: stopping after this iteration (Ctrl-C again stops at once)", file=sys.stderr)

        signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _save_on_interrupt(self):
        if self.checkpoint_name is None:
            return
        if not self._consistent:
            if self.verbose:
                print(f"Interrupted inside an iteration: kept the last checkpoint {self.last_checkpoint!r}",
                      file=sys.stderr)
            return
        path = self.save_checkpoint()
        if self.verbose:
            print(f"Interrupted: saved {path} (epoch {self.epoch}, iteration {self.iteration})", file=sys.stderr)

    # --- checkpoints ----------------------------------------------------------
    def state_payload(self):
        """Everything :meth:`resume` needs, as a checkpoint payload (arrays not copied)."""
        return {
            "kind": "solver",
            "epoch": self.epoch,
            "iteration": self.iteration,
            "batch_size": self.batch_size,
            "num_train": int(self.X_train.shape[0]),
            "update_rule": self.update_rule_name,
            "learning_rate": self.learning_rate,  # for readers; resume takes it from optim_configs
            "params": dict(self.model.params),
            "model_state": self._model_state(),
            "optim_configs": self.optim_configs,
            "rng_state": self.rng.bit_generator.state,
            "loss_history": np.array(self.loss_history, dtype=np.float64),
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "best_val_acc": self.best_val_acc,
            "best_params": self.best_params,
            "best_model_state": self.best_model_state,
            "epoch_log": self.epoch_log,
            "seconds": self.seconds,
            "run_info": self.run_info,
        }

    def save_checkpoint(self, path=None):
        """Write the full training state to ``path`` (default ``{checkpoint_name}_last.npz``).

        Safe to call from a hook. Returns the path written.
        """
        if path is None:
            if self.checkpoint_name is None:
                raise ValueError("save_checkpoint needs a path when checkpoint_name is not set")
            path = f"{self.checkpoint_name}_last.npz"
        checkpoint.save_checkpoint(path, self.state_payload())
        self.last_checkpoint = str(path)
        return self.last_checkpoint

    def resume(self, path):
        """Restore the training state saved in the checkpoint ``path``; returns ``self``.

        Restores the parameters, the model state, the optimizer configs (with the
        current learning rate), the generator, the counters, the histories, the best
        parameters with their model state and the epoch log. The checkpoint must come from a
        run with the same ``run_info`` (by default the model's canonical spec; the first
        differing field is named with both values), batch size, number of training
        samples, update rule and parameter shapes (``ValueError`` otherwise), and its
        counters must hold together (``CheckpointError``: epoch and iteration, one
        loss per iteration, an accuracy in [0, 1], a usable generator state).
        ``num_epochs``, ``lr_decay``, hooks and the checkpoint name are this Solver's
        own, so training can be extended, but not cut below what is done.
        """
        payload = checkpoint.load_checkpoint(path)
        if not isinstance(payload, dict) or payload.get("kind") != "solver":
            raise checkpoint.CheckpointError(f"{str(path)!r} is a tallynet checkpoint but not a Solver checkpoint")
        missing = [key for key in _PAYLOAD_KEYS if key not in payload]
        if missing:
            raise checkpoint.CheckpointError(f"Solver checkpoint {str(path)!r} lacks {', '.join(missing)}")
        self._check_same_run(payload, str(path))
        self._check_compatible(payload, str(path))
        self._check_counters(payload, str(path))
        state = payload["model_state"]
        if state:
            if not hasattr(self.model, "set_state"):
                raise ValueError(f"checkpoint {str(path)!r} holds model state but the model has no set_state")
            self.model.set_state(state)
        self.model.params.update(payload["params"])
        self.optim_configs = payload["optim_configs"]
        try:
            self.rng.bit_generator.state = payload["rng_state"]
        except (TypeError, ValueError, KeyError) as err:
            raise checkpoint.CheckpointError(f"checkpoint {str(path)!r} has an unusable rng_state "
                                             f"({err}); expected a {type(self.rng.bit_generator).__name__} "
                                             "state") from None
        self.epoch, self.iteration = payload["epoch"], payload["iteration"]
        self.loss_history = payload["loss_history"].tolist()
        self.train_acc_history = list(payload["train_acc_history"])
        self.val_acc_history = list(payload["val_acc_history"])
        self.best_val_acc = payload["best_val_acc"]
        self.best_params = payload["best_params"]
        self.best_model_state = payload["best_model_state"]
        self.epoch_log = list(payload.get("epoch_log") or [])
        self.seconds = float(payload.get("seconds") or 0.0)
        self.last_checkpoint = str(path)
        return self

    def _check_same_run(self, payload, path):
        """With ``run_info``, the checkpoint must record the same run (model, data, hyperparameters)."""
        if self.run_info is None:
            return
        saved = payload.get("run_info")
        if saved is None and not self._run_info_given:
            return  # a checkpoint of an older tallynet, resumed from Python: only shapes can be checked
        if not isinstance(saved, dict):
            raise ValueError(f"checkpoint {path!r} does not record its run (model, data and hyperparameters), "
                             "so nothing shows it is this run's; it was written by an older tallynet or "
                             "without run_info: start a new run")
        diff = first_difference(saved, self.run_info)
        if diff is not None:
            field, was, now = diff
            last = field.rsplit(".", 1)[-1]
            field = last if last.startswith("--") else field  # a CLI flag speaks for itself
            raise ValueError(f"checkpoint {path!r} comes from a different run: {field} is {was!r} in the "
                             f"checkpoint but {now!r} now; resume with the checkpoint's {field}, or start "
                             "a new run")

    def _check_counters(self, payload, path):
        """Counters a hand-edited or damaged checkpoint could hold, checked against each other."""
        def bad(what):
            raise checkpoint.CheckpointError(f"checkpoint {path!r} is inconsistent: {what}")

        epoch, iteration = payload["epoch"], payload["iteration"]
        for key, value in (("epoch", epoch), ("iteration", iteration)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                bad(f"{key} is {value!r}, expected an integer >= 0")
        ipe = self.iterations_per_epoch
        # A checkpoint is written at a unit boundary: within an epoch, or just after its last
        # iteration with the epoch's end still to do.
        if not 0 <= iteration // ipe - epoch <= 1:
            bad(f"epoch {epoch} does not go with iteration {iteration} at {ipe} iterations per epoch "
                f"(expected epoch {iteration // ipe} or {iteration // ipe - 1})")
        best = payload["best_val_acc"]
        if isinstance(best, bool) or not isinstance(best, (int, float)) or not 0 <= best <= 1:
            bad(f"best_val_acc is {best!r}, expected an accuracy in [0, 1]")
        losses = payload["loss_history"]
        if not isinstance(losses, np.ndarray) or losses.shape != (iteration,):
            bad(f"loss_history has shape {getattr(losses, 'shape', type(losses).__name__)}, expected "
                f"({iteration},), one loss per iteration")
        if iteration > self.num_iterations:
            raise ValueError(f"checkpoint {path!r} has done {iteration} iterations ({epoch} epochs), more than "
                             f"the {self.num_iterations} of the {self.num_epochs} epochs asked for; ask for "
                             f"at least {-(-iteration // ipe)} epochs")

    def _check_compatible(self, payload, path):
        """Batch size, training samples, update rule and parameter shapes must match."""
        for key, here in (("batch_size", self.batch_size), ("num_train", int(self.X_train.shape[0])),
                          ("update_rule", self.update_rule_name)):
            if payload[key] != here:
                raise ValueError(f"checkpoint {path!r} was written with {key} {payload[key]!r}, but this "
                                 f"Solver has {here!r}; the run cannot continue from it")
        saved = payload["params"]
        if set(saved) != set(self.model.params) or set(payload["optim_configs"]) != set(self.model.params):
            raise ValueError(f"checkpoint {path!r} holds parameters {sorted(saved)}, but the model has "
                             f"{sorted(self.model.params)}")
        for name, w in self.model.params.items():
            if saved[name].shape != w.shape or saved[name].dtype != w.dtype:
                raise ValueError(f"checkpoint {path!r} holds {name} with shape {saved[name].shape} and dtype "
                                 f"{saved[name].dtype}, but the model's has shape {w.shape} and dtype {w.dtype}")


def _model_record(model):
    """``{"model": canonical spec}`` of a model built of layers, else None (any other model)."""
    from .models.spec import canonical_spec

    try:
        return {"model": canonical_spec(model)}
    except (AttributeError, TypeError):
        return None


def first_difference(saved, here, path=""):
    """The first place where two JSON-like trees differ, as ``(dotted path, saved, here)``, or None.

    Dicts that share keys are compared key by key (in ``here``'s order, then keys only
    ``saved`` has), lists item by item when their lengths agree; anything else, such as
    two layers ``{"relu": {}}`` and ``{"sigmoid": {}}``, is compared whole."""
    if isinstance(saved, dict) and isinstance(here, dict) and (saved.keys() & here.keys() or saved == here):
        for key in list(here) + [k for k in saved if k not in here]:
            where = f"{path}.{key}" if path else str(key)
            if key not in saved or key not in here:
                return where, saved.get(key), here.get(key)
            diff = first_difference(saved[key], here[key], where)
            if diff is not None:
                return diff
        return None
    if isinstance(saved, list) and isinstance(here, list) and len(saved) == len(here):
        for i, (a, b) in enumerate(zip(saved, here)):
            diff = first_difference(a, b, f"{path}[{i}]")
            if diff is not None:
                return diff
        return None
    return None if saved == here else (path or "<root>", saved, here)
