"""The person detector, training side: frames, targets, loss, AP, the stage, the ONNX export."""

import json

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from pose3d.data.frames import DetectorFrames, FrameSpec, joint_boxes
from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.metrics import box_iou, detection_scores, match_detections
from pose3d.models.detector import (STRIDE, DetectorConfig, PersonDetector, decode, detector_loss, detector_targets,
                                    flops_per_frame)
from pose3d.train.checkpoint import load_model, save_checkpoint
from pose3d.train.config import config_to_dict, load_config
from pose3d.train.detector import frame_tensors
from pose3d_export.cli import main as export_main
from pose3d_export.onnx_export import _session

TINY_NET = ["detector.widths=(4,8,8,8,8)", "detector.blocks=(1,1,1,1)", "detector.neck_width=8", "detector.input_size=64"]


def frames(length=12, size=128, **spec):
    return DetectorFrames(SynthConfig(split="val", length=length), size, FrameSpec(**spec))


# -- frames ---------------------------------------------------------------------------------------


def test_frames_depend_on_their_index_alone():
    ds = frames()
    a = ds.render_batch([3, 7])
    b = ds.render_batch([7])
    np.testing.assert_array_equal(a["image"][1], b["image"][0])
    np.testing.assert_array_equal(a["boxes"][1], b["boxes"][0])
    again = frames().render_batch([3, 7])
    for k in a:
        np.testing.assert_array_equal(a[k], again[k])
    assert a["image"].shape == (2, 3, 128, 128) and a["image"].dtype == np.uint8


def test_render_views_through_the_identity_is_the_full_frame():
    ds = SyntheticPoses(SynthConfig(split="val", length=4, bodies="anny"))
    full = ds.render_full_frames([2])
    w, h = full["image"].shape[3], full["image"].shape[2]
    views = ds.render_views([2], lambda uv, sizes: np.array([[[1.0, 0, 0], [0, 1.0, 0]]]), (w, h))
    np.testing.assert_array_equal(views["image"], full["image"])
    np.testing.assert_array_equal(views["people_joints_2d"], full["people_joints_2d"])


def test_boxes_sit_on_the_rendered_people():
    """The same frames with and without people (one draw decides, the rest are shared): the pixels
    under a present person's joints change when it is drawn."""
    with_people = frames(length=24, negative_probability=0.0).render_batch(range(24))
    without = frames(length=24, negative_probability=1.0).render_batch(range(24))
    assert not without["present"].any() and np.isnan(without["boxes"]).all()
    changed = (np.abs(with_people["image"].astype(int) - without["image"]).max(1) > 8)  # (B, S, S)
    hits, total = 0, 0
    for b, p in zip(*np.nonzero(with_people["present"])):
        x0, y0, x1, y1 = with_people["boxes"][b, p]
        assert x1 - x0 >= 1 and y1 - y0 >= 1
        inside = changed[b, max(int(y0), 0):int(y1) + 1, max(int(x0), 0):int(x1) + 1]
        assert inside.mean() > 0.1  # the box holds a good share of the person's pixels
        total += 1
        hits += inside.mean() > 0.2
    assert total >= 10 and hits / total > 0.7
    assert with_people["present"].sum() > 0 and (with_people["ignore"] & with_people["present"]).sum() == 0


def test_occluders_cover_people_and_hide_the_joints_behind_them():
    """The same frames with and without occluders: the people and boxes are the same, the pictures
    differ only where an occluder was painted, and a person whose joints it covers may stop counting
    (never the other way round); frames stay a function of their index."""
    plain = frames(length=24, negative_probability=0.0).render_batch(range(24))
    occ = frames(length=24, negative_probability=0.0, occluder_probability=1.0)
    covered = occ.render_batch(range(24))
    np.testing.assert_array_equal(covered["boxes"], plain["boxes"])
    assert not (covered["present"] & ~plain["present"]).any()
    changed = np.abs(covered["image"].astype(int) - plain["image"]).max(1) > 0  # (B, S, S)
    assert changed.any(axis=(1, 2)).all()
    # The painted pixels lie about the box of one of the people (all frames have someone in view).
    for b in range(24):
        ys, xs = np.nonzero(changed[b])
        boxes = plain["boxes"][b][np.isfinite(plain["boxes"][b, :, 0])]
        side = np.max(boxes[:, 2:] - boxes[:, :2], axis=1)
        cx, cy = xs.mean(), ys.mean()
        near = (cx > boxes[:, 0] - 2 * side) & (cx < boxes[:, 2] + 2 * side) & (cy > boxes[:, 1] - 2 * side) & (
            cy < boxes[:, 3] + 2 * side)
        assert near.any()
    np.testing.assert_array_equal(occ.render_batch([5])["image"][0], covered["image"][5])


