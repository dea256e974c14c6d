from importlib import resources

import numpy as np
import pytest

from pose3d.data.bodies import BONE_RANGE_FACTOR, sample_bone_lengths
from pose3d.data.posebank import SPLITS, PoseBank, load_posebank
from pose3d.data.posebank_build import (
    DEFAULT_MIN_CHANGE_MM, activity_of, assign_splits, build_posebank, check_clip, discover_clips, read_clip, thin,
)
from pose3d.data.posebank_check import check_bank
from pose3d.metrics import mpjpe
from pose3d.skeleton import H36M17, bone_lengths, s9_bone_lengths
from mocap_fixtures import write_mocap_tree


@pytest.fixture(scope="module")
def fabricated_bank(tmp_path_factory):
    root = write_mocap_tree(tmp_path_factory.mktemp("mocap"), np.random.default_rng(7))
    return build_posebank(root, min_change_mm=5.0, seed=3)


def test_converter_skips_bad_clips_and_says_why(fabricated_bank):
    bank, report = fabricated_bank
    assert report.clips_read == 2 and bank.clip_names == ("daz_like/dance_b", "daz_like/walk_a")
    reasons = {path.split("/")[-1]: why for path, why in report.skipped.items()}
    assert set(reasons) == {"broken.bvh", "nans.bvh", "other_skeleton.bvh", "missing.bvh"}
    assert "malformed" in reasons["broken.bvh"] or "MOTION" in reasons["broken.bvh"]
    assert "non-finite" in reasons["nans.bvh"]
    assert "unknown skeleton" in reasons["other_skeleton.bvh"]
    assert "missing" in reasons["missing.bvh"]
    for path, why in report.skipped.items():
        assert path.split("/")[-1] in why or "missing" in why  # every message names its file


def test_converted_poses_are_plausible_bodies(fabricated_bank):
    bank, _ = fabricated_bank
    assert len(bank) > 20
    ratio = bone_lengths(bank.poses) / s9_bone_lengths()
    assert ratio.min() >= BONE_RANGE_FACTOR[0] and ratio.max() <= BONE_RANGE_FACTOR[1]
    # Each pose has its own body; left and right bones are equal.
    lengths = bone_lengths(bank.poses)
    names = H36M17.bone_names
    np.testing.assert_allclose(lengths[:, names.index("LHip-LKnee")], lengths[:, names.index("RHip-RKnee")], rtol=1e-5)
    assert np.unique(lengths[:, names.index("RHip-RKnee")].round(1)).size > len(bank) // 2
    np.testing.assert_allclose(bank.poses[:, 0], 0.0, atol=1e-4)  # pelvis at the origin
    assert {bank.activity_names[a] for a in bank.clip_activity} == {"walk", "dance"}
    checks = {c.name: c for c in check_bank(bank)}
    assert checks["finite"].passed and checks["bone lengths"].passed and checks["left/right"].passed


def test_world_poses_restore_heading_and_position(fabricated_bank):
    bank, _ = fabricated_bank
    world = bank.world_poses()
    np.testing.assert_allclose(world[:, 0], bank.root_world, atol=1e-3)
    np.testing.assert_allclose(bone_lengths(world), bone_lengths(bank.poses), rtol=1e-5)
    from pose3d.skeleton import facing_yaw

    np.testing.assert_allclose(np.cos(facing_yaw(bank.poses)), 1.0, atol=1e-5)  # canonical: facing -Y
    np.testing.assert_allclose(np.angle(np.exp(1j * (facing_yaw(world) - bank.yaw))), 0.0, atol=1e-4)


def test_build_is_deterministic(tmp_path, fabricated_bank):
    bank, _ = fabricated_bank
    root = write_mocap_tree(tmp_path, np.random.default_rng(7))
    again, _ = build_posebank(root, min_change_mm=5.0, seed=3)
    np.testing.assert_array_equal(again.poses, bank.poses)
    other_seed, _ = build_posebank(root, min_change_mm=5.0, seed=4)
    assert not np.array_equal(other_seed.poses, bank.poses)


