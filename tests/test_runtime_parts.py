"""The runtime's parts: image reading, provider choice, the pose score, tracking, smoothing, drawing."""

import struct

import cv2
import numpy as np
import pytest

from pose3d.skeleton import H36M17
from pose3d_runtime import detect, draw, model, score, smoothing
from pose3d_runtime.sources import ImageError, list_inputs, read_image
from conftest import random_pose


def exif_jpeg(image: np.ndarray, orientation: int) -> bytes:
    """A JPEG with an EXIF APP1 segment holding only the orientation tag."""
    ok, buf = cv2.imencode(".jpg", image)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    data = buf.tobytes()
    return data[:2] + app1 + data[2:]


def test_read_image_handles_the_formats_users_have(tmp_path, rng):
    img = rng.integers(0, 256, size=(20, 40, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), img[..., 0])
    cv2.imwrite(str(tmp_path / "rgba.png"), np.dstack([img, np.full(img.shape[:2], 128, np.uint8)]))
    cv2.imwrite(str(tmp_path / "deep.png"), img.astype(np.uint16) * 257)
    (tmp_path / "rot.jpg").write_bytes(exif_jpeg(img, 6))  # "rotate 90 degrees clockwise to display"
    gray, rgba, deep, rot = (read_image(tmp_path / n) for n in ("gray.png", "rgba.png", "deep.png", "rot.jpg"))
    assert gray.shape == (20, 40, 3) and (gray[..., 0] == img[..., 0]).all() and (gray[..., 2] == img[..., 0]).all()
    assert rgba.shape == (20, 40, 3) and (rgba == img).all()
    assert deep.dtype == np.uint8 and (deep == img).all()
    assert rot.shape == (40, 20, 3)  # EXIF orientation honoured
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(ImageError, match="empty"):
        read_image(tmp_path / "empty.jpg")
    with pytest.raises(ImageError, match="not a decodable image"):
        read_image(tmp_path / "junk.png")


