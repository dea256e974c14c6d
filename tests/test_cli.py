import numpy as np
from click.testing import CliRunner

from pose3d.cli.posebank import main
from mocap_fixtures import write_mocap_tree


def test_summary_prints_counts_and_checks():
    result = CliRunner().invoke(main, ["summary"])
    assert result.exit_code == 0, result.output
    assert "| **all** |" in result.output and "[ok] bone lengths" in result.output


def test_sheet_and_plot_write_images(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["sheet", "-o", str(tmp_path / "sheet.png"), "--per-activity", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(main, ["plot", "5", "-o", str(tmp_path / "pose.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pose.png").stat().st_size > 1000


def test_bad_arguments_get_clear_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["plot", "999999999", "-o", str(tmp_path / "p.png")])
    assert result.exit_code == 2 and "poses" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["build", "--mocap", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "nowhere" in result.output
    (tmp_path / "bad.npz").write_bytes(b"junk")
    result = runner.invoke(main, ["summary", "--bank", str(tmp_path / "bad.npz")])
    assert result.exit_code == 1 and "bad.npz" in result.output and "Traceback" not in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(main, ["build", "--mocap", str(empty), "-o", str(tmp_path / "b.npz")])
    assert result.exit_code == 1 and "no readable clip" in result.output


def test_build_reports_skipped_files_and_writes_the_bank(tmp_path):
    root = write_mocap_tree(tmp_path / "mocap", np.random.default_rng(5))
    out = tmp_path / "bank.npz"
    result = CliRunner().invoke(main, ["build", "--mocap", str(root), "-o", str(out), "--min-change-mm", "5"])
    assert out.exists()
    assert "skipped 4" in result.output and "nans.bvh" in result.output
    assert "read 2 clips" in result.output
    # Fabricated random motion is not guaranteed to stand on the ground: the exit code reflects
    # the checks, and either way the bank is written and the checks are printed.
    assert "checks:" in result.output and result.exit_code in (0, 1)
