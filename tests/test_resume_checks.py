"""--resume continues only the run its checkpoint records: the same model (canonical spec), data
(split, seed, labels) and hyperparameters, with counters that hold together."""

import shutil

import numpy as np
import pytest

from tallynet.checkpoint import load_checkpoint, save_checkpoint
from tallynet.cli import main
from tallynet.models import FullyConnectedNet, from_spec
from tallynet.models.spec import canonical_spec
from tallynet.solver import first_difference

BASE = """name: small
input: [1, 8, 8]
layers:
  - affine: {units: 16}
  - batchnorm
  - relu
  - affine: {units: 10}
loss: softmax
"""
FLAGS = ["--data", "digits", "--num-train", "100", "--batch", "50", "--seed", "3", "--lr", "0.01"]


def train(spec, out, *args):
    return main(["train", str(spec), *FLAGS, "--out", str(out), *args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 2-epoch run of BASE and its spec file."""
    root = tmp_path_factory.mktemp("resume")
    spec = root / "small.yaml"
    spec.write_text(BASE)
    assert train(spec, root / "run", "--epochs", "2") == 0
    return spec, root / "run"


def resumed(run, tmp_path, *args, spec_text=None, flags=None):
    """Resume a copy of the run (with another spec or other flags); returns the exit code."""
    spec, out = run
    if spec_text is not None:
        spec = tmp_path / "other.yaml"
        spec.write_text(spec_text)
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    argv = ["train", str(spec), *(FLAGS if flags is None else flags), "--out", str(copy), "--resume", *args]
    return main(argv)


def edit_checkpoint(run, tmp_path, change):
    """A copy of the run whose checkpoint_last.npz was edited by ``change(payload)``."""
    copy = tmp_path / "edited"
    shutil.copytree(run[1], copy)
    path = str(copy / "checkpoint_last.npz")
    payload = load_checkpoint(path)
    change(payload)
    save_checkpoint(path, payload)
    return main(["train", str(run[0]), *FLAGS, "--out", str(copy), "--resume", "--epochs", "3"])


@pytest.mark.parametrize("old, new, field", [
    ("  - relu\n", "  - sigmoid\n", r"model\.layers\[2\] is \{'relu': \{\}\} in the checkpoint but \{'sigmoid': \{\}\} now"),
    ("  - batchnorm\n", "  - layernorm\n", r"model\.layers\[1\] is \{'batchnorm': \{'eps': 1e-05, 'momentum': 0\.9\}\} "
                                            r"in the checkpoint but \{'layernorm': \{'eps': 1e-05\}\} now"),
    ("loss: softmax\n", "loss: svm\n", r"model\.loss is 'softmax' in the checkpoint but 'svm' now"),
    ("  - batchnorm\n", "  - batchnorm: {momentum: 0.5}\n", r"model\.layers\[1\]\.batchnorm\.momentum is 0\.9 in the "
                                                             r"checkpoint but 0\.5 now"),
    ("loss: softmax\n", "loss: softmax\nreg: 0.1\n", r"model\.reg is 0\.0 in the checkpoint but 0\.1 now"),
], ids=["sigmoid-for-relu", "layernorm-for-batchnorm", "svm-for-softmax", "momentum", "reg"])
def test_a_different_network_with_the_same_shapes_is_refused(run, tmp_path, capsys, old, new, field):
    import re

    assert resumed(run, tmp_path, "--epochs", "3", spec_text=BASE.replace(old, new)) == 2
    err = capsys.readouterr().err
    assert "comes from a different run" in err and re.search(field, err), err


@pytest.mark.parametrize("flag, value, saved", [
    ("--seed", "4", "3"), ("--lr", "0.02", "0.01"), ("--lr-decay", "0.5", "1.0"), ("--batch", "25", "50"),
    ("--num-train", "60", "100"), ("--optimizer", "sgd", "'adam'"),
])
def test_a_different_flag_is_refused_naming_it_and_both_values(run, tmp_path, capsys, flag, value, saved):
    flags = list(FLAGS)
    if flag in flags:
        flags[flags.index(flag) + 1] = value
    else:
        flags += [flag, value]
    assert resumed(run, tmp_path, "--epochs", "3", flags=flags) == 2
    err = capsys.readouterr().err
    shown = f"'{value}'" if flag == "--optimizer" else (str(float(value)) if flag.startswith("--lr") else value)
    assert f"{flag} is {saved} in the checkpoint but {shown} now" in err, err
    assert f"resume with the checkpoint's {flag}" in err


def test_a_refused_resume_touches_nothing(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run[1], copy)
    (copy / ".checkpoint_last-abcd.npz.tmp").write_bytes(b"left by a kill")
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.name != ".tallynet.lock"}
    flags = [f if f != "0.01" else "0.5" for f in FLAGS]  # another --lr
    assert main(["train", str(run[0]), *flags, "--out", str(copy), "--resume", "--epochs", "3"]) == 2
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.name != ".tallynet.lock"} == before


def test_the_same_run_resumes(run, tmp_path):
    assert resumed(run, tmp_path, "--epochs", "3") == 0


def test_fewer_epochs_than_done_are_refused(run, tmp_path, capsys):
    assert resumed(run, tmp_path, "--epochs", "1") == 2
    assert "has done 4 iterations (2 epochs), more than the 2 of the 1 epochs asked for; ask for at least 2" \
        in capsys.readouterr().err


@pytest.mark.parametrize("change, pattern", [
    (lambda p: p.update(iteration=10 ** 9), r"epoch 2 does not go with iteration 1000000000 at 2 iterations per epoch"),
    (lambda p: p.update(epoch=-5), r"epoch is -5, expected an integer >= 0"),
    (lambda p: p.update(iteration=2.5), r"iteration is 2\.5, expected an integer >= 0"),
    (lambda p: p.update(loss_history=p["loss_history"][:1]), r"loss_history has shape \(1,\), expected \(4,\)"),
    (lambda p: p.update(rng_state={"bit_generator": "PCG64", "state": "?"}), r"unusable rng_state"),
    (lambda p: p.pop("run_info"), r"does not record its run \(model, data and hyperparameters\)"),
    (lambda p: p.update(best_val_acc=7.0), r"best_val_acc is 7\.0, expected an accuracy in \[0, 1\]"),
], ids=["iteration-1e9", "epoch-minus-5", "fractional-iteration", "short-history", "rng-state", "no-run-record",
        "best-accuracy"])
def test_hand_edited_counters_are_refused(run, tmp_path, capsys, change, pattern):
    import re

    assert edit_checkpoint(run, tmp_path, change) == 2
    err = capsys.readouterr().err
    assert "checkpoint_last.npz" in err and re.search(pattern, err), err


@pytest.mark.parametrize("damage", [lambda b: b"\x00garbage" * 50, lambda b: b[:len(b) // 2]],
                         ids=["garbage", "truncated"])
def test_a_damaged_checkpoint_is_named_without_pickle_advice(run, tmp_path, capsys, damage):
    copy = tmp_path / "run"
    shutil.copytree(run[1], copy)
    path = copy / "checkpoint_last.npz"
    path.write_bytes(damage(path.read_bytes()))
    assert main(["train", str(run[0]), *FLAGS, "--out", str(copy), "--resume", "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert f"cannot read checkpoint {str(path)!r} (truncated or corrupt?)" in err
    assert "expected a .npz archive written by tallynet" in err and "allow_pickle" not in err


def test_a_directory_is_no_checkpoint(tmp_path):
    from tallynet.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match=r"is a directory; expected a \.npz file written by tallynet"):
        load_checkpoint(str(tmp_path))


def test_the_canonical_spec_fills_in_every_field_and_agrees_across_forms():
    fcnet = FullyConnectedNet([16], input_dim=64, normalization="batchnorm")
    listed = from_spec({"input": [64], "loss": "softmax",
                        "layers": [{"affine": {"units": 16}}, "batchnorm", "relu", {"affine": {"units": 10}}]})
    assert canonical_spec(fcnet) == canonical_spec(listed)
    assert canonical_spec(listed)["layers"][1] == {"batchnorm": {"eps": 1e-5, "momentum": 0.9}}


def test_first_difference_names_the_first_differing_field():
    assert first_difference({"a": 1, "b": [1, {"c": 2}]}, {"a": 1, "b": [1, {"c": 3}]}) == ("b[1].c", 2, 3)
    assert first_difference({"a": [1, 2]}, {"a": [1, 2, 3]}) == ("a", [1, 2], [1, 2, 3])
    assert first_difference({"a": 1}, {"a": 1, "b": 2}) == ("b", None, 2)
    assert first_difference({"a": np.float64(1.0)}, {"a": 1.0}) is None
