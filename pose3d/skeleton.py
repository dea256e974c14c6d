"""The Human3.6M skeletons, defined by joint names.

Everything here derives from two tables of names: ``H36M17`` (the 17 joints nearly every paper and
tool uses) and ``H36M32`` (the 32 joints of the official release). Indices, bones, mirror pairs and the
32-to-17 subset are computed from the names, so nothing depends on a hand-typed index list.

Poses are arrays of shape (..., J, 3) in millimetres; any number of leading batch dimensions is
allowed, and NumPy arrays and torch tensors are both accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np

from pose3d.arrays import like, namespace


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree of named joints; joint 0 is the root."""

    names: tuple[str, ...]
    parent_names: tuple[str | None, ...]

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names):
            raise ValueError("joint names must be unique")
        if self.parent_names[0] is not None or any(p is None for p in self.parent_names[1:]):
            raise ValueError("exactly the first joint must be the root (parent None)")
        for name, parent in zip(self.names[1:], self.parent_names[1:]):
            if parent not in self.names:
                raise ValueError(f"joint {name!r} has unknown parent {parent!r}")
        # Parents must come before children so that one forward pass over the joints visits
        # every parent first (used by retarget).
        for i, parent in enumerate(self.parent_names[1:], start=1):
            if self.names.index(parent) >= i:
                raise ValueError(f"parent {parent!r} must precede joint {self.names[i]!r}")

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str | None]]) -> "Skeleton":
        """Build from ``(joint, parent)`` pairs in joint order."""
        return cls(tuple(n for n, _ in pairs), tuple(p for _, p in pairs))

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of joint ``name``; raises KeyError naming the joint if unknown."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no joint named {name!r} in this skeleton") from None

    def indices(self, names: Sequence[str]) -> tuple[int, ...]:
        return tuple(self.index(n) for n in names)

    @cached_property
    def parents(self) -> tuple[int, ...]:
        """Parent index of each joint, -1 for the root."""
        return tuple(-1 if p is None else self.names.index(p) for p in self.parent_names)

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) index pairs, one per non-root joint, in joint order."""
        return tuple((i, p) for i, p in enumerate(self.parents) if p >= 0)

    @cached_property
    def bone_names(self) -> tuple[str, ...]:
        """Bones named "Parent-Child", in the order of ``bones``."""
        return tuple(f"{self.names[p]}-{self.names[c]}" for c, p in self.bones)

    @cached_property
    def mirror_pairs(self) -> tuple[tuple[int, int], ...]:
        """(left, right) index pairs: joints named L<x> and R<x>."""
        pairs = []
        for i, name in enumerate(self.names):
            if name.startswith("L") and "R" + name[1:] in self.names:
                pairs.append((i, self.names.index("R" + name[1:])))
        return tuple(pairs)

    @cached_property
    def mirror_permutation(self) -> tuple[int, ...]:
        """Index permutation that swaps every left joint with its right twin."""
        perm = list(range(self.num_joints))
        for left, right in self.mirror_pairs:
            perm[left], perm[right] = right, left
        return tuple(perm)

    @property
    def left(self) -> tuple[int, ...]:
        return tuple(left for left, _ in self.mirror_pairs)

    @property
    def right(self) -> tuple[int, ...]:
        return tuple(right for _, right in self.mirror_pairs)

    def subset_indices(self, other: "Skeleton") -> tuple[int, ...]:
        """For each joint of ``other``, its index in this skeleton (matched by name)."""
        return self.indices(other.names)


# The 17-joint skeleton (../shared/h36m/FORMATS.md). "Neck" is the joint the dataset calls
# Neck/Nose; "Head" is the top of the head; "RFoot"/"LFoot" are the ankles.
H36M17 = Skeleton.from_pairs(
    [
        ("Hip", None),
        ("RHip", "Hip"),
        ("RKnee", "RHip"),
        ("RFoot", "RKnee"),
        ("LHip", "Hip"),
        ("LKnee", "LHip"),
        ("LFoot", "LKnee"),
        ("Spine", "Hip"),
        ("Thorax", "Spine"),
        ("Neck", "Thorax"),
        ("Head", "Neck"),
        ("LShoulder", "Thorax"),
        ("LElbow", "LShoulder"),
        ("LWrist", "LElbow"),
        ("RShoulder", "Thorax"),
        ("RElbow", "RShoulder"),
        ("RWrist", "RElbow"),
    ]
)

# The 32 joints of the official release, in file order. Names of the joints that the 17-joint set
# keeps are the same as above; the others are named after what they are (anchors coincide with
# their parent, "End" joints are bone end sites).
H36M32 = Skeleton.from_pairs(
    [
        ("Hip", None),
        ("RHip", "Hip"),
        ("RKnee", "RHip"),
        ("RFoot", "RKnee"),
        ("RToeBase", "RFoot"),
        ("RToeEnd", "RToeBase"),
        ("LHip", "Hip"),
        ("LKnee", "LHip"),
        ("LFoot", "LKnee"),
        ("LToeBase", "LFoot"),
        ("LToeEnd", "LToeBase"),
        ("PelvisAnchor", "Hip"),
        ("Spine", "PelvisAnchor"),
        ("Thorax", "Spine"),
        ("Neck", "Thorax"),
        ("Head", "Neck"),
        ("LShoulderAnchor", "Spine"),
        ("LShoulder", "LShoulderAnchor"),
        ("LElbow", "LShoulder"),
        ("LWrist", "LElbow"),
        ("LThumb", "LWrist"),
        ("LThumbEnd", "LThumb"),
        ("LWristEnd", "LWrist"),
        ("LWristEndSite", "LWristEnd"),
        ("RShoulderAnchor", "Spine"),
        ("RShoulder", "RShoulderAnchor"),
        ("RElbow", "RShoulder"),
        ("RWrist", "RElbow"),
        ("RThumb", "RWrist"),
        ("RThumbEnd", "RThumb"),
        ("RWristEnd", "RWrist"),
        ("RWristEndSite", "RWristEnd"),
    ]
)

#: The 10 limb joints whose definitions agree best between skeleton conventions (mocap, Human3.6M,
#: image keypoint labellers): hips, spine, neck and head are placed differently by each.
LIMB_JOINTS = ("LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist", "LKnee", "RKnee", "LFoot", "RFoot")

#: Index of each H36M17 joint among the official 32 joints.
H36M32_TO_17 = H36M32.subset_indices(H36M17)

ROOT = 0


def h36m32_to_17(pose32: Any) -> Any:
    """(..., 32, C) poses in the official joint order -> (..., 17, C)."""
    if pose32.shape[-2] != H36M32.num_joints:
        raise ValueError(f"expected 32 joints on axis -2, got shape {tuple(pose32.shape)}")
    return pose32[..., list(H36M32_TO_17), :]


def to_root_relative(pose: Any, root: int = ROOT) -> Any:
    """(..., J, 3) poses -> the same poses with the root joint moved to the origin."""
    return pose - pose[..., root : root + 1, :]


def from_root_relative(pose_rel: Any, root_position: Any) -> Any:
    """(..., J, 3) root-relative poses + (..., 3) root positions -> absolute poses."""
    return pose_rel + like(root_position, pose_rel)[..., None, :]


def bone_lengths(pose: Any, skeleton: Skeleton = H36M17) -> Any:
    """(..., J, 3) poses -> (..., B) bone lengths, in the order of ``skeleton.bones``."""
    xp = namespace(pose)
    child = [c for c, _ in skeleton.bones]
    parent = [p for _, p in skeleton.bones]
    d = pose[..., child, :] - pose[..., parent, :]  # (..., B, 3)
    return xp.sqrt(xp.sum(d * d, axis=-1))


def mirror(pose: Any, skeleton: Skeleton = H36M17, axis: int = 0) -> Any:
    """Mirror poses across the plane normal to coordinate ``axis``, swapping left and right.

    With camera-frame poses and ``axis=0`` this is the pose seen in a horizontally flipped image.
    """
    flipped = pose[..., list(skeleton.mirror_permutation), :]
    sign = np.ones(3)
    sign[axis] = -1.0
    return flipped * like(sign, flipped)


def retarget(pose: Any, lengths: Any, skeleton: Skeleton = H36M17, eps: float = 1e-6) -> Any:
    """Give (..., J, 3) poses new bone lengths, keeping every bone's direction.

    ``lengths`` has shape (..., B) (or (B,)) in the order of ``skeleton.bones``. The root stays
    where it is; each child is placed at its parent plus the new length along the old direction.
    """
    xp = namespace(pose)
    lengths = like(lengths, pose)
    joints = [pose[..., 0, :]]  # positions of the new pose, filled in joint order
    for b, (child, parent) in enumerate(skeleton.bones):
        d = pose[..., child, :] - pose[..., parent, :]
        norm = xp.sqrt(xp.sum(d * d, axis=-1, keepdims=True))
        direction = d / xp.clip(norm, eps, None)  # zero-length bones stay zero-length
        joints.append(joints[parent] + lengths[..., b : b + 1] * direction)
    return xp.stack(joints, axis=-2)


def bone_length_dict(lengths: Mapping[str, float], skeleton: Skeleton = H36M17) -> np.ndarray:
    """Bone lengths given by child joint name (``{"RKnee": 472, ...}``) -> (B,) array in bone order.

    Names of left/right joints may be given for one side only (``"Knee"`` covers both).
    """
    out = np.empty(len(skeleton.bones))
    for b, (child, _) in enumerate(skeleton.bones):
        name = skeleton.names[child]
        side_free = name[1:] if name[:1] in ("L", "R") and name[1:] in lengths else None
        if name in lengths:
            out[b] = lengths[name]
        elif side_free is not None:
            out[b] = lengths[side_free]
        else:
            raise KeyError(f"no length given for the bone ending at {name!r}")
    return out


#: Bone lengths of Human3.6M subject S9 in mm (../shared/mocap/SOURCES.md), by child joint.
S9_BONE_LENGTHS_MM = {
    "Hip": 124.0,  # pelvis to each hip joint ("RHip"/"LHip")
    "Knee": 472.0,
    "Foot": 469.0,
    "Spine": 256.0,
    "Thorax": 250.0,
    "Neck": 121.0,
    "Head": 115.0,
    "Shoulder": 183.0,
    "Elbow": 296.0,
    "Wrist": 249.0,
}


def s9_bone_lengths() -> np.ndarray:
    """(B,) S9 bone lengths in mm, in the order of ``H36M17.bones``."""
    return bone_length_dict(S9_BONE_LENGTHS_MM)


def facing_yaw(pose: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Heading of (..., J, 3) poses in a Z-up world: the angle about Z from -Y to the direction the
    pelvis faces (horizontal, perpendicular to the right-to-left hip vector). (...) radians."""
    left = pose[..., skeleton.index("LHip"), :] - pose[..., skeleton.index("RHip"), :]
    # At yaw 0 the body faces -Y and its left is +X; rotating by yaw turns left to (cos, sin).
    return np.arctan2(left[..., 1], left[..., 0])
