"""Driver rotations (pose3d.mocap.drivers) and the rotation helpers they use."""

import numpy as np
import pytest

from conftest import SHARED, random_rotation
from pose3d.mocap.drivers import DRIVERS, decode_rotations, encode_rotations, rest_directions
from pose3d.rotations import rotation_between, rotmat_to_rotvec, rotvec_to_rotmat


def test_rotvec_round_trip_including_near_half_turns(rng):
    v = rng.normal(size=(500, 3))
    v *= rng.uniform(0, np.pi, (500, 1)) / np.linalg.norm(v, axis=-1, keepdims=True)
    v[:20] *= np.pi * (1 - 1e-7) / np.linalg.norm(v[:20], axis=-1, keepdims=True)  # half turns
    v[20:25] = 0.0
    R = rotvec_to_rotmat(v)
    np.testing.assert_allclose(rotvec_to_rotmat(rotmat_to_rotvec(R)), R, atol=1e-5)
    assert (np.linalg.norm(rotmat_to_rotvec(R), axis=-1) <= np.pi + 1e-9).all()


def test_rotation_between_is_the_smallest_turn(rng):
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    M = rotation_between(a, b)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(np.einsum("nij,nj->ni", M, unit(a)), unit(b), atol=1e-12)
    # No twist: the axis is perpendicular to both, the angle the one between them.
    axis = rotmat_to_rotvec(M)
    np.testing.assert_allclose(np.einsum("ni,ni->n", axis, a), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(axis, axis=-1), np.arccos(np.einsum("ni,ni->n", unit(a), unit(b))), atol=1e-9)
    opposite = rotation_between(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -2.0]))
    np.testing.assert_allclose(opposite @ [0.0, 0.0, 1.0], [0.0, 0.0, -1.0], atol=1e-12)


def test_encoded_rotations_round_trip(rng):
    R = np.stack([random_rotation(rng) for _ in range(40)]).reshape(2, 20, 3, 3)
    q = encode_rotations(R)
    assert q.dtype == np.int16 and q.shape == (2, 20, 3)
    np.testing.assert_allclose(decode_rotations(q), R, atol=2e-4)


def test_t_pose_directions_are_a_t_pose():
    d = dict(zip(DRIVERS, rest_directions()))
    for side, sign in (("l", 1.0), ("r", -1.0)):
        assert sign * d[f"{side}_upper_arm"][0] > 0.99 and d[f"{side}_thigh"][2] < -0.99  # arms out, legs down
        assert d[f"{side}_foot"][1] < -0.9  # feet forward (-Y)
    assert d["chest"][2] > 0.99 and d["head"][2] == 1.0


def _segment_errors_deg(drivers, positions_z_up, pairs):
    rest = rest_directions()
    worst = 0.0
    for driver, (a, b) in pairs.items():
        v = positions_z_up[:, b] - positions_z_up[:, a]
        v = v / np.linalg.norm(v, axis=-1, keepdims=True)
        w = np.einsum("fij,j->fi", drivers[:, DRIVERS.index(driver)], rest[DRIVERS.index(driver)])
        worst = max(worst, float(np.degrees(np.arccos(np.clip((v * w).sum(-1), -1, 1))).max()))
    return worst


def test_both_mocap_formats_give_drivers_that_move_the_t_pose_onto_each_frame():
    root = SHARED / "mocap"
    if not root.is_dir():
        pytest.skip("../shared/mocap is not present")
    from pose3d.mocap.bvh import bvh_forward_kinematics, read_bvh
    from pose3d.mocap.cmu38 import Cmu38Skeleton, cmu38_forward_kinematics, read_cmu38
    from pose3d.mocap.drivers import CMU38_SEGMENTS, DAZ_JOINTS, cmu38_drivers, daz_drivers
    from pose3d.mocap.to_h36m import Y_UP_TO_Z_UP

    motion = read_bvh(sorted((root / "cmu_daz_ateliercircle" / "bvh").glob("*.bvh"))[0])
    pos, rot = bvh_forward_kinematics(motion)
    D = daz_drivers(motion.names, rot)
    children = {"l_thigh": "lShin", "r_shin": "rFoot", "l_upper_arm": "lForeArm", "r_forearm": "rHand",
                "chest": "neck", "l_collar": "lShldr", "r_foot": "rFoot_end"}
    pairs = {d: (motion.index(DAZ_JOINTS[d]), motion.index(c)) for d, c in children.items()}
    assert _segment_errors_deg(D, pos @ Y_UP_TO_Z_UP.T, pairs) < 0.1  # REST_SEGMENT_MM is rounded to 0.1 mm

    skeleton = Cmu38Skeleton.read(root / "cmu_expmap_chaneyddtt" / "skeleton_cmu38.json")
    rows = read_cmu38(sorted((root / "cmu_expmap_chaneyddtt" / "txt").glob("*.txt"))[0], skeleton)
    pos, rot = cmu38_forward_kinematics(rows, skeleton)
    D = cmu38_drivers(skeleton.names, skeleton.parents, skeleton.offsets_mm, rot)
    pairs = {d: (skeleton.index(j), skeleton.index(c)) for d, (j, c) in CMU38_SEGMENTS.items() if c is not None}
    assert _segment_errors_deg(D, pos @ Y_UP_TO_Z_UP.T, pairs) < 1e-3
    # Its rest (all rotations zero) is not the T-pose: the thighs turn inwards onto the T-pose's.
    zero = cmu38_drivers(skeleton.names, skeleton.parents, skeleton.offsets_mm, np.broadcast_to(np.eye(3), (1, 38, 3, 3)))
    thigh = zero[0, DRIVERS.index("l_thigh")]
    assert 10.0 < np.degrees(np.linalg.norm(rotmat_to_rotvec(thigh))) < 30.0
