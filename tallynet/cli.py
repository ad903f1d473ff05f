"""The ``tallynet`` command: train, summary, compare, walkthrough, profile, bench, gradcheck, evaluate.

Every command takes a SPEC: a YAML file, a preset name (``seed-cnn``, ``lenet5``, ...) or a PyTorch
model, ``package.module:callable`` (``torchvision.models:resnet50``) with ``--input C H W``.
"""

import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np

from .cost.conventions import CONVENTIONS
from .dtypes import COST_DTYPES, TRAINING_DTYPES
from .models import from_spec
from .optim import ALIASES, UPDATE_RULES
from .tuning import tune_process

EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130


def _int_at_least(minimum):
    """argparse type: an integer >= ``minimum``; argparse's message names the option."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_seed = _int_at_least(0)


def _positive_float(text):
    """argparse type: a finite number > 0 (a learning rate, a decay factor)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _check_fits(model, data):
    """Refuse data the model cannot take before training starts, naming both shapes.

    The sample shape must be the spec's input exactly: with the same element count an
    (8, 8, 1) input would silently train on (1, 8, 8) images, their pixels scrambled.
    Only a one-dimensional input (features) takes any sample of its size, flattened."""
    if model.loss_name == "mse":
        raise ValueError("tallynet train trains classifiers (loss softmax or svm); this spec's loss is 'mse', "
                         "a regression loss: train it from Python with your own targets")
    sample = data["X_train"].shape[1:]
    flattens = len(model.input_shape) == 1 and int(np.prod(sample)) == model.input_shape[0]
    if sample != model.input_shape and not flattens:
        raise ValueError(f"the data's samples have shape {sample} but the spec's input is {model.input_shape}; "
                         f"expected input: {list(sample)} in the spec")
    classes, labels = model.output_shape[-1], int(max(data["y_train"].max(), data["y_val"].max())) + 1
    if labels > classes:
        raise ValueError(f"the data has {labels} classes but the spec's last layer has {classes} outputs")


def _spec_dict(spec):
    """A preset's or a YAML file's spec as a dict (read once, so every check sees the same)."""
    from .models.presets import read_spec

    return read_spec(spec)


def _nonempty(text):
    """argparse type: a path that is not empty."""
    if not text:
        raise argparse.ArgumentTypeError("must be a path, got an empty string")
    return text


def _check_memory(args, spec, batch, what, dtype=None, optimizer="sgd", allocated=0):
    """Refuse a step whose predicted peak exceeds the memory available (unless --force);
    ``allocated``: the bytes of it already allocated (see ``memory.check_step_fits``). A
    ``--checkpoint`` is checked first (against the spec's layer count) and then replayed."""
    from .cost import summary
    from .memory import check_step_fits

    checkpoint = getattr(args, "checkpoint", None)
    peak_at = lambda b: summary(spec, batch=b, dtype=dtype, optimizer=optimizer,  # noqa: E731
                                checkpoint=checkpoint).totals()["peak_bytes_estimate"]
    if args.force:
        peak_at(1)  # a bad --checkpoint is still refused
        return
    check_step_fits(peak_at, batch, what=f"{what} of {spec.get('name') or 'the network'}", allocated=allocated)


