"""``tallynet summary --plot`` and ``tallynet profile --plot``: the PNGs are written, and the
series they draw are the summary's and the profiler's own figures."""

import struct

import pytest

pytest.importorskip("matplotlib")

from tallynet.cli import main  # noqa: E402
from tallynet.cost import summary  # noqa: E402
from tallynet.plot import plot_profile, plot_summary, profile_plot_data, summary_plot_data  # noqa: E402
from tallynet.profile import profile  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    """(width, height) from the PNG's IHDR chunk, after checking the signature."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_summary_plot_data_are_the_summarys_rows_grouped_by_block():
    s = summary("seed-cnn", batch=8)
    data = summary_plot_data(s)
    assert data["layers"] == [l.name for l in s.layers]
    assert data["forward_flops"] == [l.forward_flops for l in s.layers]
    assert data["backward_flops"] == [l.backward_flops for l in s.layers]
    assert data["activation_bytes"] == [l.activation_bytes for l in s.layers]
    assert data["cache_bytes"] == [l.cache_bytes for l in s.layers]
    # seed-cnn's three conv-bn-relu-pool blocks, then GAP and FC alone
    assert data["block"] == [0] * 4 + [1] * 4 + [2] * 4 + [3, 4]
    assert data["blocks"] == ["Conv1", "Conv2", "Conv3", "GAP", "FC"]
    # Conv1's output at batch 8: 8 x 32 x 32 x 32 float32
    assert data["activation_bytes"][0] == 8 * 32 * 32 * 32 * 4


def test_summary_plot_is_a_png_of_sensible_size(tmp_path):
    path = plot_summary(summary("seed-cnn", batch=8), tmp_path / "summary.png")
    width, height = _png_size(path)
    assert 600 <= width <= 3000 and 400 <= height <= 2000
    assert 10_000 < (tmp_path / "summary.png").stat().st_size < 2_000_000
    assert list(tmp_path.iterdir()) == [tmp_path / "summary.png"]  # no temporary file left


@pytest.fixture(scope="module")
def checkpointed_profile():
    return profile("seed-cnn", batch=4, steps=1, gemm_peak=1.0, checkpoint=4)


def test_profile_plot_data_are_the_replay_beside_the_measurement(checkpointed_profile):
    p = checkpointed_profile
    data = profile_plot_data(p)
    assert data["predicted_peak"] == [q.peak for q in p.predicted_timeline]
    assert data["predicted_after"] == [q.after for q in p.predicted_timeline]
    assert data["measured_peak"] == [q.peak for q in p.measured_timeline]
    assert data["measured_after"] == [q.after for q in p.measured_timeline]
    # one point per pass: start, 14 forward, the loss, 14 backward, 12 recomputed (3 segments of
    # 4 layers; the last, GAP and FC, is not), the update
    assert len(data["phase"]) == 1 + 14 + 1 + 14 + 12 + 1
    assert data["phase"].count("recompute") == 12
    assert data["phase"][:2] == ["start", "forward"] and data["phase"][-1] == "update"
    # the whole step's figures are the largest of the passes'
    t = p.totals()
    assert max(data["predicted_peak"]) == t["predicted_peak_bytes"]
    assert max(data["measured_peak"]) <= t["measured_peak_bytes"]
    # each measured point is near its prediction (a small batch: fixed costs weigh more)
    for predicted, measured in zip(data["predicted_after"], data["measured_after"]):
        assert abs(measured - predicted) < 0.05 * t["predicted_peak_bytes"]


def test_profile_plot_is_a_png_of_sensible_size(checkpointed_profile, tmp_path):
    width, height = _png_size(plot_profile(checkpointed_profile, tmp_path / "profile.png"))
    assert 600 <= width <= 4000 and 300 <= height <= 2000


def test_the_commands_write_their_plots(tmp_path, capsys):
    assert main(["summary", "seed-cnn", "--batch", "2", "--format", "json", "--plot",
                 str(tmp_path / "s.png")]) == 0
    assert main(["profile", "seed-cnn", "--batch", "2", "--steps", "1", "--checkpoint", "4", "--format", "json",
                 "--plot", str(tmp_path / "p.png")]) == 0
    _png_size(tmp_path / "s.png")
    _png_size(tmp_path / "p.png")
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize("path, pattern", [("plot.jpg", "ending in .png"), ("missing/dir/plot.png", "cannot write")])
def test_a_bad_plot_path_is_refused_in_one_line(path, pattern, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["summary", "seed-cnn", "--format", "json", "--plot", path]) == 2
    err = capsys.readouterr().err
    assert pattern in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