def test_paint_occluders_hides_what_it_covers():
    from pose3d.data.frames import hidden_behind
    from pose3d.synth.draws import Draws
    from pose3d.synth.occluders import paint_occluders

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 3, 64, 64), dtype=np.uint8)
    boxes = np.tile(np.array([[16.0, 8.0, 40.0, 56.0]]), (6, 1))
    untouched = images.copy()
    none = paint_occluders(untouched, boxes, Draws.for_samples(1, range(6)), 0.0)
    np.testing.assert_array_equal(untouched, images)
    assert not none.any()
    covered = paint_occluders(images, boxes, Draws.for_samples(1, range(6)), 1.0)
    assert covered.any(axis=(1, 2)).all()
    ys, xs = np.nonzero(covered[0])
    joints = np.array([[[[xs[0], ys[0]], [-5.0, 3.0], [np.nan, np.nan]]]]).repeat(6, 0)  # (6, 1, 3, 2)
    hidden = hidden_behind(covered, joints)
    assert hidden[0, 0, 0] and not hidden[:, 0, 1:].any()


def test_joint_boxes_are_the_joints_extent():
    joints = np.array([[[1.0, 2.0], [5.0, -3.0], [2.0, 9.0]], [[np.nan, np.nan]] * 3])
    np.testing.assert_array_equal(joint_boxes(joints)[0], [1, -3, 5, 9])
    assert np.isnan(joint_boxes(joints)[1]).all()


# -- targets, loss, decode ------------------------------------------------------------------------


def test_targets_decode_back_to_the_boxes():
    size = 128
    boxes = np.array([[[10.3, 20.6, 50.1, 90.2], [70.0, 30.0, 120.0, 60.0], [0, 0, 0, 0]]])
    present, ignore = np.array([[True, True, False]]), np.zeros((1, 3), bool)
    t = detector_targets(boxes, present, ignore, size)
    G = size // STRIDE
    assert t["heatmap"].shape == (1, 1, G, G) and t["heatmap"].max() == 1.0 and (t["heatmap"] == 1.0).sum() == 2
    sizes, offsets = np.zeros((1, 2, G * G)), np.zeros((1, 2, G * G))
    sizes[0, :, t["cells"][0, :2]] = np.exp(t["size"][0, :2])
    offsets[0, :, t["cells"][0, :2]] = t["offset"][0, :2]
    found, scores = decode(t["heatmap"], sizes.reshape(1, 2, G, G), offsets.reshape(1, 2, G, G), 0.5, 10, 0.6)[0]
    np.testing.assert_allclose(found[np.argsort(found[:, 0])], boxes[0, :2], atol=1e-4)


def test_a_centre_beyond_the_border_moves_onto_it_keeping_the_inner_edge():
    t = detector_targets(np.array([[[-60.0, 10.0, 20.0, 50.0]]]), np.array([[True]]), np.zeros((1, 1), bool), 64)
    w, h = np.exp(t["size"][0, 0])
    assert t["cells"][0, 0] % 16 == 0 and t["offset"][0, 0, 0] == pytest.approx(0.0)
    assert -0.5 + w / 2 == pytest.approx(20.0) and h == pytest.approx(40.0)


def test_ignored_people_are_neither_person_nor_background():
    t = detector_targets(np.array([[[10.0, 10.0, 40.0, 60.0]]]), np.array([[False]]), np.array([[True]]), 64)
    assert t["heatmap"].max() == 0 and t["weight"][0, 0, 8, 6] == 0 and t["weight"][0, 0, 0, 15] == 1


