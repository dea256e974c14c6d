"""The real-photo evaluation: metrics against hand-computed values, a fabricated realval folder of
rendered people end to end (ONNX and checkpoint), bad input, and the shared realval set."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import SHARED
from pose3d.baselines import MeanPose, place_in_boxes
from pose3d.cli.eval import main as eval_main
from pose3d.crop import CropSpec, apply_affine, box_crop_affine
from pose3d.metrics import p_mpjpe
from pose3d.realval.labels import RealvalError, read_realval
from pose3d.realval.score import LIMBS, Scores2D, Scores3D, Truth
from pose3d.skeleton import H36M17, LIMB_JOINTS

J = H36M17.num_joints


def _truth(n: int, rng, with_3d: bool = True, agrees=None) -> Truth:
    from conftest import random_pose

    gt2d = rng.uniform(100, 500, size=(n, J, 2))
    torso = np.linalg.norm(gt2d[:, H36M17.index("Thorax")] - gt2d[:, H36M17.index("Hip")], axis=-1)
    pose = random_pose(rng, n) + np.array([0.0, 0.0, 4000.0])
    return Truth(gt2d, torso, np.ones((n, J), bool) if agrees is None else agrees,
                 pose if with_3d else np.full((n, J, 3), np.nan), np.array(["a"] * n), np.array(["a/cam"] * n))


def _offset(gt2d: np.ndarray, torso: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Each joint moved along +x by ``fractions[j]`` torso lengths."""
    out = gt2d.copy()
    out[..., 0] += fractions[None, :] * torso[:, None]
    return out


def test_pck_and_torso_error_match_hand_computed_values(rng):
    agrees = np.ones((2, J), bool)
    agrees[:, 9:12] = False  # three joints of the 0.3 group masked
    truth = _truth(2, rng, agrees=agrees)
    fractions = np.where(np.arange(J) < 9, 0.1, 0.3)  # 9 joints within 0.2, 8 outside
    pred = _offset(truth.joints_2d, truth.torso, fractions)
    s = Scores2D.of("m", pred, truth)
    every = np.ones(2, bool)
    assert s.pck(every) == pytest.approx(9 / 17)
    assert s.pck(every, truth.agrees) == pytest.approx(9 / 14)
    assert s.mean_error(every) == pytest.approx((9 * 0.1 + 8 * 0.3) / 17)
    # a frame where nobody was found: all its joints wrong in PCK, left out of the mean error
    pred[1] = np.nan
    s = Scores2D.of("m", pred, truth)
    assert s.pck(every) == pytest.approx(9 / 34)
    assert s.mean_error(every) == pytest.approx((9 * 0.1 + 8 * 0.3) / 17)
    assert s.answered.tolist() == [True, False]
    # frames the predictor was not run on do not count at all
    s = Scores2D.of("m", pred, truth, applies=np.array([True, False]))
    assert s.pck(every) == pytest.approx(9 / 17)


def test_p_mpjpe_ignores_similarity_transforms_and_limbs_align_on_their_own(rng):
    from conftest import random_rotation

    truth = _truth(3, rng)
    R = random_rotation(rng)
    pred = 0.7 * np.einsum("ij,nkj->nki", R, truth.joints_3d - truth.joints_3d[:, :1]) + 55.0
    s = Scores3D.of("m", pred, truth)
    np.testing.assert_allclose(s.p_mpjpe, 0.0, atol=1e-6)
    np.testing.assert_allclose(s.p_mpjpe_limbs, 0.0, atol=1e-6)
    # Moving the head alone: the limb score does not see it, the 17-joint score does.
    moved = pred.copy()
    moved[:, H36M17.index("Head")] += 300.0
    s = Scores3D.of("m", moved, truth)
    np.testing.assert_allclose(s.p_mpjpe_limbs, 0.0, atol=1e-6)
    np.testing.assert_allclose(s.p_mpjpe, p_mpjpe(moved, truth.joints_3d))
    assert (s.p_mpjpe > 5).all()
    assert sorted(H36M17.names[j] for j in LIMBS) == sorted(LIMB_JOINTS)
    # Frames without a triangulation are not scored.
    s = Scores3D.of("m", pred, _truth(3, rng, with_3d=False))
    assert np.isnan(s.p_mpjpe).all() and s.mean(np.ones(3, bool)) == (pytest.approx(np.nan, nan_ok=True), 0)


