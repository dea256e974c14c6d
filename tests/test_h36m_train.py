"""Human3.6M end to end on each fabricated layout: prepare -> train (a few steps) -> evaluate."""

import json

import pytest
from click.testing import CliRunner

from pose3d.cli.eval import main as eval_main
from pose3d.cli.prepare import main as prepare_main
from pose3d.cli.train import main as train_main
from pose3d.train.checkpoint import read_checkpoint
from conftest import TINY
from h36m_fixtures import jpeg_tree, npz_tree, official_tree  # noqa: F401


def prepare(root, out):
    r = CliRunner().invoke(prepare_main, ["h36m", "--root", str(root), "--out", str(out), "--subjects", "S1",
                                          "--subjects", "S11", "--test-every", "8", "--quiet"])
    assert r.exit_code == 0, r.output
    return out


def train(data, out, stage="all"):
    args = ["--stage", stage, "--data", str(data), "--out", str(out), "--quiet"]
    for item in TINY:
        args += ["--set", item]
    return CliRunner().invoke(train_main, args)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["official", "jpeg"])
def test_prepare_train_evaluate(layout, official_tree, jpeg_tree, tmp_path):
    tree = {"official": official_tree, "jpeg": jpeg_tree}[layout]
    data = prepare(tree.root, tmp_path / "data")
    r = train(data, tmp_path / "run")
    assert r.exit_code == 0, r.output
    assert "finetune: MPJPE" in r.output
    ckpt = read_checkpoint(tmp_path / "run" / "finetune.pt")
    assert ckpt["config"]["data"] == str(data) and ckpt["step"] == 4
    r = CliRunner().invoke(eval_main, [str(tmp_path / "run" / "finetune.pt"), "--data", str(data), "--flip"])
    assert r.exit_code == 0, r.output
    assert "Protocol 1 (MPJPE)" in r.output and "Protocol 2 (P-MPJPE)" in r.output
    assert "every 8th frame" in r.output and "test frames of S11" in r.output
    result = json.loads((tmp_path / "run" / "finetune_h36m_flip.json").read_text())
    rows = list(result["rows"])
    expected = ["WalkDog"] if layout == "official" else ["Directions", "WalkDog"]  # S11 Directions skipped in (a)
    assert rows == expected and result["layout"] == layout
    assert result["protocol_split"]["test_every"] == 8 and result["samples"] == sum(result["counts"].values())
    assert set(result["baselines"]) == {"mean training pose, camera frame", "mean training pose turned to the true heading"}
    assert "| model |" in r.output


@pytest.mark.slow
def test_poses_only_archive_trains_and_scores_the_prior(npz_tree, tmp_path):
    data = prepare(npz_tree.root, tmp_path / "data")
    r = train(data, tmp_path / "run", stage="prior")
    assert r.exit_code == 0, r.output
    r = train(data, tmp_path / "run", stage="latent")
    assert r.exit_code == 1 and "3D poses only" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(eval_main, [str(tmp_path / "run" / "prior.pt"), "--data", str(data)])
    assert r.exit_code == 0, r.output
    assert "denoising" in r.output and "| Directions |" in r.output and "| WalkDog |" in r.output
    result = json.loads((tmp_path / "run" / "prior_h36m.json").read_text())
    assert result["noise_mm"] == 40 and result["mean_over_groups"]["MPJPE"] > 0
    r = CliRunner().invoke(eval_main, [str(tmp_path / "run" / "prior.pt"), "--data", str(tmp_path)])
    assert r.exit_code == 1 and "not a prepared Human3.6M set" in r.output