def test_the_loss_falls_on_a_tiny_overfit():
    torch.manual_seed(0)
    config = DetectorConfig(input_size=64, widths=(4, 8, 8, 8, 8), blocks=(1, 1, 1, 1), neck_width=8)
    batch = frames(length=4, size=64, negative_probability=0.0).render_batch(range(4))
    x, targets = frame_tensors(batch, 64, channels_last=True)
    model = PersonDetector(config).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss, parts = detector_loss(model(x), targets, config)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        assert set(parts) == {"focal", "size_l1", "offset_l1"}
    assert np.isfinite(losses).all() and np.mean(losses[-5:]) < 0.5 * losses[0]


def test_the_default_detector_fits_the_cpu_budget():
    assert flops_per_frame(DetectorConfig()) < 0.5e9
    assert flops_per_frame(DetectorConfig(input_size=128)) == pytest.approx(flops_per_frame(DetectorConfig()) / 4, rel=0.01)


# -- AP -------------------------------------------------------------------------------------------

TRUTH = np.array([[0.0, 0.0, 10.0, 20.0], [30.0, 0.0, 40.0, 20.0]])
NONE = np.zeros(2, bool)


def test_box_iou():
    np.testing.assert_allclose(box_iou(TRUTH, TRUTH), np.eye(2))
    assert box_iou(np.array([[0.0, 0, 10, 10]]), np.array([[5.0, 0, 15, 10]]))[0, 0] == pytest.approx(1 / 3)
    assert box_iou(np.array([[0.0, 0, 0, 0]]), np.array([[0.0, 0, 0, 0]]))[0, 0] == 0.0


def test_perfect_detections_have_ap_1():
    s = detection_scores([(TRUTH, np.array([0.9, 0.8]), TRUTH, NONE)], score_threshold=0.5)
    assert s == {"ap": 1.0, "recall": 1.0, "precision": 1.0, "best_f1": 1.0, "best_f1_threshold": 0.8}


def test_a_false_alarm_above_the_hits_halves_the_precision_there():
    boxes = np.concatenate([TRUTH, [[100.0, 100.0, 110.0, 120.0]]])
    s = detection_scores([(boxes, np.array([0.5, 0.4, 0.9]), TRUTH, NONE)], score_threshold=0.45)
    # ranks: false (p 0), hit (p 1/2, r 1/2), hit (p 2/3, r 1) -> envelope 2/3 over the whole recall
    assert s["ap"] == pytest.approx(2 / 3) and s["recall"] == 0.5 and s["precision"] == 0.5
    assert s["best_f1"] == pytest.approx(0.8) and s["best_f1_threshold"] == 0.4  # p 2/3, r 1


def test_duplicates_misses_and_ignored_people():
    dup = np.stack([TRUTH[0], TRUTH[0] + 0.5])
    tp, counted = match_detections(dup, np.array([0.9, 0.8]), TRUTH, NONE)
    assert tp.tolist() == [True, False] and counted.all()
    # A detection of an ignored person is left out; the ignored one is not a miss.
    s = detection_scores([(TRUTH, np.array([0.9, 0.8]), TRUTH, np.array([False, True]))], score_threshold=0.5)
    assert s["ap"] == 1.0 and s["recall"] == 1.0
    # Nothing found: AP 0; nothing to find: NaN.
    assert detection_scores([(np.zeros((0, 4)), np.zeros(0), TRUTH, NONE)], 0.5)["ap"] == 0.0
    assert np.isnan(detection_scores([(TRUTH, np.array([0.9, 0.8]), np.zeros((0, 4)), np.zeros(0, bool))], 0.5)["ap"])


# -- the stage and the export ---------------------------------------------------------------------


def test_the_detector_stage_is_not_in_the_default_set_and_its_settings_are_checked():
    from pose3d.train.names import SETS

    assert all("detector" not in s for s in SETS.values())
    with pytest.raises(ValueError, match="score_threshold"):
        load_config(overrides=["detector.score_threshold=2"])
    with pytest.raises(ValueError, match="min_joints"):
        load_config(overrides=["detector_frames.min_joints=0"])
    with pytest.raises(ValueError, match="multiple of 32"):
        load_config(overrides=["detector.input_size=100"])


