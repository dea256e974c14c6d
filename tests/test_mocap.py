import json

import numpy as np
import pytest

from pose3d.mocap import MocapError
from pose3d.mocap.bvh import bvh_forward_kinematics, read_bvh
from pose3d.mocap.cmu38 import ASF_UNIT_MM, Cmu38Skeleton, cmu38_forward_kinematics, read_cmu38
from pose3d.rotations import axis_angle_to_rotmat, euler_to_rotmat, rotvec_to_rotmat
from mocap_fixtures import bvh_text


def test_rotvec_matches_axis_rotations_and_is_orthonormal(rng):
    for axis, unit in (("x", [1, 0, 0]), ("y", [0, 1, 0]), ("z", [0, 0, 1])):
        angle = rng.uniform(-3, 3, size=7)
        np.testing.assert_allclose(rotvec_to_rotmat(angle[:, None] * unit), axis_angle_to_rotmat(axis, angle), atol=1e-12)
    R = rotvec_to_rotmat(rng.normal(size=(20, 3)))
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0)
    np.testing.assert_allclose(rotvec_to_rotmat(np.zeros(3)), np.eye(3))


def test_euler_composes_in_channel_order(rng):
    a = rng.uniform(-1, 1, size=3)
    expected = axis_angle_to_rotmat("z", a[0]) @ axis_angle_to_rotmat("x", a[1]) @ axis_angle_to_rotmat("y", a[2])
    np.testing.assert_allclose(euler_to_rotmat(a, "zxy"), expected)


def test_bvh_forward_kinematics_known_chain(tmp_path):
    joints = [("root", None, (1, 2, 3)), ("child", "root", (0, 10, 0))]
    frames = np.array([[0, 0, 0, 0, 0, 0, 0, 0, 0], [5, 0, 0, 90, 0, 0, 0, 0, 0]], dtype=float)
    path = tmp_path / "chain.bvh"
    path.write_text(bvh_text(joints, frames, end_sites={"child": (0, 0, 7)}))
    motion = read_bvh(path)
    assert motion.names == ("root", "child", "child_end")
    pos, rot = bvh_forward_kinematics(motion)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 12, 3], [1, 12, 10]])
    # Root turned 90 degrees about Z and moved 5 along X: the child's (0, 10, 0) becomes (-10, 0, 0).
    np.testing.assert_allclose(pos[1], [[6, 2, 3], [-4, 2, 3], [-4, 2, 10]], atol=1e-12)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no MOTION"),
        ("HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n1 2 3\n", "expected 2 frames"),
        ("HIERARCHY\nROOT a\n{\nOFFSET 0 zero 0\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n", "malformed"),
    ],
)
def test_malformed_bvh_names_the_file(tmp_path, text, message):
    path = tmp_path / "bad.bvh"
    path.write_text(text)
    with pytest.raises(MocapError, match=message) as err:
        read_bvh(path)
    assert "bad.bvh" in str(err.value)


def test_cmu38_rest_pose_accumulates_offsets(tmp_path):
    skel = {
        "names": ["root", "a", "b"], "parents": [-1, 0, 1],
        "offsets": [[0, 0, 0], [0, 70, 0], [70, 0, 0]],
        "h36m17": {},
    }
    (tmp_path / "skel.json").write_text(json.dumps(skel))
    skeleton = Cmu38Skeleton.read(tmp_path / "skel.json")
    rows = np.zeros((2, 12))
    rows[:, :3] = [1.0, 2.0, 0.0]
    rows[1, 3:6] = [0, 0, np.pi / 2]  # root turned 90 degrees about Z
    path = tmp_path / "clip.txt"
    path.write_text("\n".join(",".join(str(v) for v in r) for r in rows))
    pos, _ = cmu38_forward_kinematics(read_cmu38(path, skeleton), skeleton)
    root = np.array([1.0, 2.0, 0.0]) * ASF_UNIT_MM
    unit = ASF_UNIT_MM  # 70 offset units = one ASF unit
    np.testing.assert_allclose(pos[0], root + np.array([[0, 0, 0], [0, unit, 0], [unit, unit, 0]]))
    # Row-vector convention: (0, 1, 0) @ Rz(90) = (1, 0, 0).
    np.testing.assert_allclose(pos[1, 1], root + [unit, 0, 0], atol=1e-9)


def test_cmu38_bad_rows_name_the_file(tmp_path):
    skel = {"names": ["root"], "parents": [-1], "offsets": [[0, 0, 0]], "h36m17": {}}
    (tmp_path / "skel.json").write_text(json.dumps(skel))
    skeleton = Cmu38Skeleton.read(tmp_path / "skel.json")
    (tmp_path / "short.txt").write_text("1,2,3\n")
    with pytest.raises(MocapError, match="short.txt"):
        read_cmu38(tmp_path / "short.txt", skeleton)
    (tmp_path / "words.txt").write_text("a,b,c,d,e,f\n")
    with pytest.raises(MocapError, match="words.txt"):
        read_cmu38(tmp_path / "words.txt", skeleton)
    with pytest.raises(MocapError, match="nope.json"):
        Cmu38Skeleton.read(tmp_path / "nope.json")