def limb_direction_errors_deg(bank: PoseBank) -> np.ndarray:
    """(N, 8) angles between each limb of the 17-joint poses and the same limb of the T-pose turned by
    its driver rotation: the two descriptions of one pose must agree."""
    from pose3d.mocap.drivers import DRIVERS, rest_directions

    limbs = {"l_thigh": ("LHip", "LKnee"), "r_thigh": ("RHip", "RKnee"), "l_shin": ("LKnee", "LFoot"),
             "r_shin": ("RKnee", "RFoot"), "l_upper_arm": ("LShoulder", "LElbow"), "r_upper_arm": ("RShoulder", "RElbow"),
             "l_forearm": ("LElbow", "LWrist"), "r_forearm": ("RElbow", "RWrist")}
    R = bank.driver_rotations()
    rest = rest_directions()
    out = []
    for driver, (a, b) in limbs.items():
        v = bank.poses[:, H36M17.index(b)] - bank.poses[:, H36M17.index(a)]
        v = v / np.linalg.norm(v, axis=-1, keepdims=True)
        d = DRIVERS.index(driver)
        w = np.einsum("nij,j->ni", R[:, d], rest[d])
        out.append(np.degrees(np.arccos(np.clip((v * w).sum(-1), -1.0, 1.0))))
    return np.stack(out, axis=-1)


def test_driver_rotations_agree_with_the_joint_positions(fabricated_bank):
    bank, _ = fabricated_bank
    assert bank.rotations is not None and bank.rotations.shape == (len(bank), 21, 3)
    assert limb_direction_errors_deg(bank).max() < 0.2


def test_save_load_round_trip(tmp_path, fabricated_bank):
    bank, _ = fabricated_bank
    bank.save(tmp_path / "b.npz")
    loaded = PoseBank.load(tmp_path / "b.npz")
    assert np.abs(loaded.poses - bank.poses).max() <= 0.125 + 1e-4  # quantised to 0.25 mm
    np.testing.assert_array_equal(loaded.rotations, bank.rotations)
    np.testing.assert_array_equal(loaded.subset([2, 0]).rotations, bank.rotations[[2, 0]])
    # A bank written before rotations were kept still loads; asking it for rotations says what to do.
    from dataclasses import replace

    from pose3d.data.posebank import PoseBankError

    replace(bank, rotations=None).save(tmp_path / "old.npz")
    old = PoseBank.load(tmp_path / "old.npz")
    assert old.rotations is None and len(old) == len(bank)
    with pytest.raises(PoseBankError, match="old.npz.*pose3d-posebank build"):
        old.driver_rotations()
    assert loaded.clip_names == bank.clip_names and loaded.meta["seed"] == 3
    np.testing.assert_array_equal(loaded.split, bank.split)
    (tmp_path / "junk.npz").write_bytes(b"not a bank")
    with pytest.raises(ValueError, match="junk.npz"):
        PoseBank.load(tmp_path / "junk.npz")


def test_thin_keeps_frames_that_moved_enough():
    base = np.zeros((1, 17, 3))
    steps = np.array([0, 3, 6, 9, 12, 30, 31, 60], dtype=float)
    poses = base + steps[:, None, None] * np.array([1.0, 0.0, 0.0])
    kept = thin(poses, 10.0)
    np.testing.assert_array_equal(kept, [0, 4, 5, 7])
    for a, b in zip(kept[:-1], kept[1:]):
        assert mpjpe(poses[b], poses[a]) >= 10.0


def test_activity_rules():
    assert activity_of("salsa dance (couple)") == "dance"
    assert activity_of("jumping jacks, side twists, squats, jog") == "exercise"
    assert activity_of("playground - climb, sit, dangle legs") == "climb"
    assert activity_of("jump up to grab, reach for, tiptoe") == "everyday actions"
    assert activity_of("brisk walk") == "walk"
    assert activity_of("juggling") == "other"


def test_split_assignment_is_stratified_and_deterministic():
    groups = {f"g{i}": "walk" for i in range(10)} | {f"d{i}": "dance" for i in range(3)} | {"x": "run"}
    a = assign_splits(groups)
    assert a == assign_splits(dict(reversed(list(groups.items()))))
    walk = [a[g] for g in groups if groups[g] == "walk"]
    assert walk.count("test") == 1 and walk.count("val") == 1
    dance = [a[g] for g in groups if groups[g] == "dance"]
    assert dance.count("test") == 1 and dance.count("val") == 0
    assert a["x"] == "train"


