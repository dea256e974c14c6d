"""Stage lifter: label-only samples fixed by (seed, step) and split between processes without changing
them, the simulated detector noise, a tiny run that writes lifter.pt, and stage heatmap starting
its lifter from it (and resuming exactly with it there)."""

import shutil

import pytest
import torch

from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.models.cnn import crop_to_unit
from pose3d.models.codec import PoseCodec
from pose3d.train.checkpoint import load_model, read_checkpoint
from pose3d.train.config import LifterNoise, load_config
from pose3d.train.data import training_data
from pose3d.train.folder import RunFolderError
from pose3d.train.device import Device
from pose3d.train.lifter import detection_noise, simulate_detections
from pose3d.train.loop import Processes
from pose3d.train.names import LABELS, REGISTRY
from pose3d.train.run import Context, run
from conftest import HEATMAP_TINY, tiny
from h36m_fixtures import npz_tree  # noqa: F401

LIFTER_TINY = ["heatmap.lifter_hidden=16", "heatmap.lifter_blocks=1", "lifter_stage.steps=4", "lifter_stage.batch_size=8",
               "lifter_stage.val_every=2", "lifter_stage.checkpoint_every=2", "lifter_val_samples=64"]


def test_labels_are_fixed_by_the_step_and_split_between_processes(tmp_path):
    config = tiny(tmp_path, "seed=3")
    data = training_data(config)
    assert LABELS in data.offers and data.feeds(REGISTRY["lifter"])
    step, batch = 5, 6
    whole = data.labels(step, batch, 0, batch)
    halves = [data.labels(step, batch, offset, 3) for offset in (0, 3)]
    for key in ("joints", "pose"):
        torch.testing.assert_close(torch.cat([h[key] for h in halves]), whole[key], rtol=0, atol=0)
    assert whole["joints"].shape == (batch, 17, 2) and whole["pose"].shape == (batch, 51)
    assert torch.equal(whole["pose"], data.labels(step, batch, 0, batch)["pose"])
    assert not torch.equal(whole["pose"], data.labels(step + 1, batch, 0, batch)["pose"])
    # Step s holds samples s*B .. s*B + B-1 of the train split: the same samples as the crops of ``images``.
    ds = SyntheticPoses(SynthConfig(split="train", seed=3, crop=config.input.crop_spec()))
    ref = ds.label_batch(range(step * batch, (step + 1) * batch))
    torch.testing.assert_close(whole["pose"], PoseCodec().encode(torch.from_numpy(ref["pose_rel"])), rtol=0, atol=0)
    torch.testing.assert_close(whole["joints"], crop_to_unit(torch.from_numpy(ref["joints_2d"]), config.input.input_size),
                               rtol=0, atol=0)
    val = data.val_labels(10)
    assert val["joints"].shape == (10, 17, 2) and torch.equal(val["pose"], data.val_labels(10)["pose"])


def test_the_simulated_detector_noise_has_the_configured_statistics():
    noise = LifterNoise()
    shift, confidence, outlier = detection_noise(4000, 17, noise, torch.Generator().manual_seed(0))
    assert shift.shape == (4000, 17, 2) and confidence.shape == outlier.shape == (4000, 17)
    assert abs(outlier.float().mean().item() - noise.outlier_fraction) < 0.005
    assert 0.0 <= confidence.min() and confidence.max() <= 1.0
    # Inliers: sigma <= 0.06, confidence 0.75 - 4 sigma +- 0.1, so within 0.41 .. 0.85.
    assert confidence[~outlier].min() >= 0.41 - 1e-6 and confidence[~outlier].max() <= 0.85 + 1e-6
    assert confidence[outlier].max() <= 0.85 * noise.outlier_confidence + 1e-6
    assert shift[~outlier].abs().max() < 0.06 * 6 and shift[outlier].std() > 0.25  # outliers move far
    # Fixed by the generator's seed; added to the joints by simulate_detections.
    again = detection_noise(4000, 17, noise, torch.Generator().manual_seed(0))
    assert torch.equal(shift, again[0]) and torch.equal(confidence, again[1])
    joints = torch.zeros(4000, 17, 2)
    noisy, conf = simulate_detections(joints, noise, torch.Generator().manual_seed(0))
    assert torch.equal(noisy, shift) and torch.equal(conf, confidence)
    quiet = LifterNoise(max_sigma=0.0, outlier_fraction=0.0, confidence_jitter=0.0)
    shift, confidence, _ = detection_noise(8, 17, quiet, torch.Generator().manual_seed(1))
    assert torch.equal(shift, torch.zeros_like(shift)) and torch.all(confidence == 0.75)


def test_noise_settings_are_checked():
    with pytest.raises(ValueError, match="lifter_noise.outlier_fraction takes a finite number >= 0 and <= 1"):
        load_config(overrides=["lifter_noise.outlier_fraction=2"])
    with pytest.raises(ValueError, match="lifter_val_samples takes a whole number >= 1"):
        load_config(overrides=["lifter_val_samples=0"])
    config = load_config()
    assert config.lifter_stage.steps == 1500 and config.lifter_stage.batch_size == 512


