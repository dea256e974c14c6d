"""Human3.6M: names, splits, and prepare on the three fabricated layouts (labels, crops, storage)."""

import json

import cv2
import numpy as np
import pytest

from pose3d.camera import H36M_CAMERA_IDS, load_h36m_cameras
from pose3d.crop import CropSpec
from pose3d.data.h36m import PreparedH36M, make_split, parse_action, prepare
from pose3d.data.h36m import store
from pose3d.data.h36m.layout import LayoutError, detect_layout
from pose3d.data.h36m.names import UnknownAction, action_from_index
from h36m_fixtures import ACTIONS, foreground, foreground_centre, fixture_cameras, jpeg_tree, npz_tree, official_tree  # noqa: F401

SPLIT = make_split("protocol1", train_every=5, test_every=8)
SUBJECTS = ("S1", "S11")


def test_action_names_are_normalised():
    assert parse_action("TakingPhoto 1") == ("Photo", 1)
    assert parse_action("WalkingDog") == ("WalkDog", 0)
    assert parse_action("walktogether 2") == ("WalkTogether", 2)
    assert parse_action("SittingDown") == ("SittingDown", 0)
    assert action_from_index(2) == "Directions" and action_from_index(16) == "WalkTogether"
    with pytest.raises(UnknownAction, match="Dancing"):
        parse_action("Dancing 1")
    with pytest.raises(UnknownAction):
        action_from_index(17)


def test_splits_and_strides():
    p1, seed = make_split("protocol1"), make_split("seed")
    assert p1.train == ("S1", "S5", "S6", "S7", "S8") and p1.test == ("S9", "S11")
    assert seed.train[-1] == "S9" and seed.test == ("S11",)
    assert p1.every("S1") == 5 and p1.every("S9") == 64
    assert "every 5th frame" in p1.describe() and "every 64th frame" in p1.describe()
    custom = make_split("protocol1", 10, 32, train=["1", "S5"], test=["s9"])
    assert custom.train == ("S1", "S5") and custom.test == ("S9",) and custom.every("S9") == 32
    with pytest.raises(ValueError, match="both"):
        make_split("protocol1", train=["S1"], test=["S1"])


def test_layouts_are_detected(official_tree, jpeg_tree, npz_tree, tmp_path):
    assert detect_layout(official_tree.root) == "official"
    assert detect_layout(jpeg_tree.root) == "jpeg"
    assert detect_layout(npz_tree.root) == "npz"
    with pytest.raises(LayoutError, match="none of the Human3.6M layouts"):
        detect_layout(tmp_path)


def _check_labels(ds: PreparedH36M, fixture, every: dict[str, int], cams) -> None:
    """Every stored sample's labels are those of the fabricated recording it came from."""
    for c in ds.manifest["chunks"]:
        rows = np.arange(ds.starts[ds.chunks.index(c["id"])], ds.starts[ds.chunks.index(c["id"]) + 1])
        source = next(a for a in ACTIONS if parse_action(a)[0] == c["action"])
        truth = fixture.poses[(c["subject"], source)]
        frames = ds.frame[rows]
        np.testing.assert_array_equal(frames, np.arange(0, len(truth), every[c["subject"]]))
        np.testing.assert_allclose(ds.pose_world[rows], truth[frames], atol=0.05)
        cam = cams[c["subject"]][H36M_CAMERA_IDS.index(c["camera"])]
        np.testing.assert_allclose(ds.pose_cam[rows], cam.world_to_camera(truth[frames]), atol=0.05)
        np.testing.assert_allclose(ds.joints_2d[rows], cam.project(truth[frames]), atol=0.02)


def _check_crops_centred(ds: PreparedH36M) -> None:
    batch = ds.samples(np.arange(len(ds)))  # central 112 sub-crops
    for image, joints in zip(batch["image"], batch["joints_2d"]):
        centre, share = foreground_centre(image.transpose(1, 2, 0))
        assert share > 0.05  # the person is there ...
        assert np.abs(centre - 55.5).max() < 16, centre  # ... in the middle of the crop
        mask = cv2.dilate(foreground(image.transpose(1, 2, 0)).astype(np.uint8), np.ones((5, 5), np.uint8))
        j = np.clip(np.round(joints).astype(int), 0, 111)
        assert mask[j[:, 1], j[:, 0]].mean() >= 0.8  # and the 2D labels sit on the body
        assert joints.min() > 0 and joints.max() < 111


def test_official_layout_prepares_with_labels_and_centred_crops(official_tree, tmp_path):
    report = prepare(official_tree.root, tmp_path / "p", SPLIT, subjects=SUBJECTS, progress=False)
    assert not report.problems
    notes = "\n".join(report.notes)
    assert "skipped S11 Directions 1" in notes  # the known-corrupted videos
    assert "33 frames, pose data 30: truncated to 30" in notes  # videos longer than the pose data
    ds = PreparedH36M(tmp_path / "p")
    # S1: 2 actions x 4 cameras x 6 frames (every 5th of 30); S11: WalkDog x 4 cameras x 4 (every 8th).
    assert ds.manifest["counts"]["subject"] == {"S1": 48, "S11": 16}
    assert ds.manifest["counts"]["action"] == {"Directions": 24, "WalkDog": 40}
    assert set(ds.manifest["counts"]["camera"]) == set(H36M_CAMERA_IDS)
    assert len(ds.rows("train")) == 48 and len(ds.rows("test")) == 16
    cams = {s: fixture_cameras(s) for s in SUBJECTS}
    _check_labels(ds, official_tree, {"S1": 5, "S11": 8}, cams)
    _check_crops_centred(ds)
    meta = store.read_meta(tmp_path / "p", "S1.WalkDog.0.55011271")
    assert meta["take"] == 0 and meta["role"] == "train" and meta["camera_parameters"]["image_size"] == [250, 250]