def test_mean_pose_baselines_turn_to_the_heading(rng):
    from conftest import random_pose, random_rotation
    from pose3d.rotations import yaw_to_rotmat
    from pose3d.skeleton import facing_yaw

    base = random_pose(rng)  # one body, seen with many headings through many cameras
    base = base - base[:1]
    yaw = rng.uniform(0, 2 * np.pi, 50)
    world = np.einsum("nij,kj->nki", yaw_to_rotmat(yaw - facing_yaw(base)), base)
    R = np.stack([random_rotation(rng) for _ in range(50)])
    cam = np.einsum("nij,nkj->nki", R, world)
    mean = MeanPose.fit(cam, R)
    np.testing.assert_allclose(mean.canonical, np.einsum("ij,kj->ki", yaw_to_rotmat(-facing_yaw(base)), base), atol=1e-6)
    np.testing.assert_allclose(mean.turned(cam, R), cam, atol=1e-6)  # one body: turning it is exact
    np.testing.assert_allclose(mean.in_camera(50)[0], cam.mean(axis=0))


def test_mean_2d_pose_is_placed_through_the_box_like_a_crop(rng):
    crop = CropSpec()
    joints = rng.uniform(0, crop.input_size, size=(J, 2))
    boxes = np.array([[300.0, 200.0, 150.0], [50.0, 400.0, 600.0]])
    placed = place_in_boxes(joints, boxes, crop)
    back = apply_affine(box_crop_affine(boxes, crop), placed)
    np.testing.assert_allclose(back, np.broadcast_to(joints, back.shape), atol=1e-9)


# -- a fabricated realval folder: rendered people with their true labels ----------------------------


