"""BVH reader and forward kinematics.

A BVH file holds a joint hierarchy (offsets in the parent's frame, channel lists) and one line of
channel values per frame. Rotation channels compose intrinsically in the listed order
(``Zrotation Xrotation Yrotation`` -> R = Rz Rx Ry), and a joint sits at
``p_parent + R_parent_global @ offset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.mocap import MocapError
from pose3d.rotations import euler_to_rotmat


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH file. End sites are joints named "<parent>_end" with no channels."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  # (J, 3) in file units
    channels: tuple[tuple[str, ...], ...]  # per joint, e.g. ("Zrotation", "Xrotation", "Yrotation")
    frames: np.ndarray  # (F, C) channel values, degrees for rotations
    frame_time: float  # seconds, as written in the header

    def index(self, name: str) -> int:
        return self.names.index(name)


def read_bvh(path: str | Path) -> BvhMotion:
    """Parse a BVH file; raises MocapError naming the file on malformed content."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise MocapError(f"{path}: cannot read ({e})") from None
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise MocapError(f"{path}: no MOTION section")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []
    pending: int | None = None  # joint declared, waiting for its "{"
    tokens = head.split()
    i = 0
    try:
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("ROOT", "JOINT") or (tok == "End" and tokens[i + 1] == "Site"):
                if tok == "End":
                    name = f"{names[stack[-1]]}_end"
                    i += 2
                else:
                    name = tokens[i + 1]
                    i += 2
                names.append(name)
                parents.append(stack[-1] if stack else -1)
                offsets.append([0.0, 0.0, 0.0])
                channels.append(())
                pending = len(names) - 1
                continue
            if tok == "{":
                if pending is None:
                    raise MocapError(f"{path}: unexpected '{{'")
                stack.append(pending)
                pending = None
            elif tok == "}":
                stack.pop()
            elif tok == "OFFSET":
                offsets[stack[-1]] = [float(v) for v in tokens[i + 1 : i + 4]]
                i += 3
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                channels[stack[-1]] = tuple(tokens[i + 2 : i + 2 + n])
                i += 1 + n
            i += 1
    except (IndexError, ValueError) as e:
        raise MocapError(f"{path}: malformed HIERARCHY ({e})") from None
    if not names or stack:
        raise MocapError(f"{path}: empty or unbalanced HIERARCHY")

    lines = motion.strip().split("\n", 2)
    try:
        n_frames = int(lines[0].split(":")[1])
        frame_time = float(lines[1].split(":")[1])
        values = np.array(lines[2].split(), dtype=np.float64) if len(lines) > 2 else np.zeros(0)
    except (IndexError, ValueError) as e:
        raise MocapError(f"{path}: malformed MOTION section ({e})") from None
    n_channels = sum(len(c) for c in channels)
    if n_channels == 0 or values.size != n_frames * n_channels:
        raise MocapError(
            f"{path}: expected {n_frames} frames x {n_channels} channels, found {values.size} values"
        )
    return BvhMotion(
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.asarray(offsets),
        channels=tuple(channels),
        frames=values.reshape(n_frames, n_channels),
        frame_time=frame_time,
    )


def bvh_forward_kinematics(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """Global joint positions (F, J, 3) in file units and rotations (F, J, 3, 3) of every joint."""
    F = motion.frames.shape[0]
    J = len(motion.names)
    pos = np.zeros((F, J, 3))
    rot = np.zeros((F, J, 3, 3))
    col = 0
    for j, (parent, chans) in enumerate(zip(motion.parents, motion.channels)):
        values = motion.frames[:, col : col + len(chans)]
        col += len(chans)
        translation = np.zeros((F, 3))
        rot_axes, rot_cols = "", []
        for c, name in enumerate(chans):
            if name.endswith("position"):
                translation[:, "XYZ".index(name[0].upper())] = values[:, c]
            elif name.endswith("rotation"):
                rot_axes += name[0].lower()
                rot_cols.append(c)
            else:
                raise MocapError(f"unknown BVH channel {name!r} on joint {motion.names[j]!r}")
        local = euler_to_rotmat(np.radians(values[:, rot_cols]), rot_axes) if rot_axes else np.eye(3)
        if parent < 0:
            pos[:, j] = motion.offsets[j] + translation
            rot[:, j] = local
        else:
            pos[:, j] = pos[:, parent] + np.einsum("fij,j->fi", rot[:, parent], motion.offsets[j]) + translation
            rot[:, j] = rot[:, parent] @ local
    return pos, rot