def test_body_sampler_is_symmetric_and_bounded(rng):
    L = sample_bone_lengths(rng, 5000)
    names = H36M17.bone_names
    for left, right in (("LHip-LKnee", "RHip-RKnee"), ("LShoulder-LElbow", "RShoulder-RElbow")):
        np.testing.assert_array_equal(L[:, names.index(left)], L[:, names.index(right)])
    ratio = L / s9_bone_lengths()
    assert ratio.min() > BONE_RANGE_FACTOR[0] and ratio.max() < BONE_RANGE_FACTOR[1]
    stature = L[:, [names.index("RHip-RKnee"), names.index("RKnee-RFoot"), names.index("Hip-Spine")]].sum(-1)
    assert 0.05 < stature.std() / stature.mean() < 0.09


# -- the bank shipped in the package ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    return load_posebank()


def test_shipped_bank_meets_its_targets(shipped):
    path = resources.files("pose3d").joinpath("assets/posebank.npz")
    assert path.stat().st_size <= 10e6  # 7.7 MB: poses 3.1, driver rotations 3.9
    assert len(shipped) >= 30_000
    assert len(shipped.clip_names) >= 80
    assert shipped.meta["min_change_mm"] == DEFAULT_MIN_CHANGE_MM
    assert "mocap.cs.cmu.edu" in shipped.meta["acknowledgement"]
    for check in check_bank(shipped):
        assert check.passed, f"{check.name}: {check.detail}"
    # Both mocap formats give rotations that agree with the positions (int16 storage: < 0.2 degrees).
    assert limb_direction_errors_deg(shipped).max() < 0.2


def test_shipped_splits_are_clip_level_and_keep_couples_together(shipped):
    for split in SPLITS:
        assert len(shipped.select(split=split)) > 0
    clip_splits = {}
    for c, s in zip(shipped.clip, shipped.split):
        clip_splits.setdefault(int(c), set()).add(int(s))
    assert all(len(s) == 1 for s in clip_splits.values())
    names = shipped.clip_names
    if "cmu_acrnn/salsa_01" in names and "cmu_acrnn/salsa_16" in names:
        assert shipped.clip_split[names.index("cmu_acrnn/salsa_01")] == shipped.clip_split[names.index("cmu_acrnn/salsa_16")]
    with pytest.raises(ValueError, match="holdout"):
        shipped.select(split="holdout")


# -- real motion capture (../shared/mocap) ---------------------------------------------------------


def test_real_clips_of_both_formats_read_and_check(shared_mocap):
    clips, problems = discover_clips(shared_mocap)
    assert not problems and len(clips) >= 80
    by_kind = {}
    for clip in clips:
        by_kind.setdefault(clip.kind, clip)
    assert set(by_kind) == {"bvh", "cmu38"}
    for clip in by_kind.values():
        motion = read_clip(clip)
        check_clip(clip.path, motion)
        # Both skeletons land Z up: the head is above the pelvis, the ankles below it.
        assert (motion.poses[:, H36M17.index("Head"), 2] > motion.poses[:, 0, 2]).mean() > 0.9
        assert (motion.poses[:, H36M17.index("RFoot"), 2] < motion.poses[:, 0, 2]).mean() > 0.9
    salsa = [c for c in clips if c.clip_id.endswith("salsa_01")]
    assert salsa and salsa[0].fps == 60.0


@pytest.mark.slow
def test_shipped_bank_is_what_the_converter_builds(shared_mocap, shipped):
    rebuilt, report = build_posebank(shared_mocap, seed=int(shipped.meta["seed"]))
    assert not report.skipped
    assert rebuilt.clip_names == shipped.clip_names
    np.testing.assert_array_equal(rebuilt.clip, shipped.clip)
    assert np.abs(rebuilt.poses - shipped.poses).max() <= 0.125 + 1e-3
    assert np.abs(rebuilt.rotations.astype(np.int32) - shipped.rotations).max() <= 1
