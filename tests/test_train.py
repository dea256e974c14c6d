import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pose3d.cli.eval import main as eval_main
from pose3d.cli.train import main as train_main
from pose3d.train.checkpoint import load_model, read_checkpoint
from pose3d.train.run import run
from conftest import HEATMAP_TINY, TINY, tiny

def losses(out_dir, stage):
    records = [json.loads(l) for l in (out_dir / "log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if r["stage"] == stage and "loss" in r]


def test_prior_trains_and_denoises(tmp_path):
    result = run(tiny(tmp_path, "prior.hidden=(256,)", "prior_stage.batch_size=128", "prior_stage.steps=400",
                      "prior_stage.val_every=400"), ["prior"], progress=False)
    metrics = result["prior"]
    curve = losses(tmp_path, "prior")
    assert curve[-1] < 0.5 * curve[0]
    assert metrics["denoised_mm"] < metrics["noisy_input_mm"]  # the prior removes part of the noise
    assert metrics["reconstruction_mm"] < 80
    assert (tmp_path / "log.png").stat().st_size > 1000  # the log's picture, redrawn at each validation


def test_every_stage_resumes_exactly(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    stages = ["prior", "latent", "finetune", "direct", "person"]
    run(tiny(straight), stages, progress=False)
    # The same run, interrupted part way through every stage and started again.
    for _ in range(3):
        run(tiny(stopped), stages, progress=False, max_steps=25)
    run(tiny(stopped), stages, progress=False, max_steps=2)
    run(tiny(stopped), stages, progress=False, max_steps=2)
    run(tiny(stopped), stages, progress=False)
    for stage in stages:
        a = read_checkpoint(straight / f"{stage}.pt")
        b = read_checkpoint(stopped / f"{stage}.pt")
        assert a["step"] == b["step"]
        for k in a["model"]:
            torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0, msg=f"{stage}: {k}")
    # A finished stage is not trained again.
    before = (straight / "direct.pt").stat().st_mtime_ns
    run(tiny(straight), ["direct"], progress=False)
    assert (straight / "direct.pt").stat().st_mtime_ns == before


def test_image_stages_lower_their_loss(tmp_path):
    run(tiny(tmp_path, "latent_stage.steps=40", "latent_stage.val_every=40", "latent_stage.lr=0.002"),
        ["prior", "latent"], progress=False)
    curve = losses(tmp_path, "latent")
    assert sum(curve[-3:]) / 3 < curve[0]
    model, config, info = load_model(tmp_path / "latent.pt")
    assert info["kind"] == "structured" and config.cnn.channels == (4, 8, 8)


def test_person_head_learns_person_from_background(tmp_path):
    run(tiny(tmp_path, "person_stage.steps=30", "person_stage.val_every=30", "person_stage.lr=0.01"),
        ["prior", "latent", "finetune", "person"], progress=False)
    curve = losses(tmp_path, "person")
    assert sum(curve[-3:]) / 3 < curve[0]
    head, _, info = load_model(tmp_path / "person.pt")
    assert info["kind"] == "person" and info["metrics"]["auc"] > 0.5


def test_background_confidence_teaches_the_pose_score_what_is_not_a_person(tmp_path):
    settings = [*HEATMAP_TINY, "heatmap_stage.steps=30", "heatmap_stage.val_every=30", "heatmap_stage.lr=0.01",
                "val_samples=32"]
    run(tiny(tmp_path / "off", *settings), ["heatmap"], progress=False)
    run(tiny(tmp_path / "on", *settings, "background_confidence=5"), ["heatmap"], progress=False)
    records = [json.loads(l) for l in (tmp_path / "on" / "log.jsonl").read_text().splitlines()]
    trained = [r for r in records if "background_confidence" in r]
    assert len(trained) >= 5  # logged with the loss, and part of it with its weight
    for r in trained:
        assert r["loss"] == pytest.approx(r["loss_2d"] + r["loss_3d"] + 5 * r["background_confidence"], rel=1e-4)
    val = read_checkpoint(tmp_path / "on" / "heatmap.pt")["metrics"]
    assert all(0 <= val[k] <= 1 for k in ("score_person_median", "score_background_median", "score_auc"))
    off = read_checkpoint(tmp_path / "off" / "heatmap.pt")["metrics"]
    assert "score_auc" not in off  # off: as before
    # One pass over person and background crops: batch norm's statistics stay those of the run's
    # inputs, so the evaluation (eval mode) is not thrown off (a separate pass over backgrounds was).
    assert val["MPJPE"] < 1.5 * off["MPJPE"]


def test_background_crops_show_no_person():
    from pose3d.data.synthetic import SynthConfig, SyntheticPoses

    ds = SyntheticPoses(SynthConfig(split="val", seed=0, length=32))
    bg = ds.render_background_batch(range(32))
    fg = ds.render_batch(range(32))
    assert bg["image"].shape == fg["image"].shape and bg["image"].dtype == np.uint8
    assert np.median(bg["person_coverage"]) == 0.0 and (bg["person_coverage"] < 0.05).mean() > 0.9
    assert not np.array_equal(bg["image"], fg["image"])
    again = ds.render_background_batch(range(32))
    assert np.array_equal(again["image"], bg["image"])  # fixed by the seed and the indices


def test_part_crops_show_a_piece_of_the_person():
    from pose3d.data.synthetic import PART_ZOOM, SynthConfig, SyntheticPoses

    ds = SyntheticPoses(SynthConfig(split="val", seed=0, length=32))
    parts = ds.render_part_batch(range(32))
    whole = ds.render_batch(range(32))
    assert parts["image"].shape == whole["image"].shape and parts["image"].dtype == np.uint8
    # Zoomed onto a joint: the crops are mostly person, and never the whole person: its joints spread
    # over PART_ZOOM times their extent in the person crop, most of them outside the picture.
    assert np.median(parts["person_coverage"]) > 0.25
    S = whole["image"].shape[-1]
    zoom = np.ptp(parts["joints_2d"], axis=1).max(-1) / np.ptp(whole["joints_2d"], axis=1).max(-1)
    assert (zoom >= PART_ZOOM[0] * 0.999).all() and (zoom <= PART_ZOOM[1] * 1.001).all()
    inside = ((parts["joints_2d"] >= 0) & (parts["joints_2d"] <= S - 1)).all(-1).sum(-1)
    assert (inside <= 9).all() and np.median(inside) <= 4
    assert np.array_equal(ds.render_part_batch(range(32))["image"], parts["image"])  # fixed by the seed and indices


def test_stage_order_and_bad_settings_are_reported(tmp_path):
    runner = CliRunner()
    r = runner.invoke(train_main, ["--stage", "finetune", "--out", str(tmp_path / "x"), "--quiet"])
    assert r.exit_code == 1 and "latent.pt" in r.output
    r = runner.invoke(train_main, ["--set", "latent_stage.stpes=3", "--out", str(tmp_path / "y")])
    assert r.exit_code == 2 and "stpes" in r.output
    (tmp_path / "bad.toml").write_text("seed = [")
    r = runner.invoke(train_main, ["--config", str(tmp_path / "bad.toml")])
    assert r.exit_code == 2 and "bad.toml" in r.output


@pytest.mark.slow
def test_train_then_eval_from_the_command_line(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text('val_samples = 16\n[prior]\nhidden = [64]\n[cnn]\nchannels = [4, 8, 8]\nfc = [16, 16, 16]\n')
    args = ["--config", str(config), "--stage", "ablation", "--out", str(tmp_path / "run"), "--quiet"]
    for item in TINY[5:] + HEATMAP_TINY:
        args += ["--set", item]
    r = CliRunner().invoke(train_main, args)
    assert r.exit_code == 0, r.output
    for arm in ("finetune", "direct", "heatmap", "hmfinetune"):  # every arm of the ablation
        assert f"{arm}: MPJPE" in r.output
    r = CliRunner().invoke(eval_main, [str(tmp_path / "run" / "finetune.pt"), "--samples", "24", "--flip", "--report"])
    assert r.exit_code == 0, r.output
    table = json.loads((tmp_path / "run" / "finetune_test_flip.json").read_text())
    assert table["samples"] == 24 and table["flip"] and "MPJPE" in table["mean_over_groups"]
    # The trivial baselines are scored beside the model, on the same samples.
    assert set(table["baselines"]) == {"mean training pose, camera frame", "mean training pose turned to the true heading"}
    assert all(b["counts"] == table["counts"] for b in table["baselines"].values())
    assert "| mean training pose turned to the true heading |" in r.output
    assert (tmp_path / "run" / "finetune_test_flip.png").exists()
    r = CliRunner().invoke(eval_main, [str(tmp_path / "run" / "prior.pt")])
    assert r.exit_code == 1 and "prior alone" in r.output


@pytest.mark.slow
def test_two_process_data_parallel_training_matches_one_process(tmp_path):
    if shutil.which("torchrun") is None:
        pytest.skip("torchrun is not on PATH")
    single, double = tmp_path / "single", tmp_path / "double"
    run(tiny(single, "prior_stage.steps=20"), ["prior"], progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [*sum((["--set", s] for s in TINY + ["prior_stage.steps=20"]), []), "--out", str(double), "--quiet"]
    cmd = ["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "pose3d.cli.train", "--stage", "prior", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = read_checkpoint(single / "prior.pt"), read_checkpoint(double / "prior.pt")
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-4, atol=1e-5)
    # An image stage runs data parallel too (its batch norm sees each process's half batch).
    cmd[cmd.index("prior")] = "latent"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_checkpoint(double / "latent.pt")["step"] == 6