def test_inputs_are_listed_recursively_in_a_fixed_order(tmp_path):
    for rel in ("b/2.jpg", "a.PNG", "b/1.jpg", ".git/x.jpg", "b/.hidden.png", "doc.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = list_inputs(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found.images] == ["a.PNG", "b/1.jpg", "b/2.jpg"]
    assert [p.name for p in found.ignored] == ["doc.txt"] and found.unreadable == []


def test_cpu_only_machines_never_ask_for_cuda(capfd):
    assert model.choose_providers("cpu") == [model.CPU]
    if not model._cuda_driver_loads():  # this CPU-only machine
        assert model.choose_providers("auto") == [model.CPU]
        with pytest.raises(model.ModelError, match="CUDA"):
            model.choose_providers("cuda")
    with pytest.raises(ValueError):
        model.choose_providers("tpu")
    assert "CUDA" not in capfd.readouterr().err


def test_score_is_one_for_agreeing_heads_and_lower_otherwise(rng):
    pose = random_pose(rng, 8)
    joints = 0.1 * pose[..., :2] + np.array([56.0, 60.0])  # a weak-perspective view of the 3D pose
    assert np.allclose(score.agreement(pose, joints), 0, atol=1e-9)
    assert np.allclose(score.score(pose, joints), 1.0)
    other = joints + rng.normal(scale=20.0, size=joints.shape)
    s = score.score(pose, other)
    assert ((s > 0) & (s < 0.9)).all()
    mirrored = -joints  # a mirrored fit is no agreement
    assert (score.score(pose, mirrored) < 0.5).all()


def test_one_euro_filter_smooths_jitter_and_follows_motion(rng):
    f = smoothing.OneEuroFilter(min_cutoff=1.0, beta=0.0)  # at rest: a 1 Hz low-pass on 30 Hz samples
    t = np.arange(300) / 30.0
    noisy = 100.0 + rng.normal(scale=5.0, size=300)
    out = np.array([f(np.array([x]), ti)[0] for x, ti in zip(noisy, t)])
    assert out[60:].std() < 0.5 * noisy[60:].std()
    f = smoothing.OneEuroFilter(min_cutoff=1.0, beta=0.05)
    step = np.where(t < 5, 0.0, 500.0)
    out = np.array([f(np.array([x]), ti)[0] for x, ti in zip(step, t)])
    assert abs(out[-1] - 500.0) < 1.0  # it settles on the new value


class FixedDetector:
    def __init__(self, box=None):
        self.box, self.calls = box, 0

    def __call__(self, frame):
        self.calls += 1
        return None if self.box is None else detect.Detection(np.array(self.box), 1.5)


def test_tracker_follows_joints_within_limits_and_drops_lost_tracks():
    det = FixedDetector()
    tr = detect.Tracker(det, margin=0.2, min_score=0.3, check_every=0)
    frame = np.zeros((480, 640, 3), np.uint8)
    assert tr.candidates(frame) == []
    det.box = [320.0, 200.0, 260.0]
    (c,) = tr.candidates(frame)
    assert c.source == "detected" and tr.choose([c], [0.9]) == 0
    joints = np.array([[300.0, 100.0], [340.0, 300.0]])  # extent 200 -> box side 280
    tr.update(joints, 0.9, frame.shape, c.box)
    np.testing.assert_allclose(tr.box, [320.0, 200.0, 260.0 + detect.Tracker.GAIN * 20.0])  # part of the way
    assert [x.source for x in tr.candidates(frame)] == ["tracked"] and det.calls == 2
    used = tr.box.copy()
    collapsed = joints.mean(0) + 0.1 * (joints - joints.mean(0))
    tr.update(collapsed, 0.9, frame.shape, used)  # a collapsed prediction: the side is held back
    assert tr.box[2] == pytest.approx(used[2] / detect.Tracker.MAX_SCALE_STEP)
    tr.update(joints, 0.1, frame.shape, used)  # a low score drops the track
    assert tr.box is None
    tr.box = used
    tr.update(joints + 2000.0, 0.9, frame.shape, used)  # so does leaving the frame
    assert tr.box is None


def test_tracker_waits_between_detections_while_nobody_is_found():
    det = FixedDetector()
    tr = detect.Tracker(det, margin=0.2, min_score=0.3, retry_every=3)
    frame = np.zeros((480, 640, 3), np.uint8)
    assert [tr.candidates(frame) for _ in range(7)] == [[]] * 7
    assert det.calls == 3  # frames 0, 3, 6
    det.box = [320.0, 200.0, 260.0]
    assert tr.candidates(frame) == [] and det.calls == 3  # frame 7 waits
    assert tr.candidates(frame) == [] and tr.candidates(frame)[0].source == "detected" and det.calls == 4


def test_tracker_checks_the_track_against_the_detector_and_keeps_the_better():
    det = FixedDetector([100.0, 100.0, 150.0])
    tr = detect.Tracker(det, margin=0.2, min_score=0.3, check_every=3)
    frame = np.zeros((480, 640, 3), np.uint8)
    tr.box = np.array([400.0, 250.0, 150.0])
    assert [len(tr.candidates(frame)) for _ in range(2)] == [1, 1] and det.calls == 0
    both = tr.candidates(frame)  # the third frame: the detector disagrees, both are tried
    assert [c.source for c in both] == ["tracked", "detected"] and det.calls == 1
    assert tr.choose(both, [0.4, 0.8]) == 1
    det.box = [402.0, 251.0, 150.0]  # agreeing with the track: only the track is tried
    tr.box = np.array([400.0, 250.0, 150.0])
    assert [len(tr.candidates(frame)) for _ in range(3)] == [1, 1, 1] and det.calls == 2
    assert detect.box_iou(np.array([0.0, 0.0, 10.0]), np.array([5.0, 0.0, 10.0])) == pytest.approx(50 / 150)


def test_hog_box_geometry():
    box = detect.hog_to_person_box(np.array([100.0, 50.0, 64.0, 128.0]), margin=0.2)
    np.testing.assert_allclose(box, [132.0, 114.0, detect.JOINT_EXTENT * 128 * 1.4])


def test_annotation_draws_skeleton_and_inset(rng):
    img = np.zeros((240, 320, 3), np.uint8)
    pose = random_pose(rng)
    joints = 0.1 * pose[:, :2] + np.array([160.0, 120.0])
    out = draw.annotate(img, joints, pose - pose[0], np.array([160.0, 120.0, 200.0]), H36M17.parents, H36M17.names, "x")
    assert (img == 0).all()  # the input is not touched
    assert out[:80, -80:].any() and out[100:140, 140:180].any()
    colours = draw.limb_colours(H36M17.names)
    assert colours[H36M17.names.index("LKnee")] == draw.LEFT and colours[H36M17.names.index("RKnee")] == draw.RIGHT
    assert colours[H36M17.names.index("Head")] == draw.CENTRE