def _console(stderr=False):
    """A rich console; wide enough for the tables when the output is a file or a pipe."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


# --- train ----------------------------------------------------------------------
def _labels_digest(data):
    """SHA-256 of the three label arrays: two loads of a dataset with the same split have
    the same one, so a resume can tell that its test images did not move into training."""
    digest = hashlib.sha256()
    for key in ("y_train", "y_val", "y_test"):
        digest.update(np.ascontiguousarray(data[key], dtype=np.int64).tobytes())
    return digest.hexdigest()


def _run_info(args, model, data, batch):
    """What a checkpoint records of its run; a resume must match it field by field. The
    hyperparameters are keyed by their flags, so a refusal names the flag."""
    from .data import LOADERS
    from .models.spec import canonical_spec

    dataset = args.data if args.data in LOADERS else os.path.abspath(args.data)
    return {
        "data": {"--data": dataset, "--seed": args.seed, "--num-train": args.num_train,
                 "sample_shape": list(data["X_train"].shape[1:]),
                 "split": [int(data[f"y_{k}"].shape[0]) for k in ("train", "val", "test")],
                 "labels_sha256": _labels_digest(data)},
        "hyperparameters": {"--optimizer": args.optimizer, "--lr": args.lr, "--lr-decay": args.lr_decay,
                            "--batch": batch},
        "model": canonical_spec(model),
    }


def cmd_train(args):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .checkpoint import save_checkpoint
    from .data import load
    from .plot import plot_training
    from .rundir import LAST_CHECKPOINT, RunDirectory, write_atomic
    from .solver import Solver, TrainingDiverged, refuse_float16_training

    console = _console(stderr=True)
    # Everything is checked before the run directory is touched: flags (argparse), the spec,
    # float16, memory, the data and its fit; then the directory and the checkpoint's run.
    spec = _spec_dict(args.spec)
    refuse_float16_training(spec.get("dtype"), f"spec {spec.get('name')!r}")
    batch = args.batch or spec.get("batch", 32)
    _check_memory(args, spec, batch, "a training step", optimizer=args.optimizer)
    model = from_spec(spec, seed=args.seed)
    data_kwargs = {"seed": args.seed}
    if args.data not in ("digits",):
        data_kwargs["download"] = args.download
    if args.num_train:
        data_kwargs["num_train"] = args.num_train
    data = load(args.data, **data_kwargs)
    _check_fits(model, data)
    if batch > data["X_train"].shape[0]:
        # minibatches are drawn with replacement: a larger batch repeats samples in every step
        raise ValueError(f"--batch {batch} exceeds the {data['X_train'].shape[0]} training samples; expected a "
                         "batch of at most that many (--batch, or the spec's batch)")
    # again, now that the data take their memory; the parameters are part of the peak and allocated
    resident = sum(p.nbytes for p in model.params.values()) + sum(
        getattr(v, "nbytes", 0) for v in model.get_state().values())
    _check_memory(args, spec, batch, "a training step", optimizer=args.optimizer, allocated=resident)
    out = args.out or os.path.join("runs", model.name or "model")
    optim_config = {} if args.lr is None else {"learning_rate": args.lr}
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=console,
                        disable=not console.is_terminal and not args.progress)

    def on_iteration(solver, info):
        progress.update(task, completed=info["iteration"], description=f"epoch {info['epoch']}/{info['num_epochs']}",
                        status=f"loss {info['loss']:.4f}  val acc {solver.val_acc_history[-1] if solver.val_acc_history else float('nan'):.3f}")

    def on_epoch_end(solver, info):
        run.append_metrics(solver.epoch_log[-1])
        console.print(f"epoch {info['epoch']:3d}  loss {info['loss']:.4f}  train acc {info['train_acc']:.4f}  "
                      f"val acc {info['val_acc']:.4f}  lr {info['lr']:.3g}")

    with RunDirectory(out, resume=args.resume, overwrite=args.overwrite) as run:
        solver = Solver(model, data, update_rule=args.optimizer, optim_config=optim_config, lr_decay=args.lr_decay,
                        batch_size=batch, num_epochs=args.epochs, num_train_samples=1000,
                        checkpoint_name=run.file("checkpoint"), verbose=False, seed=args.seed,
                        on_iteration=on_iteration, on_epoch_end=on_epoch_end,
                        resume_from=run.file(LAST_CHECKPOINT) if args.resume else None,
                        run_info=_run_info(args, model, data, batch), gradient_checkpoint=args.checkpoint)
        for name in run.prepare(solver.epoch_log):
            console.print(f"removed {name}, left by a write that was interrupted")
        console.print(f"training {model.name or 'model'}: {sum(p.size for p in model.params.values()):,} parameters, "
                      f"{data['X_train'].shape[0]} training samples, {args.optimizer}, "
                      f"{solver.num_iterations} iterations; output in {out}/")
        with progress:
            task = progress.add_task("training", total=solver.num_iterations, completed=solver.iteration, status="")
            try:
                solver.train()
            except KeyboardInterrupt:
                saved = solver.last_checkpoint or "none yet"
                console.print(f"[yellow]interrupted: last checkpoint {saved}; continue with --resume[/]")
                return EXIT_INTERRUPTED
            except TrainingDiverged as err:
                console.print(f"[red]{err}[/]")
                return EXIT_DIVERGED
        plot = plot_training(solver.loss_history, solver.train_acc_history, solver.val_acc_history,
                             run.file("curves.png"), title=model.name)
        test_acc = solver.check_accuracy(data["X_test"], data["y_test"])
        # The Solver has restored the parameters of the best validation epoch: keep them apart
        # from checkpoint_last.npz, which holds the last epoch's state for --resume.
        best = save_checkpoint(run.file("best.npz"), {"params": model.params, "model_state": model.get_state()})
        result = {"spec": args.spec, "data": args.data, "epochs": solver.epoch, "best_val_acc": solver.best_val_acc,
                  "test_acc": test_acc, "seconds": round(solver.seconds, 2), "best_params": os.path.abspath(best)}
        write_atomic(run.file("result.json"), json.dumps(result, indent=2))
    console.print(f"[bold green]test accuracy {test_acc:.4f}[/] (best val {solver.best_val_acc:.4f}) "
                  f"in {solver.seconds:.1f} s; curves {plot}, metrics {out}/metrics.jsonl")
    return 0


def _emit(report, fmt):
    """Print a Summary or a Profile as a rich table, markdown, JSON or CSV."""
    if fmt == "table":
        _console().print(report.to_table())
    else:
        text = getattr(report, f"to_{fmt}")()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


# --- cost -------------------------------------------------------------------------
def cmd_summary(args):
    from .cost import summary

    s = summary(_spec_dict(args.spec), batch=args.batch, convention=args.convention, dtype=args.dtype,
                optimizer=args.optimizer, checkpoint=args.checkpoint, memory=args.memory)
    if args.plot:
        from .plot import plot_summary

        print(f"wrote {plot_summary(s, args.plot)}", file=sys.stderr)
    return _emit(s, args.format)


def cmd_compare(args):
    from .cost.compare import compare

    return _emit(compare(*args.networks, batch=args.batch, convention=args.convention), args.format)


def cmd_walkthrough(args):
    from .cost.walkthrough import walkthrough

    text = walkthrough(_spec_dict(args.spec), batch=args.batch, convention=args.convention, dtype=args.dtype,
                       memory=args.memory)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as err:
            raise OSError(f"-o {args.output!r}: cannot write the walkthrough there ({err.strerror})") from None
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_profile(args):
    from .profile import profile

    spec = _spec_dict(args.spec)
    _check_memory(args, spec, args.batch or spec.get("batch", 32), "a profiled training step", dtype=args.dtype)
    p = profile(spec, batch=args.batch, steps=args.steps, seed=args.seed, dtype=args.dtype,
                checkpoint=args.checkpoint)
    if args.plot:
        from .plot import plot_profile

        print(f"wrote {plot_profile(p, args.plot)}", file=sys.stderr)
    return _emit(p, args.format)


def cmd_bench(args):
    from .bench import bench, report

    spec = _spec_dict(args.spec)
    for batch in args.batch:
        _check_memory(args, spec, batch, "a benchmarked training step", dtype="float32", optimizer="sgd_momentum")
    data = bench(args.spec, batches=tuple(args.batch), repeats=args.repeats, threads=args.threads,
                 use_torch=not args.no_torch, rounds=args.rounds,
                 channels_last=not args.no_channels_last)
    sys.stdout.write(report(data))
    if any(r.get("loss_match") is False for r in data["results"]):
        print("tallynet bench: error: the PyTorch twin's first-step loss differs, so the times compare "
              "different networks", file=sys.stderr)
        return 1
    return 0


# --- gradcheck ------------------------------------------------------------------------
def cmd_gradcheck(args):
    """Compare every parameter's gradient with centered differences at --checks random entries."""
    from .gradcheck import grad_check_sparse
    from .profile.profiler import random_batch

    spec = _spec_dict(args.spec)
    _check_memory(args, spec, args.batch, "a gradient check's step", dtype="float64")
    model = from_spec(spec, dtype=np.float64, seed=args.seed)
    for layer in model.layers:
        layer.fix_randomness(args.seed)  # dropout: one mask for every evaluation
    X, y = random_batch(model, args.batch, np.random.default_rng(args.seed))
    _, grads = model.loss(X, y)
    worst = 0.0
    for key, param in model.params.items():
        scale = np.max(np.abs(grads[key]))
        if scale < 1e-12:  # e.g. a bias feeding batchnorm: exactly 0, nothing to compare
            print(f"{key:>8} {str(param.shape):>18}  gradient is exactly 0 (skipped)")
            continue
        # Entries far below the parameter's largest gradient are judged on its scale: there
        # the centered difference's rounding noise (~1e-11) is all a relative error would see.
        err = grad_check_sparse(lambda _: model.loss(X, y)[0], param, grads[key], num_checks=args.checks,
                                seed=args.seed, verbose=False, floor=1e-3 * scale)
        worst = max(worst, err)
        print(f"{key:>8} {str(param.shape):>18}  worst relative error {err:.2e}")
    ok = worst < 1e-6
    print(f"worst relative error {worst:.2e}: {'OK' if ok else 'CHECK FAILED'}")
    return 0 if ok else 1


