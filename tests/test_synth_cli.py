import json

import cv2
import numpy as np
from click.testing import CliRunner

from pose3d.cli.synth import main
from pose3d.data.posebank import load_posebank
from pose3d.skeleton import bone_lengths
from pose3d.synth.motion import clip_motion


def test_samples_write_images_and_labels(tmp_path):
    result = CliRunner().invoke(main, ["samples", "-o", str(tmp_path), "-n", "5", "--sheet", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "images").glob("*.png"))) == 5
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert len(labels["samples"]) == 5 and len(labels["samples"][0]["pose_cam_mm"]) == 17
    npz = np.load(tmp_path / "labels.npz")
    assert npz["pose_cam"].shape == (5, 17, 3) and list(npz["image_file"]) == [f"{i:06d}.png" for i in range(5)]
    img = cv2.imread(str(tmp_path / "images" / "000003.png"))
    assert img.shape == (112, 112, 3)
    assert (tmp_path / "sheet.png").exists()


def test_full_frames_match_their_camera(tmp_path):
    result = CliRunner().invoke(main, ["samples", "-o", str(tmp_path), "-n", "2", "--full-frame"])
    assert result.exit_code == 0, result.output
    labels = json.loads((tmp_path / "labels.json").read_text())["samples"]
    for rec in labels:
        img = cv2.imread(str(tmp_path / rec["file"]))
        c = np.array(rec["camera"]["c"])
        assert abs(img.shape[1] / 2 - c[0]) < 0.05 * img.shape[1]  # principal point near the centre
        uv = np.array(rec["joints_2d_px"])
        assert ((uv > 0) & (uv < [img.shape[1], img.shape[0]])).mean() > 0.9


def test_video_and_its_labels(tmp_path):
    out = tmp_path / "clip.mp4"
    result = CliRunner().invoke(main, ["video", "-o", str(out), "--seconds", "0.5", "--fps", "20", "--size", "160x120"])
    assert result.exit_code == 0, result.output
    cap = cv2.VideoCapture(str(out))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == 10
    lines = out.with_suffix(".jsonl").read_text().splitlines()
    assert len(lines) == 10 and "camera" in json.loads(lines[0])


def test_video_bad_arguments(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["video", "-o", str(tmp_path / "a.mp4"), "--clip", "nope"])
    assert r.exit_code == 1 and "nope" in r.output and "Traceback" not in r.output
    r = runner.invoke(main, ["video", "-o", str(tmp_path / "a.mp4"), "--clip", "cmu_daz_ateliercircle/07_01", "--seconds", "30"])
    assert r.exit_code == 1 and "lasts" in r.output
    r = runner.invoke(main, ["video", "-o", str(tmp_path / "a.mp4"), "--size", "big"])
    assert r.exit_code == 2 and "WIDTHxHEIGHT" in r.output


def test_clip_motion_keeps_one_body_and_moves_smoothly():
    bank = load_posebank()
    poses = clip_motion(bank, "cmu_daz_ateliercircle/09_12", fps=30, seconds=2)
    assert poses.shape == (60, 17, 3)
    lengths = bone_lengths(poses)
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), rtol=1e-9)
    step = np.linalg.norm(np.diff(poses, axis=0), axis=-1).max()
    assert step < 150.0  # mm per frame at 30 fps: no jumps


def test_a_skinned_person_walks_through_a_room_smoothly(tmp_path):
    out = tmp_path / "walk.mp4"
    r = CliRunner().invoke(main, ["video", "-o", str(out), "--bodies", "anny", "--seconds", "1", "--fps", "20",
                                  "--size", "160x120"])
    assert r.exit_code == 0, r.output
    labels = [json.loads(line) for line in out.with_suffix(".jsonl").read_text().splitlines()]
    assert len(labels) == 20 and all(all(rec["visible"]) for rec in labels)  # framed: every joint in view
    joints = np.array([rec["pose_cam_mm"] for rec in labels])
    from pose3d.skeleton import H36M17

    limbs = [H36M17.bone_names.index(n) for n in ("LHip-LKnee", "RKnee-RFoot", "LShoulder-LElbow", "RElbow-RWrist")]
    lengths = bone_lengths(joints)[:, limbs]  # the limb bones are rigid in the rig: one body throughout
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), rtol=1e-3)
    assert np.linalg.norm(np.diff(joints, axis=0), axis=-1).max() < 250.0  # no jumps: a foot swings < 5 m/s
    assert np.linalg.norm(joints[-1, 0] - joints[0, 0]) > 300.0  # and the person walks
    r = CliRunner().invoke(main, ["video", "-o", str(tmp_path / "b.mp4"), "--bodies", "anny", "--clip", "nope"])
    assert r.exit_code == 1 and "nope" in r.output
