"""Read a folder of real labelled frames in the ``realval`` format, checking every field it uses.

The format (``../shared/realval/README.md``): ``DIR/labels.json`` holds ``joint_names`` (the 17
Human3.6M joints, in order) and ``images``, one entry per JPEG under ``DIR``, with the person's 2D
joints in pixels, a tight box around them, the torso length (Thorax-Hip, px), and for calibrated
multi-view frames the joints triangulated in the camera frame (mm, absolute) and a per-joint flag
saying whether the 2D label agrees with that 3D. Optional top-level ``stats.json`` beside it holds
the labels' own noise figures.

An entry with a missing or malformed field is skipped with a reason naming it; the rest are read. A
folder without a readable ``labels.json``, or whose joints are not the 17 Human3.6M joints in order,
is refused (``RealvalError``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.skeleton import H36M17

LABELS = "labels.json"
STATS = "stats.json"


class RealvalError(ValueError):
    """The folder is not in the realval format."""


@dataclass(frozen=True)
class RealFrame:
    """One labelled photo. Pixels: x right, y down; 3D: the view's camera frame, mm."""

    index: int  # position in labels.json's ``images``
    file: str  # relative to the folder
    path: Path
    source: str  # the video it comes from
    view: str  # the camera of that video
    frame: int  # 0-based frame index in the video
    person_id: str
    size_wh: tuple[int, int]
    bbox_xywh: np.ndarray  # (4,) tight box around the joints
    torso_px: float
    joints_2d: np.ndarray  # (J, 2)
    agrees_with_3d: np.ndarray  # (J,) bool; all True where the label has no such flag
    joints_3d_cam: np.ndarray | None  # (J, 3) triangulated, absolute camera frame, mm
    peer_3d: np.ndarray | None  # (J, 3) the labeller's own monocular 3D (MediaPipe), mm

    @property
    def stream(self) -> str:
        """``source/view``: one video."""
        return f"{self.source}/{self.view}"


@dataclass(frozen=True)
class RealSet:
    root: Path
    frames: list[RealFrame]
    skipped: list[dict[str, str]]  # {"file", "reason"} for entries that could not be used
    label_noise_pck: float | None  # leave-one-view-out PCK@0.2 torso of the labels (stats.json)

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(f.source for f in self.frames))


def _array(entry: dict[str, Any], key: str, shape: tuple[int, ...], optional: bool = False) -> np.ndarray | None:
    value = entry.get(key)
    if value is None:
        if optional:
            return None
        raise ValueError(f"field {key!r} missing")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"field {key!r} is not numeric") from None
    if a.shape != shape:
        raise ValueError(f"field {key!r} has shape {a.shape}, expected {shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"field {key!r} holds NaN or infinite values")
    return a


def _frame(root: Path, index: int, entry: Any, J: int) -> RealFrame:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    for key in ("file", "source", "view"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ValueError(f"field {key!r} missing or not a string")
    frame = entry.get("frame")
    if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
        raise ValueError("field 'frame' missing or not a non-negative integer")
    size = _array(entry, "image_size_wh", (2,))
    box = _array(entry, "bbox_xywh_px", (4,))
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError("field 'bbox_xywh_px' has a non-positive width or height")
    torso = _array(entry, "torso_px", ())
    if torso <= 0:
        raise ValueError("field 'torso_px' is not positive")
    agrees = entry.get("joint_agrees_with_3d")
    if agrees is None:
        agrees = np.ones(J, dtype=bool)
    else:
        agrees = np.asarray(agrees)
        if agrees.shape != (J,) or agrees.dtype != bool:
            raise ValueError(f"field 'joint_agrees_with_3d' is not {J} booleans")
    return RealFrame(
        index=index, file=entry["file"], path=root / entry["file"], source=entry["source"], view=entry["view"],
        frame=frame, person_id=str(entry.get("person_id", "")), size_wh=(int(size[0]), int(size[1])),
        bbox_xywh=box, torso_px=float(torso), joints_2d=_array(entry, "joints_2d_px", (J, 2)), agrees_with_3d=agrees,
        joints_3d_cam=_array(entry, "triangulated_3d_cam_mm", (J, 3), optional=True),
        peer_3d=_array(entry, "mediapipe_3d_cam_mm", (J, 3), optional=True),
    )


def _label_noise(root: Path) -> float | None:
    try:
        stats = json.loads((root / STATS).read_text())
        return float(stats["multiperson_selected"]["label_noise_leave_one_out"]["pck02"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_realval(root: str | Path) -> RealSet:
    """Every usable labelled frame of a realval folder (see the module docstring)."""
    root = Path(root)
    path = root / LABELS
    if not root.is_dir():
        raise RealvalError(f"{root}: not a folder")
    try:
        labels = json.loads(path.read_text())
    except FileNotFoundError:
        raise RealvalError(f"{root}: no {LABELS}; not a folder in the realval format") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RealvalError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(labels, dict) or not isinstance(labels.get("images"), list):
        raise RealvalError(f"{path}: expected an object with an 'images' list")
    names = labels.get("joint_names")
    if names != list(H36M17.names):
        raise RealvalError(f"{path}: joint_names must be the 17 Human3.6M joints in order {list(H36M17.names)}, "
                           f"got {names}")
    frames, skipped = [], []
    for i, entry in enumerate(labels["images"]):
        try:
            frames.append(_frame(root, i, entry, H36M17.num_joints))
        except ValueError as e:
            name = entry.get("file") if isinstance(entry, dict) and isinstance(entry.get("file"), str) else f"images[{i}]"
            skipped.append({"file": name, "reason": f"{LABELS}: {e}"})
    return RealSet(root, frames, skipped, _label_noise(root))
