"""`tallynet train --out`: a run directory holding another run is refused, locked while in use,
replaced only on --overwrite, and its metrics survive a kill."""

import json
import os

import pytest

from tallynet.checkpoint import load_checkpoint, save_checkpoint
from tallynet.cli import main
from tallynet.rundir import RunDirectory, RunDirectoryError

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
SPEC = os.path.join(EXAMPLES, "digits-fcnet.yaml")
QUICK = ["--data", "digits", "--num-train", "100", "--batch", "50", "--optimizer", "sgd_momentum", "--seed", "3"]


def train(out, *args):
    return main(["train", SPEC, *QUICK, "--out", str(out), *args])


def snapshot(out):
    """Every file's bytes, to show that a refused run changed nothing."""
    return {name: (out / name).read_bytes() for name in sorted(os.listdir(out))}


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("earlier") / "run"
    assert train(out, "--epochs", "3") == 0
    return out


def epochs_in(out):
    return [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_directory_holding_a_run_is_refused_without_resume_or_overwrite(earlier_run, tmp_path, capsys):
    out = copy_run(earlier_run, tmp_path / "run")
    before = snapshot(out)
    assert train(out, "--epochs", "2") == 2
    err = capsys.readouterr().err
    assert f"--out {str(out)!r} already holds files (best.npz" in err
    assert "--resume" in err and "--overwrite" in err
    assert snapshot(out) == before


def test_a_bad_flag_touches_nothing(earlier_run, tmp_path, capsys):
    out = copy_run(earlier_run, tmp_path / "run")
    before = snapshot(out)
    with pytest.raises(SystemExit):
        train(out, "--epochs", "2", "--overwrite", "--lr", "nan")
    assert "argument --lr: must be a finite number > 0, got nan" in capsys.readouterr().err
    assert snapshot(out) == before


def test_a_bad_data_flag_touches_nothing(earlier_run, tmp_path, capsys):
    out = copy_run(earlier_run, tmp_path / "run")
    before = snapshot(out)
    assert main(["train", SPEC, "--data", str(tmp_path / "nowhere"), "--out", str(out), "--overwrite"]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert snapshot(out) == before


def test_overwrite_clears_the_earlier_run_first(earlier_run, tmp_path):
    out = copy_run(earlier_run, tmp_path / "run")
    assert train(out, "--epochs", "1", "--overwrite") == 0
    assert epochs_in(out) == [1]
    assert not (out / "checkpoint_epoch_3.npz").exists()  # no file of the earlier run is left among the new
    assert load_checkpoint(str(out / "checkpoint_last.npz"))["epoch"] == 1


def test_overwrite_never_deletes_files_it_did_not_write(earlier_run, tmp_path, capsys):
    out = copy_run(earlier_run, tmp_path / "run")
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    assert train(out, "--epochs", "1", "--overwrite") == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "notes.txt" in err and "remove these yourself" in err
    assert snapshot(out) == before


def test_an_out_that_is_a_file_is_named(tmp_path, capsys):
    path = tmp_path / "a-file"
    path.write_text("x")
    assert train(path, "--epochs", "1") == 2
    assert f"--out {str(path)!r} is a file; expected a directory" in capsys.readouterr().err


def test_a_second_run_into_a_locked_directory_fails_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    with RunDirectory(out):  # this process holds the lock, as a running training would
        assert train(out, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert f"--out {str(out)!r} is in use by process {os.getpid()} (tallynet train)" in err
    assert not (out / "metrics.jsonl").exists()


def test_a_run_in_another_process_holds_the_lock(tmp_path, capsys):
    """As two `tallynet train` into one --out: the second fails at once, naming the first's process."""
    import subprocess
    import sys

    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from tallynet.rundir import RunDirectory\n"
                               f"with RunDirectory({str(out)!r}):\n print('locked', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=os.path.dirname(EXAMPLES)))
    try:
        assert holder.stdout.readline().strip() == "locked"  # waits for the lock, not for a time
        assert train(out, "--epochs", "1") == 2
    finally:
        holder.communicate("")
    assert f"is in use by process {holder.pid} (tallynet train)" in capsys.readouterr().err
    assert train(out, "--epochs", "1") == 0  # the holder has exited: the kernel released its lock


def test_the_lock_is_released_when_the_run_ends(tmp_path):
    with RunDirectory(tmp_path / "run"):
        pass
    with RunDirectory(tmp_path / "run"):  # would fail if the first still held it
        pass


def test_resume_and_overwrite_exclude_each_other_from_python(tmp_path):
    with pytest.raises(RunDirectoryError, match="--resume and --overwrite exclude each other"):
        RunDirectory(tmp_path, resume=True, overwrite=True)


def test_resume_without_a_checkpoint_names_it(tmp_path, capsys):
    assert train(tmp_path, "--epochs", "1", "--resume") == 2
    assert f"--resume: no checkpoint {str(tmp_path / 'checkpoint_last.npz')!r}" in capsys.readouterr().err


def test_resume_into_nothing_creates_nothing(tmp_path, capsys):
    assert train(tmp_path / "none", "--epochs", "1", "--resume") == 2
    assert f"--resume: --out {str(tmp_path / 'none')!r} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_an_empty_out_is_refused(capsys):
    with pytest.raises(SystemExit):
        train("", "--epochs", "1")
    assert "argument --out: must be a path, got an empty string" in capsys.readouterr().err


def test_a_kill_between_checkpoint_and_metrics_line_loses_no_line(earlier_run, tmp_path, capsys):
    """As a SIGKILL after epoch 3's checkpoint and before its line would leave it, with a half
    line and the temporary file of a checkpoint write that was cut short."""
    out = copy_run(earlier_run, tmp_path / "run")
    lines = (out / "metrics.jsonl").read_text().splitlines()
    (out / "metrics.jsonl").write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:15])
    (out / ".checkpoint_last-abcd1234.npz.tmp").write_bytes(b"half a checkpoint")
    assert train(out, "--epochs", "4", "--resume") == 0
    assert epochs_in(out) == [1, 2, 3, 4]
    assert [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()[:3]] == \
        [json.loads(l) for l in lines]
    assert not any(name.endswith(".tmp") for name in os.listdir(out))
    assert "removed .checkpoint_last-abcd1234.npz.tmp" in capsys.readouterr().err


def test_a_damaged_metrics_file_does_not_block_a_resume(earlier_run, tmp_path):
    out = copy_run(earlier_run, tmp_path / "run")
    (out / "metrics.jsonl").write_bytes(b"\xff\xfe not json at all\n")
    assert train(out, "--epochs", "4", "--resume") == 0
    assert epochs_in(out) == [1, 2, 3, 4]


def test_the_checkpoint_carries_the_metrics_lines(earlier_run):
    log = load_checkpoint(str(earlier_run / "checkpoint_last.npz"))["epoch_log"]
    assert [json.loads(line) for line in (earlier_run / "metrics.jsonl").read_text().splitlines()] == log


def test_an_interrupted_checkpoint_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    import numpy as np

    def interrupted(f, **arrays):
        f.write(b"PK half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "c.npz", {"w": np.zeros(3)})
    assert os.listdir(tmp_path) == []
