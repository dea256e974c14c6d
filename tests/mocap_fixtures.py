"""Fabricated motion-capture files in the layouts of ../shared/mocap, for tests that must not need it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# (name, parent, offset in cm): the joints of the Daz body that the converter uses, with offsets
# close to the real file's, Y up, facing +Z, left on +X.
DAZ_JOINTS = [
    ("hip", None, (0, 0, 0)),
    ("abdomen", "hip", (0, 20.7, -0.7)),
    ("chest", "abdomen", (0, 11.7, -0.5)),
    ("neck", "chest", (0, 22.2, -2.2)),
    ("head", "neck", (-0.2, 7.1, 1.2)),
    ("rCollar", "chest", (-2.7, 19.3, -4.9)),
    ("rShldr", "rCollar", (-8.8, -2.0, 1.5)),
    ("rForeArm", "rShldr", (-28.2, -1.7, 0.5)),
    ("rHand", "rForeArm", (-22.6, 0.8, 7.1)),
    ("lCollar", "chest", (2.7, 19.3, -4.9)),
    ("lShldr", "lCollar", (8.8, -2.0, 1.5)),
    ("lForeArm", "lShldr", (28.2, -1.7, 0.5)),
    ("lHand", "lForeArm", (22.6, 0.8, 7.1)),
    ("rButtock", "hip", (-8.8, 4.4, 1.2)),
    ("rThigh", "rButtock", (0, -1.7, -2.2)),
    ("rShin", "rThigh", (0, -36.8, 0.7)),
    ("rFoot", "rShin", (0.7, -45.1, -5.1)),
    ("lButtock", "hip", (8.8, 4.4, 1.2)),
    ("lThigh", "lButtock", (0, -1.7, -2.2)),
    ("lShin", "lThigh", (0, -36.8, 0.7)),
    ("lFoot", "lShin", (-0.7, -45.1, -5.1)),
]
FOOT_END_CM = {"rFoot": (-1.1, -3.7, 12.1), "lFoot": (1.1, -3.7, 12.1)}


def bvh_text(joints, frames: np.ndarray, frame_time: float = 1 / 120, end_sites=None) -> str:
    """A BVH file: root channels Xpos Ypos Zpos Zrot Yrot Xrot, others Zrot Xrot Yrot."""
    end_sites = end_sites or {}
    children = {}
    for name, parent, _ in joints:
        children.setdefault(parent, []).append(name)
    offset = {name: off for name, _, off in joints}
    lines = ["HIERARCHY"]

    def emit(name, depth):
        pad = "  " * depth
        root = depth == 0
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {' '.join(str(v) for v in offset[name])}")
        chans = "6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" if root else "3 Zrotation Xrotation Yrotation"
        lines.append(f"{pad}  CHANNELS {chans}")
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name in end_sites:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {' '.join(str(v) for v in end_sites[name])}", pad + "  }"])
        lines.append(pad + "}")

    emit(joints[0][0], 0)
    lines += ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {frame_time}"]
    lines += [" ".join(f"{v:.5f}" for v in row) for row in frames]
    return "\n".join(lines) + "\n"


def daz_frames(rng: np.random.Generator, n: int, amplitude_deg: float = 25.0) -> np.ndarray:
    """A rest frame then n frames of smooth random joint motion, root standing 95 cm high."""
    channels = 6 + 3 * (len(DAZ_JOINTS) - 1)
    t = np.linspace(0, 2 * np.pi, n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, channels))
    motion = amplitude_deg * np.sin(t + phase) * rng.uniform(0.2, 1.0, size=(1, channels))
    motion[:, :3] = [0.0, 95.0, 0.0]
    # The buttock joints of the real body never rotate: they fix the hips to the pelvis.
    for j, (name, _, _) in enumerate(DAZ_JOINTS[1:]):
        if name.endswith("Buttock"):
            motion[:, 6 + 3 * j : 9 + 3 * j] = 0.0
    rest = np.zeros((1, channels))
    rest[0, 1] = 95.0
    return np.concatenate([rest, motion])


def write_mocap_tree(root: Path, rng: np.random.Generator) -> Path:
    """A miniature mocap folder: two good Daz clips, a malformed one, one with NaNs, one of an unknown
    skeleton, and a manifest entry whose file is missing."""
    folder = root / "daz_like"
    (folder / "bvh").mkdir(parents=True)
    good = [("walk_a", "walk"), ("dance_b", "dance - arms up")]
    for name, _ in good:
        (folder / "bvh" / f"{name}.bvh").write_text(bvh_text(DAZ_JOINTS, daz_frames(rng, 240), end_sites=FOOT_END_CM))
    (folder / "bvh" / "broken.bvh").write_text("HIERARCHY\nROOT hip\n{\n OFFSET 0 0\n")
    nan_frames = daz_frames(rng, 50)
    nan_frames[30, 8] = np.nan
    (folder / "bvh" / "nans.bvh").write_text(bvh_text(DAZ_JOINTS, nan_frames, end_sites=FOOT_END_CM))
    other = [("root", None, (0, 0, 0)), ("spine", "root", (0, 10, 0))]
    (folder / "bvh" / "other_skeleton.bvh").write_text(bvh_text(other, np.zeros((5, 9))))
    manifest = [{"file": f"bvh/{n}.bvh", "description": d, "fps_header": 120.0} for n, d in good]
    manifest.append({"file": "bvh/missing.bvh", "description": "walk", "fps_header": 120.0})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return root