def test_a_tiny_lifter_stage_writes_lifter_pt_with_the_mean_pose_baseline(tmp_path):
    metrics = run(tiny(tmp_path, *LIFTER_TINY), ["lifter"], progress=False)["lifter"]
    assert {"noisy_mm", "clean_mm", "mean_pose_mm"} <= set(metrics)
    assert 50 < metrics["mean_pose_mm"] < 1000
    model, config, info = load_model(tmp_path / "lifter.pt")
    assert info["kind"] == "lifter" and info["step"] == 4 and config.heatmap.lifter_hidden == 16
    out = model(torch.zeros(2, 17, 2), torch.ones(2, 17))
    assert out.shape == (2, 51)


def _heatmap_stage(config):
    ctx = Context(config, Processes(), training_data(config), Device())
    return REGISTRY["heatmap"].build(ctx)


def test_the_heatmap_stage_starts_from_lifter_pt_and_resumes_exactly(tmp_path):
    lifted = tmp_path / "lifted"
    run(tiny(lifted, *LIFTER_TINY), ["lifter"], progress=False)
    lifter = read_checkpoint(lifted / "lifter.pt")["model"]
    stage = _heatmap_stage(tiny(lifted, *LIFTER_TINY, *HEATMAP_TINY))
    for k, v in stage.model.lifter.state_dict().items():
        torch.testing.assert_close(v, lifter[k], rtol=0, atol=0, msg=k)
    # Without lifter.pt the heatmap stage starts afresh; it does not need it.
    fresh = _heatmap_stage(tiny(tmp_path / "fresh", *LIFTER_TINY, *HEATMAP_TINY))
    assert not torch.equal(fresh.model.lifter.out.weight, lifter["out.weight"])
    # Interrupted and resumed (heatmap.pt there: lifter.pt is not loaded again), it ends where a
    # straight run does.
    stopped = tmp_path / "stopped"
    shutil.copytree(lifted, stopped)
    run(tiny(lifted, *LIFTER_TINY, *HEATMAP_TINY), ["lifter", "heatmap"], progress=False)
    run(tiny(stopped, *LIFTER_TINY, *HEATMAP_TINY), ["lifter", "heatmap"], progress=False, max_steps=1)
    run(tiny(stopped, *LIFTER_TINY, *HEATMAP_TINY), ["lifter", "heatmap"], progress=False)
    a, b = read_checkpoint(lifted / "heatmap.pt"), read_checkpoint(stopped / "heatmap.pt")
    assert a["step"] == b["step"] == 4
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0, msg=k)


def test_a_lifter_pt_of_another_architecture_is_refused(tmp_path):
    run(tiny(tmp_path, *LIFTER_TINY), ["lifter"], progress=False)
    with pytest.raises(ValueError, match="heatmap.lifter_hidden=16"):
        _heatmap_stage(tiny(tmp_path, *LIFTER_TINY, *HEATMAP_TINY, "heatmap.lifter_hidden=32"))
    # Through a run: refused before anything in the folder is written.
    before = (tmp_path / "config.json").read_text()
    with pytest.raises(RunFolderError, match="lifter.pt was trained with heatmap.lifter_hidden=16"):
        run(tiny(tmp_path, *LIFTER_TINY, *HEATMAP_TINY, "heatmap.lifter_hidden=32"), ["heatmap"], progress=False)
    assert (tmp_path / "config.json").read_text() == before
    assert not (tmp_path / "heatmap.pt").exists()


def test_a_prepared_poses_only_set_feeds_the_lifter(npz_tree, tmp_path):
    """Every prepared Human3.6M set keeps its 2D joints and crop boxes, so a 3D-only one trains the lifter."""
    from click.testing import CliRunner

    from pose3d.cli.prepare import main as prepare_main

    r = CliRunner().invoke(prepare_main, ["h36m", "--root", str(npz_tree.root), "--out", str(tmp_path / "data"),
                                          "--subjects", "S1", "--subjects", "S11", "--test-every", "8", "--quiet"])
    assert r.exit_code == 0, r.output
    config = tiny(tmp_path / "run", *LIFTER_TINY, f"data={tmp_path / 'data'}")
    data = training_data(config)
    assert LABELS in data.offers and data.feeds(REGISTRY["lifter"])
    whole = data.labels(2, 6, 0, 6)
    halves = [data.labels(2, 6, offset, 3) for offset in (0, 3)]
    for key in ("joints", "pose"):
        torch.testing.assert_close(torch.cat([h[key] for h in halves]), whole[key], rtol=0, atol=0)
    assert whole["joints"].abs().max() < 3  # crop units: the joints lie about in the crop
    metrics = run(config, ["lifter"], progress=False)["lifter"]
    assert "mean_pose_mm" in metrics