@pytest.fixture
def detector_checkpoint(tmp_path):
    """An untrained tiny detector with batch norm statistics that are not the identity."""
    config = load_config(overrides=TINY_NET + [f"out_dir={tmp_path}"])
    torch.manual_seed(0)
    model = PersonDetector(config.detector)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "detector.pt"
    save_checkpoint(path, {"kind": "detector", "stage": "detector", "step": 7, "config": config_to_dict(config),
                           "model": model.state_dict(), "optimizer": {}, "metrics": {"ap50": 0.25, "f1_threshold": 0.42}})
    return path


def test_export_round_trip(detector_checkpoint, tmp_path):
    out = tmp_path / "detector.onnx"
    r = CliRunner().invoke(export_main, ["--detector", str(detector_checkpoint), "-o", str(out), "--samples", "4"])
    assert r.exit_code == 0, r.output
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    contract = json.loads(meta["pose3d_detector"])
    assert contract["format"] == 1 and contract["input_size"] == 64 and contract["stride"] == 4
    assert contract["letterbox"] == "pose3d.crop.letterbox_affine" and len(contract["mean"]) == 3
    assert contract["input_multiple"] == 32  # the stem and four stages halve the input
    assert meta["step"] == "7" and json.loads(meta["metrics"]) == {"ap50": 0.25, "f1_threshold": 0.42}
    assert contract["score_threshold"] == 0.42  # the best-F1 threshold of the last validation
    assert json.loads(meta["training_config"])["detector"]["neck_width"] == 8
    x = np.random.default_rng(0).normal(size=(3, 3, 64, 64)).astype(np.float32)  # dynamic batch
    centre, size, offset = _session(out).run(["centre", "size", "offset"], {"frame": x})
    assert centre.shape == (3, 1, 16, 16) and size.shape == offset.shape == (3, 2, 16, 16)
    assert ((centre > 0) & (centre < 1)).all() and (size > 0).all() and ((offset >= 0) & (offset <= 1)).all()
    model, _, _ = load_model(detector_checkpoint)
    with torch.no_grad():
        ref = torch.sigmoid(model(torch.from_numpy(x))[0]).numpy()
    np.testing.assert_allclose(centre, ref, atol=1e-4)
    wide = np.random.default_rng(1).normal(size=(2, 3, 32, 96)).astype(np.float32)  # any multiple of 32 a side
    centre, size, _ = _session(out).run(["centre", "size", "offset"], {"frame": wide})
    assert centre.shape == (2, 1, 8, 24) and size.shape == (2, 2, 8, 24)
    with torch.no_grad():
        np.testing.assert_allclose(centre, torch.sigmoid(model(torch.from_numpy(wide))[0]).numpy(), atol=1e-4)


def test_the_frame_size_the_runtime_feeds_is_chosen_at_export(detector_checkpoint, tmp_path):
    from pose3d_runtime.detector import PersonDetector

    out = tmp_path / "detector.onnx"
    r = CliRunner().invoke(export_main, ["--detector", str(detector_checkpoint), "-o", str(out), "--samples", "2",
                                         "--frame-size", "128"])
    assert r.exit_code == 0, r.output
    det = PersonDetector(out)
    assert det.info.input_size == 128 and det.any_shape  # trained on 64 x 64 frames
    assert det.input_shape((480, 640)) == (96, 160)  # about 128 x 128 pixels at the frame's 4:3 (multiples of 32)
    frame = np.zeros((480, 640, 3), np.uint8)
    assert det.preprocess(frame).shape == (1, 3, 96, 160) and det(frame, 0.99) == []
    r = CliRunner().invoke(export_main, ["--detector", str(detector_checkpoint), "-o", str(out), "--frame-size", "100"])
    assert r.exit_code != 0 and "--frame-size must be a multiple of 32, got 100" in r.output
    r = CliRunner().invoke(export_main, [str(detector_checkpoint), "-o", str(out), "--frame-size", "128"])
    assert r.exit_code != 0 and "--frame-size" in r.output and "--detector" in r.output


