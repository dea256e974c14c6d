"""Map motion-capture skeletons onto the Human3.6M 17 joints, in a Z-up world, in millimetres.

Both source skeletons (the Daz BVH body and the 38-joint CMU body) are Y-up with the rest pose
facing +Z and its left side on +X. They become the pose bank's world frame (Z up, like Human3.6M)
by the proper rotation (x, y, z) -> (x, -z, y); the rest pose then faces -Y.

Choices shared by both sources, so that the two read as one body:
- "Hip" (the pelvis) is the midpoint of the two hip joints, as in Human3.6M where the pelvis-to-hip
  bones run sideways.
- Neither source has Human3.6M's "Neck" (the neck/nose point) or "Head" (the top of the head). Both
  are placed in the head's own frame, from the head's base joint: nose-level point 40 mm up and
  60 mm forward, head top 150 mm up, for an 85 mm neck (scaled by each body's neck). Only their
  directions survive retargeting, which then gives Human3.6M's lengths (121 mm, 115 mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.mocap.bvh import BvhMotion
from pose3d.mocap.cmu38 import Cmu38Skeleton
from pose3d.skeleton import H36M17

# Head-frame offsets of the two derived head points (rest frame: Y up, Z forward), in mm for a
# neck (thorax to head base) of REFERENCE_NECK_MM.
NOSE_OFFSET_MM = np.array([0.0, 40.0, 60.0])
HEAD_TOP_OFFSET_MM = np.array([0.0, 150.0, 0.0])
REFERENCE_NECK_MM = 85.0

# (x, y, z) of a Y-up source -> the Z-up world: a rotation (det +1), so nothing is mirrored.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class H36mMotion:
    """A clip mapped to H36M17: poses (F, 17, 3) and toe tips (F, 2, 3, left then right), world mm;
    and the driver rotations (F, 21, 3, 3) of ``pose3d.mocap.drivers`` (world, heading kept)."""

    poses: np.ndarray
    toes: np.ndarray
    drivers: np.ndarray | None = None


def _head_points(base: np.ndarray, thorax: np.ndarray, head_rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nose-level and head-top points (F, 3) from the head base, thorax and the head's rotation
    (F, 3, 3, column convention: rest-frame vector v -> R @ v), all in the source frame."""
    neck = np.linalg.norm(base - thorax, axis=-1, keepdims=True)  # (F, 1)
    scale = neck / REFERENCE_NECK_MM
    nose = base + scale * np.einsum("fij,j->fi", head_rot, NOSE_OFFSET_MM)
    top = base + scale * np.einsum("fij,j->fi", head_rot, HEAD_TOP_OFFSET_MM)
    return nose, top


def _assemble(points: dict[str, np.ndarray], toes: tuple[np.ndarray, np.ndarray]) -> H36mMotion:
    poses = np.stack([points[name] for name in H36M17.names], axis=1)  # (F, 17, 3)
    toe = np.stack(toes, axis=1)  # (F, 2, 3)
    return H36mMotion(poses=poses @ Y_UP_TO_Z_UP.T, toes=toe @ Y_UP_TO_Z_UP.T)


def daz_bvh_to_h36m(motion: BvhMotion, positions: np.ndarray, rotations: np.ndarray, unit_mm: float = 10.0) -> H36mMotion:
    """The Daz BVH body (positions/rotations from ``bvh_forward_kinematics``) -> H36M17."""
    needed = (
        "rThigh", "rShin", "rFoot", "lThigh", "lShin", "lFoot", "abdomen", "chest", "neck", "head",
        "lShldr", "lForeArm", "lHand", "rShldr", "rForeArm", "rHand", "rFoot_end", "lFoot_end",
    )
    missing = [name for name in needed if name not in motion.names]
    if missing:
        raise KeyError(f"not the Daz skeleton: no joint {', '.join(missing[:4])}{'...' if len(missing) > 4 else ''}")
    j = {name: positions[:, motion.index(name)] * unit_mm for name in needed}
    head_rot = rotations[:, motion.index("head")]
    nose, top = _head_points(j["head"], j["neck"], head_rot)
    points = {
        "Hip": 0.5 * (j["rThigh"] + j["lThigh"]),
        "RHip": j["rThigh"], "RKnee": j["rShin"], "RFoot": j["rFoot"],
        "LHip": j["lThigh"], "LKnee": j["lShin"], "LFoot": j["lFoot"],
        # The Daz abdomen and chest joints bracket Human3.6M's mid-spine point.
        "Spine": 0.5 * (j["abdomen"] + j["chest"]),
        "Thorax": j["neck"],
        "Neck": nose, "Head": top,
        "LShoulder": j["lShldr"], "LElbow": j["lForeArm"], "LWrist": j["lHand"],
        "RShoulder": j["rShldr"], "RElbow": j["rForeArm"], "RWrist": j["rHand"],
    }
    return _assemble(points, (j["lFoot_end"], j["rFoot_end"]))


def cmu38_to_h36m(skeleton: Cmu38Skeleton, positions: np.ndarray, rotations: np.ndarray) -> H36mMotion:
    """The 38-joint CMU body (from ``cmu38_forward_kinematics``, mm) -> H36M17."""
    m = skeleton.h36m17
    j = {name: positions[:, idx] for name, idx in m.items()}
    base = positions[:, skeleton.index("upperneck")]  # end of the upper-neck bone: the head's base
    # Row-vector rotations of the head bone; transpose to the column convention.
    head_rot = np.swapaxes(rotations[:, skeleton.index("head")], -1, -2)
    nose, top = _head_points(base, j["Thorax"], head_rot)
    points = {**j, "Hip": 0.5 * (j["RHip"] + j["LHip"]), "Neck": nose, "Head": top}
    toes = (positions[:, skeleton.index("ltoes_end")], positions[:, skeleton.index("rtoes_end")])
    return _assemble(points, toes)