def test_jpeg_layout_prepares_with_annotation_boxes(jpeg_tree, tmp_path):
    report = prepare(jpeg_tree.root, tmp_path / "p", SPLIT, subjects=SUBJECTS, progress=False)
    assert not report.problems and report.layout == "jpeg"
    ds = PreparedH36M(tmp_path / "p")
    assert ds.manifest["counts"]["subject"] == {"S1": 32, "S11": 24}  # 20 frames: 4 (every 5th), 3 (every 8th)
    assert sorted(set(ds.take.tolist())) == [1, 2]
    from pose3d.camera import Camera

    cams = {s: [Camera(c.R, c.t, c.f, c.c, size=c.size) for c in fixture_cameras(s)] for s in SUBJECTS}  # no distortion
    _check_labels(ds, jpeg_tree, {"S1": 5, "S11": 8}, cams)
    _check_crops_centred(ds)


def test_npz_layout_prepares_poses_only(npz_tree, tmp_path):
    report = prepare(npz_tree.root, tmp_path / "p", SPLIT, subjects=SUBJECTS, progress=False)
    assert not report.problems
    ds = PreparedH36M(tmp_path / "p")
    assert not ds.has_images and not (tmp_path / "p" / "chunks" / "S1.Directions.1.54138969" / "crops.npy").exists()
    assert ds.manifest["counts"]["subject"] == {"S1": 2 * 4 * 8, "S11": 2 * 4 * 5}  # 40 frames
    _check_labels(ds, npz_tree, {"S1": 5, "S11": 8}, load_h36m_cameras())  # the bundled, full-size cameras
    with pytest.raises(store.PreparedSetError, match="3D poses only"):
        ds.crops([0])


def test_interrupted_prepare_resumes_and_matches_a_straight_run(official_tree, tmp_path):
    straight = prepare(official_tree.root, tmp_path / "a", SPLIT, subjects=SUBJECTS, progress=False)
    part = prepare(official_tree.root, tmp_path / "b", SPLIT, subjects=SUBJECTS, progress=False, max_units=5)
    assert part.manifest is None and not (tmp_path / "b" / "manifest.json").exists()
    with pytest.raises(store.PreparedSetError, match="unfinished"):
        PreparedH36M(tmp_path / "b")
    # A crash in the middle of writing a chunk leaves only a temporary folder behind.
    (tmp_path / "b" / "chunks" / ".tmp-S1.WalkDog.0.54138969").mkdir()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "b" / "chunks").iterdir() if not p.name.startswith(".")}
    rest = prepare(official_tree.root, tmp_path / "b", SPLIT, subjects=SUBJECTS, progress=False)
    assert len(rest.skipped) == 5 and len(rest.written) == len(straight.written) - 5
    assert all((tmp_path / "b" / "chunks" / n).stat().st_mtime_ns == t for n, t in before.items())
    assert not list((tmp_path / "b" / "chunks").glob(".tmp-*"))
    a, b = PreparedH36M(tmp_path / "a"), PreparedH36M(tmp_path / "b")
    assert a.manifest["counts"] == b.manifest["counts"]
    np.testing.assert_array_equal(a.crops(np.arange(len(a))), b.crops(np.arange(len(b))))
    # Other options into the same folder are refused.
    with pytest.raises(store.PreparedSetError, match="other options"):
        prepare(official_tree.root, tmp_path / "b", make_split(train_every=2), subjects=SUBJECTS, progress=False)


def test_random_access_batches(official_tree, tmp_path):
    prepare(official_tree.root, tmp_path / "p", SPLIT, subjects=SUBJECTS, progress=False)
    ds = PreparedH36M(tmp_path / "p")
    rows = np.array([40, 3, 17, 3])
    whole = ds.crops(rows)  # (B, 128, 128, 3)
    offsets = ds.random_offsets(np.random.default_rng(0), 4, 112)
    batch = ds.samples(rows, 112, offsets)
    assert batch["image"].shape == (4, 3, 112, 112) and batch["image"].dtype == np.uint8
    for i, (dx, dy) in enumerate(offsets):
        np.testing.assert_array_equal(batch["image"][i], whole[i, dy : dy + 112, dx : dx + 112].transpose(2, 0, 1))
    # 2D joints follow the sub-crop; the root-relative pose has its pelvis at the origin.
    full = ds.samples(rows, 128)["joints_2d"]
    np.testing.assert_allclose(batch["joints_2d"], full - offsets[:, None, :], atol=1e-3)
    assert np.abs(batch["pose_rel"][:, 0]).max() == 0
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["total"] == len(ds) == sum(c["count"] for c in manifest["chunks"])
    assert CropSpec().size == ds.crop_size