def test_export_fails_past_the_tolerance(detector_checkpoint, tmp_path, monkeypatch):
    from pose3d_export import detector_export

    monkeypatch.setitem(detector_export.TOLERANCE, "size", -1.0)  # no difference is small enough
    with pytest.raises(detector_export.VerificationError, match="ONNX differs from PyTorch on 2 rendered frames: size"):
        detector_export.export_detector(detector_checkpoint, tmp_path / "d.onnx", samples=2)


def test_the_exporters_refuse_each_others_checkpoints(detector_checkpoint, tmp_path):
    r = CliRunner().invoke(export_main, [str(detector_checkpoint), "-o", str(tmp_path / "m.onnx")])
    assert r.exit_code != 0 and "holds the person detector: export it with --detector" in r.output
    from pose3d.models.prior import PoseAutoencoder

    config = load_config(overrides=["prior.hidden=(8,)"])
    prior = tmp_path / "prior.pt"
    save_checkpoint(prior, {"kind": "prior", "stage": "prior", "step": 1, "config": config_to_dict(config),
                            "model": PoseAutoencoder(config.prior).state_dict(), "optimizer": {}})
    r = CliRunner().invoke(export_main, ["--detector", str(prior), "-o", str(tmp_path / "d.onnx")])
    assert r.exit_code != 0 and "holds a 'prior' model" in r.output and "not the person detector" in r.output


def test_the_stage_trains_validates_and_resumes(tmp_path):
    from pose3d.train.run import run

    config = load_config(overrides=TINY_NET + [f"out_dir={tmp_path}", "val_samples=8", "detector_stage.steps=4",
                                               "detector_stage.batch_size=4", "detector_stage.val_every=2",
                                               "detector_stage.checkpoint_every=2"])
    first = run(config, ["detector"], progress=False, max_steps=2)
    assert first == {} or set(first["detector"]) >= {"ap50", "recall"}
    metrics = run(config, ["detector"], progress=False)["detector"]
    assert set(metrics) == {"ap50", "recall", "precision", "negatives_clean", "best_f1", "f1_threshold"}
    ckpt = torch.load(tmp_path / "detector.pt", weights_only=True)
    assert ckpt["kind"] == "detector" and ckpt["step"] == 4


def test_a_stage_can_start_from_another_runs_trunk(tmp_path):
    """``detector_stage.init_from``: a narrower neck on a trained trunk. The tensors whose name and
    shape match start as the checkpoint's, the others as initialised; once the new run has its own
    checkpoint it resumes from that; a file that is no checkpoint is refused by name."""
    from pose3d.train.run import run

    common = ["val_samples=8", "detector_stage.batch_size=4", "detector_stage.val_every=2",
              "detector_stage.checkpoint_every=2"]
    run(load_config(overrides=TINY_NET + common + [f"out_dir={tmp_path / 'a'}", "detector_stage.steps=2"]),
        ["detector"], progress=False)
    source = torch.load(tmp_path / "a" / "detector.pt", weights_only=True)["model"]
    narrow = [o for o in TINY_NET if "neck_width" not in o] + ["detector.neck_width=4"]
    config = load_config(overrides=narrow + common + [f"out_dir={tmp_path / 'b'}", "detector_stage.steps=2",
                                                      f"detector_stage.init_from={tmp_path / 'a' / 'detector.pt'}",
                                                      "detector_stage.lr=1e-12"])
    run(config, ["detector"], progress=False)
    started = torch.load(tmp_path / "b" / "detector.pt", weights_only=True)["model"]
    assert torch.allclose(started["stem.0.weight"], source["stem.0.weight"], atol=1e-6)
    assert started["centre.weight"].shape != source["centre.weight"].shape
    logged = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    (note,) = [r for r in logged if "init_from" in r]
    assert note["copied"] > 0 and "centre.weight" in note["fresh"] and "stem.0.weight" not in note["fresh"]
    bad = tmp_path / "not_a_checkpoint.pt"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="not_a_checkpoint"):
        run(load_config(overrides=narrow + common + [f"out_dir={tmp_path / 'c'}", "detector_stage.steps=2",
                                                     f"detector_stage.init_from={bad}"]), ["detector"], progress=False)
