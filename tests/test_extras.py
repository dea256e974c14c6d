"""A runtime-only install: every command that needs the training extra says which extra to install."""

import subprocess
import sys
import textwrap

import pytest

from conftest import NO_TORCH

# The runtime installs none of these (pyproject.toml: they come with the "train" extra).
BLOCK_EXTRAS = NO_TORCH.replace('("torch", "scipy")', '("torch", "scipy", "onnx", "matplotlib", "cdflib")')

COMMANDS = {
    "posebank plot": ("pose3d.cli.posebank", ["plot", "3", "-o", "{tmp}/p.png"], "pose3d-posebank plot needs matplotlib"),
    "posebank sheet": ("pose3d.cli.posebank", ["sheet", "-o", "{tmp}/s.png"], "pose3d-posebank sheet needs matplotlib"),
    "train": ("pose3d.cli.train", ["--out", "{tmp}/run"], "pose3d-train needs torch"),
    "export": ("pose3d_export.cli", ["{tmp}/model.pt", "-o", "{tmp}/m.onnx"], "pose3d-export needs torch"),
    "eval": ("pose3d.cli.eval", ["{tmp}/model.pt"], "pose3d-eval needs torch"),
    "prepare": ("pose3d.cli.prepare", ["h36m", "--root", "{tmp}/h36m", "--out", "{tmp}/p"],
                "pose3d-prepare h36m needs cdflib to read the official release's CDF pose files"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_commands_name_the_extra_they_need(command, tmp_path):
    module, args, message = COMMANDS[command]
    (tmp_path / "model.pt").write_bytes(b"")
    (tmp_path / "h36m" / "S1" / "MyPoseFeatures" / "D3_Positions").mkdir(parents=True)
    (tmp_path / "h36m" / "S1" / "MyPoseFeatures" / "D3_Positions" / "Walking 1.cdf").write_bytes(b"")
    args = [a.format(tmp=tmp_path) for a in args]
    code = BLOCK_EXTRAS + textwrap.dedent(f"""
        import {module} as cli
        cli.main({args!r})
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert message in r.stderr and 'pip install "pose3d[train]"' in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_train_help_works_without_the_extra():
    code = BLOCK_EXTRAS + "import pose3d.cli.train as cli\ncli.main(['--help'])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--config" in r.stdout and 'pip install "pose3d[train]"' in r.stdout, r.stderr