def make_realval(root: Path, n: int = 3) -> Path:
    """``n`` rendered full frames in the realval format (the first without 3D, like Sports2D)."""
    from pose3d.data.synthetic import SynthConfig, SyntheticPoses

    ds = SyntheticPoses(SynthConfig(split="test", seed=3, length=n))
    (root / "frames").mkdir(parents=True)
    images = []
    for i in range(n):
        s = ds.render_full_frames([i])
        image = np.ascontiguousarray(s["image"][0].transpose(1, 2, 0)[..., ::-1])
        cv2.imwrite(str(root / "frames" / f"fake_cam01_{i:04d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        uv = s["joints_2d"][0].astype(np.float64)
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        torso = float(np.linalg.norm(uv[H36M17.index("Thorax")] - uv[H36M17.index("Hip")]))
        images.append({
            "file": f"frames/fake_cam01_{i:04d}.jpg", "source": "fake", "view": "cam01", "frame": i,
            "image_size_wh": [image.shape[1], image.shape[0]], "person_id": "rendered",
            "bbox_xywh_px": [*lo.tolist(), *(hi - lo).tolist()], "torso_px": torso, "joints_2d_px": uv.tolist(),
            "mediapipe_3d_cam_mm": (s["pose_rel"][0] * 1.1).tolist(),
            "triangulated_3d_cam_mm": None if i == 0 else s["pose_cam"][0].tolist(),
            "joint_agrees_with_3d": None if i == 0 else [True] * 16 + [False],
        })
    labels = {"name": "fake", "joint_names": list(H36M17.names), "images": images}
    (root / "labels.json").write_text(json.dumps(labels))
    (root / "stats.json").write_text(json.dumps({"multiperson_selected": {"label_noise_leave_one_out": {"pck02": 0.5}}}))
    return root


def test_fabricated_folder_end_to_end_with_onnx_and_checkpoint(tiny_onnx, tmp_path):
    from pose3d.realval.evaluate import evaluate_real, open_model

    root = make_realval(tmp_path / "rv")
    onnx = evaluate_real(open_model(tiny_onnx), root, tmp_path / "onnx")
    res = onnx.result
    assert res["frames"] == 3 and res["frames_with_3d"] == 2 and res["skipped"] == []
    rows = {r["predictor"]: r for r in res["summary"]}
    model = rows["model, the labelled box"]
    assert model["frames"] == 3 and model["found"] == 3 and model["p_mpjpe_frames"] == 2
    assert 0.0 <= model["pck"] <= 1.0 and np.isfinite(model["p_mpjpe"])
    # The peer row is the true pose scaled by 1.1: P-MPJPE removes the scale exactly.
    assert rows["MediaPipe monocular 3D (the labeller; peer)"]["p_mpjpe"] == pytest.approx(0.0, abs=0.01)
    assert rows["the labels' own noise (leave-one-view-out, stats.json)"]["pck"] == 0.5
    assert "mean training pose" in rows and "mean 2D training pose in the labelled box" in rows
    assert {p.name for p in onnx.paths} == {"realval.json", "realval.md", "realval_sheet.jpg"}
    assert cv2.imread(str(tmp_path / "onnx" / "realval_sheet.jpg")) is not None
    assert "| model, the labelled box |" in onnx.markdown
    # The checkpoint behind the same interface scores (nearly) the same as its export.
    ckpt = evaluate_real(open_model(tiny_onnx.parent / "finetune.pt"), root, tmp_path / "ckpt").result
    mine = {r["predictor"]: r for r in ckpt["summary"]}["model, the labelled box"]
    assert mine["p_mpjpe"] == pytest.approx(model["p_mpjpe"], abs=0.5)
    assert mine["mean_error_torso"] == pytest.approx(model["mean_error_torso"], abs=0.01)
    # Both say what verified the finder's people: the person head.
    for r in (res, ckpt):
        assert any(n.startswith("finder and tracking: the detector proposes and the person head's probability >= 0.75")
                   for n in r["notes"]), r["notes"]


def test_the_finder_note_says_what_verifies_its_people():
    from types import SimpleNamespace as NS

    from pose3d.realval.predict import finder_note

    confidence = finder_note(NS(model=NS(score_kind="the mean joint confidence")), NS(verify=True, min_score=0.75))
    assert "the mean joint confidence >= 0.75" in confidence and "no person head" in confidence
    assert "detector's own threshold" in finder_note(NS(model=NS(score_kind=None)), NS(verify=False, min_score=None))


def test_bad_input_is_skipped_with_reasons(tiny_onnx, tmp_path):
    root = make_realval(tmp_path / "rv", n=4)
    labels = json.loads((root / "labels.json").read_text())
    labels["images"][1]["joints_2d_px"][3][0] = float("nan")
    del labels["images"][2]["torso_px"]
    labels["images"].append("not an entry")
    (root / "labels.json").write_text(json.dumps(labels))
    (root / "frames" / "fake_cam01_0003.jpg").write_bytes(b"not a jpeg")
    data = read_realval(root)
    assert len(data.frames) == 2 and len(data.skipped) == 3
    reasons = {s["file"]: s["reason"] for s in data.skipped}
    assert "NaN" in reasons["frames/fake_cam01_0001.jpg"] and "'torso_px' missing" in reasons["frames/fake_cam01_0002.jpg"]
    r = CliRunner().invoke(eval_main, [str(tiny_onnx), "--real", str(root), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "out" / "realval.json").read_text())
    assert result["frames"] == 1 and len(result["skipped"]) == 4
    assert "frames/fake_cam01_0003.jpg" in {s["file"] for s in result["skipped"]}
    assert "## Skipped (4)" in (tmp_path / "out" / "realval.md").read_text()


def test_folders_that_are_not_realval_are_refused_clearly(tiny_onnx, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RealvalError, match="no labels.json"):
        read_realval(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "labels.json").write_text("{not json")
    r = CliRunner().invoke(eval_main, [str(tiny_onnx), "--real", str(bad), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "not readable JSON" in r.output and "Traceback" not in r.output
    (bad / "labels.json").write_text(json.dumps({"joint_names": ["a"], "images": []}))
    r = CliRunner().invoke(eval_main, [str(tiny_onnx), "--real", str(bad), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "17 Human3.6M joints" in r.output
    r = CliRunner().invoke(eval_main, [str(tiny_onnx), "--real", str(bad), "--video", "nonsense"])
    assert r.exit_code == 2 and "SOURCE/VIEW=FILE" in r.output
    r = CliRunner().invoke(eval_main, [str(tiny_onnx), "--data", str(bad)])
    assert r.exit_code == 2 and "training checkpoint" in r.output
    r = CliRunner().invoke(eval_main, [str(tiny_onnx), "--real", str(bad), "--data", str(bad)])
    assert r.exit_code == 2 and "give one" in r.output


def test_tracking_refuses_a_video_of_other_footage(tiny_onnx, tmp_path):
    from pose3d.realval.evaluate import evaluate_real, open_model

    root = make_realval(tmp_path / "rv", n=2)
    video = tmp_path / "other.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    res = evaluate_real(open_model(tiny_onnx), root, tmp_path / "o", {"fake/cam01": video}).result
    assert any("not the footage of fake/cam01" in n for n in res["notes"])
    assert "model, the runtime's tracking (video)" not in {r["predictor"] for r in res["summary"]}


@pytest.mark.slow
def test_shipped_model_on_the_shared_realval_set(tmp_path):
    root = SHARED / "realval"
    if not (root / "labels.json").is_file():
        pytest.skip("../shared/realval is not present")
    video = SHARED / "media" / "sports2d" / "demo.mp4"
    args = ["--real", str(root), "-o", str(tmp_path)]
    if video.is_file():
        args += ["--video", f"sports2d_demo/cam01={video}"]
    r = CliRunner().invoke(eval_main, args)
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "realval.json").read_text())
    stats = json.loads((root / "stats.json").read_text())["multiperson_selected"]
    assert res["frames"] == stats["n_images"] + 33 and res["frames_with_3d"] == stats["n_images"] and not res["skipped"]
    rows = {r["predictor"]: r for r in res["summary"]}
    # Our P-MPJPE on the labeller's own 3D agrees with the figure the labels' authors computed.
    peer = stats["mediapipe_3d_vs_triangulated"]["p_mpjpe_mm_mean"]
    assert rows["MediaPipe monocular 3D (the labeller; peer)"]["p_mpjpe"] == pytest.approx(peer, abs=0.1)
    assert rows["the labels' own noise (leave-one-view-out, stats.json)"]["pck"] == stats["label_noise_leave_one_out"]["pck02"]
    from pose3d_runtime.detector import default_detector_path

    if video.is_file() and default_detector_path().is_file():
        assert rows["model, the runtime's tracking (video)"]["frames"] == 33


def test_exported_model_on_the_synthetic_split_carries_its_baselines(tiny_onnx, tmp_path):
    r = CliRunner().invoke(eval_main, [str(tiny_onnx), "--samples", "24", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    table = json.loads((tmp_path / "tiny_test.json").read_text())
    assert table["samples"] == 24 and set(table["baselines"]) == {
        "mean training pose, camera frame", "mean training pose turned to the true heading"}
    assert "| mean training pose turned to the true heading |" in r.output
    r = CliRunner().invoke(eval_main, [str(tiny_onnx), "--flip"])
    assert r.exit_code == 2 and "training checkpoint" in r.output


def test_real_evaluation_of_an_export_needs_no_torch(tiny_onnx, tmp_path):
    from conftest import run_without_torch

    root = make_realval(tmp_path / "rv", n=2)
    done = run_without_torch(f"""
        from click.testing import CliRunner
        from pose3d.cli.eval import main
        r = CliRunner().invoke(main, [{str(tiny_onnx)!r}, "--real", {str(root)!r}, "-o", {str(tmp_path / "o")!r}])
        assert r.exit_code == 0, r.output
        import sys
        assert "torch" not in sys.modules
        print("ok")
    """)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr + done.stdout


def test_a_person_head_or_a_prior_given_as_the_model_gets_a_message(tiny_onnx, tmp_path):
    root = make_realval(tmp_path / "rv", n=1)
    for name in ("person.pt", "prior.pt"):
        r = CliRunner().invoke(eval_main, [str(tiny_onnx.parent / name), "--real", str(root), "-o", str(tmp_path / "o")])
        assert r.exit_code == 1 and "Traceback" not in r.output and name in r.output, r.output
    r = CliRunner().invoke(eval_main, [str(tiny_onnx.parent / "person.pt")])
    assert r.exit_code == 1 and "person" in r.output and "Traceback" not in r.output, r.output