# --- evaluate ------------------------------------------------------------------------
def cmd_evaluate(args):
    """Accuracy and cost per image of a classifier on ImageNet validation images, one row per --transform."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .imagenet import ImageNetVal, evaluate, get_scheme, report
    from .imagenet.weights import load_model

    schemes = [get_scheme(name) for name in args.transform or ["center224"]]
    dataset = ImageNetVal(args.images, args.labels, args.synsets, limit=args.limit)
    model, spec = load_model(args.model, args.weights)
    name = getattr(model, "name", None) or args.model
    console = _console(stderr=True)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=console, disable=not console.is_terminal)
    results = []
    with progress:
        for scheme in schemes:
            task = progress.add_task(scheme.name, total=len(dataset))

            def advance(done, _, task=task):
                progress.update(task, completed=done)

            results.append(evaluate(model, dataset, scheme, batch_size=args.batch, convention=args.convention,
                                    spec=spec, on_batch=advance))
    if args.format == "table":
        _console().print(report.to_rich_table(name, dataset, results))
    else:
        sys.stdout.write({"json": report.to_json, "markdown": report.to_markdown}[args.format](name, dataset, results))
    return 0


def _force_flag(parser):
    parser.add_argument("--force", action="store_true", help="run even when the predicted peak memory exceeds "
                                                              "the memory available")


def _memory_flag(parser):
    parser.add_argument("--memory", default="tallynet", choices=["tallynet", "torch"],
                        help="the memory model of the caches and the peak: tallynet's own kernels (default) or a "
                             "PyTorch CPU training step of the same network")


def _checkpoint_flag(parser, verb):
    parser.add_argument("--checkpoint", type=_positive_int, default=None, metavar="K",
                        help=f"{verb} a step with gradient checkpointing every K layers: the forward keeps only the "
                             "segments' boundaries, the backward recomputes each segment's forward")


def _plot_flag(parser, what):
    parser.add_argument("--plot", type=_nonempty, default=None, metavar="FILE.png",
                        help=f"also write a PNG of {what} (needs matplotlib)")


def build_parser():
    from .cost.variants import accepted_forms

    parser = argparse.ArgumentParser(prog="tallynet", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a network on real data")
    p.add_argument("spec", help="YAML spec file, preset name or package.module:callable (a PyTorch model)")
    p.add_argument("--data", default="digits", help="digits | cifar10 | mnist | a directory holding one of them")
    p.add_argument("--download", action="store_true", help="download cifar10 / mnist into the cache if missing")
    p.add_argument("--epochs", type=_positive_int, default=10)
    p.add_argument("--batch", type=_positive_int, default=None, help="batch size (default: the spec's batch)")
    p.add_argument("--optimizer", default="adam", choices=list(UPDATE_RULES))
    p.add_argument("--lr", type=_positive_float, default=None, help="learning rate (default: the optimizer's)")
    p.add_argument("--lr-decay", type=_positive_float, default=1.0, help="learning rate factor per epoch")
    p.add_argument("--num-train", type=_positive_int, default=None, help="use only this many training samples")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", type=_nonempty, default=None, help="output directory (default runs/<name>); refused when it holds "
                                               "files, unless --resume or --overwrite")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in OUT from its checkpoint_last.npz "
                                                            "(the same spec, data and flags)")
    mode.add_argument("--overwrite", action="store_true", help="delete the run in OUT and start afresh")
    _force_flag(p)
    p.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    _checkpoint_flag(p, "train")
    p.set_defaults(func=cmd_train)

    conventions = list(CONVENTIONS)
    p = sub.add_parser("summary", help="per-layer shapes, parameters, memory and FLOPs")
    p.add_argument("spec")
    p.add_argument("--batch", type=_positive_int, default=None)
    p.add_argument("--convention", default="exact", choices=conventions)
    p.add_argument("--dtype", default=None, choices=list(COST_DTYPES))
    p.add_argument("--optimizer", default="sgd", choices=[*UPDATE_RULES, *ALIASES])
    _memory_flag(p)
    p.add_argument("--format", default="table", choices=["table", "markdown", "json", "csv"])
    _checkpoint_flag(p, "predict")
    _plot_flag(p, "per layer: forward and backward FLOPs, activation and cache bytes, grouped by block")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("compare", help="networks and their variants side by side (seed-cnn seed-cnn@width=2 ...)",
                       description="Parameters, activations, a training step's peak memory and FLOPs of networks "
                                   "side by side, each as a ratio to the first. A network is a spec or preset, "
                                   "with transformations: SPEC@T[@T...] (or T,T), T one of "
                                   f"{accepted_forms()}.")
    p.add_argument("networks", nargs="+", metavar="NETWORK", help="e.g. seed-cnn seed-cnn@depthwise seed-cnn@mixed")
    p.add_argument("--batch", type=_positive_int, default=None, help="batch size (default: the first network's)")
    p.add_argument("--convention", default="exact", choices=conventions)
    p.add_argument("--format", default="table", choices=["table", "markdown", "json"])
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("walkthrough", help="write seed 001's hand-written walkthrough for any network")
    p.add_argument("spec")
    p.add_argument("--batch", type=_positive_int, default=None)
    p.add_argument("--convention", default="walkthrough", choices=conventions)
    p.add_argument("--dtype", default=None, choices=list(COST_DTYPES))
    _memory_flag(p)
    p.add_argument("-o", "--output", default=None, help="markdown file to write (default: standard output)")
    p.set_defaults(func=cmd_walkthrough)

    p = sub.add_parser("profile", help="run a training step: counted FLOPs, measured memory and time per layer, "
                                       "beside the cost model's predictions")
    p.add_argument("spec")
    p.add_argument("--batch", type=_positive_int, default=None)
    p.add_argument("--steps", type=_positive_int, default=5, help="timed steps; times are their medians (default 5)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--dtype", default=None, choices=TRAINING_DTYPES)
    p.add_argument("--format", default="table", choices=["table", "markdown", "json", "csv"])
    _force_flag(p)
    _checkpoint_flag(p, "profile")
    _plot_flag(p, "memory over the step's timeline, predicted against measured")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("bench", help="time a training step and a forward pass, beside PyTorch's if installed")
    p.add_argument("spec", nargs="?", default="seed-cnn")
    p.add_argument("--batch", type=_positive_int, nargs="+", default=[32, 128])
    p.add_argument("--repeats", type=_positive_int, default=21, help="timed runs after warm-up (default 21)")
    p.add_argument("--rounds", type=_positive_int, default=5,
                   help="alternated rounds, a fresh process per library each (default 5)")
    p.add_argument("--threads", type=_positive_int, default=2, help="threads for BLAS, tallynet and PyTorch")
    p.add_argument("--no-torch", action="store_true", help="time tallynet alone")
    p.add_argument("--no-channels-last", action="store_true",
                   help="time PyTorch in NCHW only (by default also in channels_last, for networks of images)")
    _force_flag(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("gradcheck", help="check every parameter's gradient numerically (float64)")
    p.add_argument("spec")
    p.add_argument("--batch", type=_positive_int, default=2)
    p.add_argument("--checks", type=_positive_int, default=10, help="random entries checked per parameter")
    p.add_argument("--seed", type=_seed, default=0)
    _force_flag(p)
    p.set_defaults(func=cmd_gradcheck)
    for name, p in sub.choices.items():
        if name == "compare":  # its networks take input=CxHxW
            continue
        p.add_argument("--input", type=_positive_int, nargs="+", metavar="DIM", default=None,
                       help="the shape of one sample, e.g. 3 64 64 (default: the spec's input; required for a "
                            "PyTorch model)")
        p.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                       help="an argument of a PyTorch model's callable (SPEC package.module:callable), a Python "
                            "literal or a string; repeat for more")

    # evaluate takes no --input: each --transform's crop is the network's input
    p = sub.add_parser("evaluate", help="accuracy and FLOPs per image on ImageNet validation images, one row "
                                        "per way of preparing them (seed 003's coding part)")
    p.add_argument("model", help="preset name (resnet18, ...), YAML spec or package.module:callable")
    p.add_argument("--images", required=True, help="folder of validation JPEGs (ILSVRC2012_val_00000001.JPEG ...)")
    p.add_argument("--labels", required=True, help="folder of their bounding-box XML files (same stems)")
    p.add_argument("--synsets", required=True, help="synset_words.txt: one 'n01440764 tench, Tinca tinca' line "
                                                   "per class, in the network's output order")
    p.add_argument("--transform", action="extend", nargs="+", default=None, metavar="SCHEME",
                   help="center224 (default), center224-raw, five224, five330; several give one row each")
    p.add_argument("--limit", type=_positive_int, default=None, help="the first N images in file order")
    p.add_argument("--batch", type=_positive_int, default=8, help="images per forward pass (default 8)")
    p.add_argument("--weights", default=None, help="a PyTorch state_dict (.pth) or a tallynet checkpoint (.npz)")
    p.add_argument("--convention", default="macs", choices=conventions)
    p.add_argument("--format", default="table", choices=["table", "markdown", "json"])
    p.set_defaults(func=cmd_evaluate)
    return parser


def _with_input(args):
    """``--input C H W``: the spec (a preset, a file) as a dict with that sample shape; a PyTorch
    model (``package.module:callable``, with ``--arg``) imported as the graph spec of its architecture."""
    from .importer.callables import is_reference, parse_arguments, spec_from_reference
    from .models import with_input

    if not hasattr(args, "spec"):  # compare and evaluate name their networks themselves
        return args
    if is_reference(args.spec):
        args.spec = spec_from_reference(args.spec, args.input, parse_arguments(args.arg))
    elif args.arg:
        raise ValueError(f"--arg is for a PyTorch model (SPEC package.module:callable); {args.spec!r} is a spec")
    if args.input:
        args.spec = with_input(args.spec, args.input)
    return args


def main(argv=None):
    """Run a command; bad input, a bad file or a lack of memory ends in one message on stderr
    (exit code 2), never a traceback."""
    from .memory import InsufficientMemory

    args = build_parser().parse_args(argv)
    tune_process()  # a command is a training (or measuring) process: malloc and OpenBLAS set for speed

    def fail(message):
        print(f"tallynet {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        return _with_input(args).func(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError, OSError, InsufficientMemory) as err:
        return fail(err)
    except MemoryError as err:
        detail = f" ({err})" if str(err) else ""
        return fail(f"out of memory{detail}; try a smaller --batch")
    except KeyboardInterrupt:
        print(f"tallynet {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
