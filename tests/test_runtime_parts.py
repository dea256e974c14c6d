"""The runtime's parts: image reading, provider choice, the pose score, box sources, smoothing, drawing."""

import struct

import cv2
import numpy as np
import pytest

from pose3d.skeleton import H36M17
from pose3d_runtime import boxes, draw, model, score, smoothing
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


def test_box_geometry_helpers():
    assert boxes.box_iou(np.array([0.0, 0.0, 10.0]), np.array([5.0, 0.0, 10.0])) == pytest.approx(50 / 150)
    assert boxes.extent_iou(np.array([0.0, 0.0, 10.0, 10.0]), np.array([20.0, 0.0, 30.0, 10.0])) == 0.0
    np.testing.assert_allclose(boxes.box_extent(np.array([10.0, 20.0, 4.0])), [8.0, 18.0, 12.0, 22.0])
    np.testing.assert_allclose(boxes.parse_bbox("10,20,30,60", 0.2), [25.0, 50.0, 84.0])
    assert boxes.box_inside(np.array([320.0, 240.0, 100.0]), 640, 480)
    assert not boxes.box_inside(np.array([700.0, 240.0, 100.0]), 640, 480)


def test_box_ious_is_box_iou_for_every_pair(rng):
    """The tracker's one-call IoU matrix equals the pairwise IoU, empty lists included."""
    a = np.column_stack([rng.uniform(0, 100, (12, 2)), rng.uniform(1, 60, 12)])
    b = np.column_stack([rng.uniform(0, 100, (7, 2)), rng.uniform(1, 60, 7)])
    m = boxes.box_ious(list(a), list(b))
    assert m.shape == (12, 7) and (m > 0).any()
    for i in range(12):
        for j in range(7):
            assert m[i, j] == pytest.approx(boxes.box_iou(a[i], b[j]), abs=1e-12)
    assert boxes.box_ious(list(a), []).shape == (12, 0) and boxes.box_ious([], list(b)).shape == (0, 7)


def test_fixed_and_full_image_box_sources():
    frame = np.zeros((480, 640, 3), np.uint8)
    (t,) = boxes.FullImage().boxes(frame)
    # The whole frame, centred on the pixel grid (pixel centres at integers): pose3d.crop.frame_box.
    assert t.source == "full_image" and t.box.tolist() == [319.5, 239.5, 640.0]
    (t,) = boxes.FixedBox(np.array([100.0, 100.0, 50.0])).boxes(frame)
    assert t.source == "given" and t.box.tolist() == [100.0, 100.0, 50.0]
    with pytest.raises(ValueError, match="outside this 640 x 480 image"):
        boxes.FixedBox(np.array([1000.0, 100.0, 50.0])).boxes(frame)


def test_annotation_draws_every_person_and_insets(rng):
    img = np.zeros((240, 320, 3), np.uint8)
    pose = random_pose(rng)
    people = []
    for k, cx in enumerate((90.0, 230.0)):
        joints = 0.1 * pose[:, :2] + np.array([cx, 150.0])
        people.append(draw.Drawn(joints, pose - pose[0], np.array([cx, 150.0, 120.0]), None, f"#{k}", k))
    out = draw.annotate(img, people, H36M17.parents, H36M17.names, "x")
    assert (img == 0).all()  # the input is not touched
    s = 240 // 4  # two people: two insets, each a quarter of the shorter side
    assert out[:s, -s:].any() and out[:s, -2 * s:-s].any()
    assert out[130:170, 70:110].any() and out[130:170, 210:250].any()  # both skeletons
    assert (draw.annotate(img, [], H36M17.parents, H36M17.names) == 0).all()
    colours = draw.limb_colours(H36M17.names)
    assert colours[H36M17.names.index("LKnee")] == draw.LEFT and colours[H36M17.names.index("RKnee")] == draw.RIGHT
    assert colours[H36M17.names.index("Head")] == draw.CENTRE
