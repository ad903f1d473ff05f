"""A step whose predicted peak exceeds the memory available is refused before anything is allocated,
with both figures and the largest batch that fits; --force runs it anyway."""

import os
import re
import subprocess
import sys

import pytest

from tallynet import memory
from tallynet.cli import main
from tallynet.cost import summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CNN = os.path.join(ROOT, "examples", "digits-cnn.yaml")


def peak(spec, batch, **kwargs):
    return summary(spec, batch=batch, **kwargs).totals()["peak_bytes_estimate"]


def test_train_is_refused_in_a_fresh_process_with_exit_code_2_and_both_figures(tmp_path):
    """What a user sees: no traceback, exit code 2, the predicted peak and the memory available;
    refused before the data is loaded or the model allocated (the README's 5 s)."""
    limit = peak(CNN, 4, optimizer="adam")
    env = dict(os.environ, TALLYNET_MEMORY_LIMIT=str(limit), PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "tallynet.cli", "train", CNN, "--batch", "64",
                           "--out", str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    want = peak(CNN, 64, optimizer="adam")
    assert "needs about" in proc.stderr and f"({want:,} bytes, the cost model's predicted peak)" in proc.stderr
    assert f"({limit:,} bytes, $TALLYNET_MEMORY_LIMIT) is available" in proc.stderr
    assert "the largest batch that fits is 4 (--batch 4)" in proc.stderr and "--force" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv", [["profile", CNN, "--batch", "64"], ["gradcheck", CNN, "--batch", "64"],
                                  ["bench", CNN, "--batch", "64", "--no-torch"]], ids=["profile", "gradcheck", "bench"])
def test_every_command_that_runs_a_step_checks_it(argv, monkeypatch, capsys):
    monkeypatch.setenv(memory.MEMORY_ENV, "1M")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(r"at batch 64 needs about .* but only 1\.0 MB \(1,048,576 bytes, \$TALLYNET_MEMORY_LIMIT\)", err)


def test_train_checks_again_once_the_data_take_their_memory(monkeypatch, capsys, tmp_path):
    """As when loading CIFAR-10 leaves too little: the first check passes, the second refuses,
    counting the parameters that the figure already excludes."""
    figures = iter([(1 << 40, "MemAvailable"), (1 << 20, "MemAvailable")])
    monkeypatch.setattr(memory, "available_bytes", lambda: next(figures))
    assert main(["train", CNN, "--epochs", "1", "--batch", "64", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"needs about .* of it already allocated\) but only 1\.0 MB \(1,048,576 bytes, MemAvailable\)",
                     err), err
    assert "the largest batch that fits is" in err and not (tmp_path / "run").exists()


def test_force_runs_it_anyway(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(memory.MEMORY_ENV, "1K")
    assert main(["train", CNN, "--epochs", "1", "--num-train", "64", "--batch", "32", "--force",
                 "--out", str(tmp_path / "run")]) == 0


def test_not_even_a_batch_of_one(monkeypatch, capsys):
    monkeypatch.setenv(memory.MEMORY_ENV, "100")
    assert main(["gradcheck", CNN]) == 2
    assert re.search(r"not even a batch of 1 fits \(its peak is .*\)", capsys.readouterr().err)


def test_the_largest_fitting_batch_is_exact():
    for batch in (1, 7, 33):
        limit = peak(CNN, batch)
        assert memory.largest_fitting_batch(lambda b: peak(CNN, b), limit, 128) == batch
        assert memory.largest_fitting_batch(lambda b: peak(CNN, b), limit - 1, 128) == batch - 1


@pytest.mark.parametrize("text, value", [("123", 123), ("512M", 512 << 20), ("2g", 2 << 30), ("1.5K", 1536),
                                         ("64 MiB", 64 << 20)])
def test_sizes_are_parsed(text, value):
    assert memory.parse_size(text) == value


@pytest.mark.parametrize("text", ["lots", "-5", "12Q", ""])
def test_a_bad_memory_limit_is_named(text, monkeypatch, capsys):
    monkeypatch.setenv(memory.MEMORY_ENV, text)
    if not text:  # an empty variable is no override
        assert memory.available_bytes()[1] != f"${memory.MEMORY_ENV}"
        return
    assert main(["summary", CNN]) == 0  # summary runs no step: nothing to check
    assert main(["gradcheck", CNN]) == 2
    assert f"TALLYNET_MEMORY_LIMIT must be a size in bytes, optionally with a suffix K, M, G or T (e.g. 512M), " \
           f"got {text!r}" in capsys.readouterr().err


def test_the_cgroup_limit_counts_minus_its_usage(tmp_path, monkeypatch):
    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "memory.current").write_text("268435456\n")
    monkeypatch.setattr(memory, "_cgroup_dirs", lambda: [str(tmp_path)])
    monkeypatch.setattr(memory, "_mem_available", lambda: 1 << 40)
    monkeypatch.delenv(memory.MEMORY_ENV, raising=False)
    assert memory.available_bytes() == (768 << 20, "the cgroup's limit")
    (tmp_path / "memory.max").write_text("max\n")  # no limit: MemAvailable decides
    assert memory.available_bytes() == (1 << 40, "MemAvailable")
