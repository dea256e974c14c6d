import numpy as np
import pytest
import torch

from pose3d.skeleton import (
    H36M17, H36M32, H36M32_TO_17, Skeleton, bone_lengths, facing_yaw, from_root_relative, h36m32_to_17,
    mirror, retarget, s9_bone_lengths, to_root_relative,
)
from pose3d.rotations import yaw_to_rotmat
from conftest import random_pose


def test_17_joints_match_the_documented_layout():
    # ../shared/h36m/FORMATS.md: order, parents and the 32-to-17 subset
    assert H36M17.names[:4] == ("Hip", "RHip", "RKnee", "RFoot")
    assert H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert H36M32_TO_17 == (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
    assert sorted(H36M17.left) == [4, 5, 6, 11, 12, 13]
    assert sorted(H36M17.right) == [1, 2, 3, 14, 15, 16]


def test_mirror_pairs_are_derived_from_names():
    for left, right in H36M17.mirror_pairs:
        assert H36M17.names[left] == "L" + H36M17.names[right][1:]
    perm = np.array(H36M17.mirror_permutation)
    assert (perm[perm] == np.arange(17)).all()  # an involution


def test_skeleton_rejects_bad_trees():
    with pytest.raises(ValueError):
        Skeleton.from_pairs([("A", None), ("B", "C")])
    with pytest.raises(ValueError):
        Skeleton.from_pairs([("A", None), ("B", "C"), ("C", "A")])  # parent after child
    with pytest.raises(KeyError, match="Nose"):
        H36M17.index("Nose")


def test_32_to_17_selects_by_name(rng):
    pose32 = rng.normal(size=(2, 32, 3))
    pose17 = h36m32_to_17(pose32)
    for j, name in enumerate(H36M17.names):
        np.testing.assert_array_equal(pose17[:, j], pose32[:, H36M32.index(name)])
    with pytest.raises(ValueError):
        h36m32_to_17(pose17)


def test_root_relative_round_trip(rng):
    pose = rng.normal(size=(4, 5, 17, 3)) * 500
    rel = to_root_relative(pose)
    assert np.allclose(rel[..., 0, :], 0)
    np.testing.assert_allclose(from_root_relative(rel, pose[..., 0, :]), pose)


def test_retarget_sets_lengths_and_keeps_directions(rng):
    pose = random_pose(rng, 8)
    lengths = s9_bone_lengths() * rng.uniform(0.8, 1.2, size=(8, 16))
    new = retarget(pose, lengths)
    np.testing.assert_allclose(bone_lengths(new), lengths, rtol=1e-10)
    for child, parent in H36M17.bones:
        d_old = pose[:, child] - pose[:, parent]
        d_new = new[:, child] - new[:, parent]
        cos = (d_old * d_new).sum(-1) / np.linalg.norm(d_old, axis=-1) / np.linalg.norm(d_new, axis=-1)
        np.testing.assert_allclose(cos, 1.0, atol=1e-12)


def test_torch_and_numpy_agree(rng):
    pose = random_pose(rng, 3)
    t = torch.tensor(pose, requires_grad=True)
    np.testing.assert_allclose(bone_lengths(t).detach().numpy(), bone_lengths(pose))
    out = retarget(t, s9_bone_lengths())
    out.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()


def test_mirror_twice_is_identity_and_swaps_sides(rng):
    pose = random_pose(rng, 2)
    np.testing.assert_allclose(mirror(mirror(pose)), pose)
    m = mirror(pose)
    np.testing.assert_allclose(m[:, H36M17.index("LWrist"), 0], -pose[:, H36M17.index("RWrist"), 0])
    np.testing.assert_allclose(bone_lengths(m), bone_lengths(pose))


def test_facing_yaw_follows_rotation_about_z(rng):
    pose = random_pose(rng)
    pose = pose - pose[0]
    # Give the hips a known orientation: left hip along +X.
    base = facing_yaw(pose)
    for yaw in (-2.5, -0.3, 0.0, 1.0, 3.0):
        turned = pose @ yaw_to_rotmat(yaw).T
        delta = np.angle(np.exp(1j * (facing_yaw(turned) - base - yaw)))
        assert abs(delta) < 1e-9
