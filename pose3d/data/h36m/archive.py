"""Layout (c), preprocessed NumPy archives with 3D poses only.

    <root>/data_3d_h36m.npz      positions_3d: pickled dict subject -> action -> (N, 32, 3) float32,
                                 world coordinates in metres
    <root>/data_2d_h36m_gt.npz   (optional, not needed) positions_2d: subject -> action -> 4 x (N, 17, 2)

There are no pictures, so the prepared chunks hold poses only (enough for the pose prior). Each
recording is seen through the 4 bundled cameras of its subject, so the chunks carry camera-frame
poses and projected 2D joints exactly as for the other layouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pose3d.camera import H36M_CAMERA_IDS, Camera, load_h36m_cameras
from pose3d.data.h36m.names import UnknownAction, is_ignored, parse_action
from pose3d.data.h36m.source import Problem, SourceError, Unit, UnitData, UnitKey, keep_every
from pose3d.skeleton import H36M17, H36M32, h36m32_to_17

POSES_FILE = "data_3d_h36m.npz"


def is_archive(root: Path) -> bool:
    return (root / POSES_FILE).is_file()


def read_positions(path: Path) -> dict[str, dict[str, Any]]:
    """subject -> action name -> (N, 32 or 17, 3) metres; raises SourceError."""
    try:
        with np.load(path, allow_pickle=True) as npz:
            data = npz["positions_3d"].item()
    except Exception as e:  # zip, pickle and key errors all mean the same here
        raise SourceError(str(path), "corrupt", f"cannot read positions_3d ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise SourceError(str(path), "corrupt", "positions_3d is not a dict of subjects")
    return data


def _to_17_mm(positions: Any, where: str) -> np.ndarray:
    pose = np.asarray(positions, dtype=np.float64)
    if pose.ndim != 3 or pose.shape[1:] not in ((H36M32.num_joints, 3), (H36M17.num_joints, 3)) or len(pose) == 0:
        raise SourceError(where, "corrupt", f"poses of shape {pose.shape}, expected (N, 32, 3)")
    if not np.isfinite(pose).all():
        raise SourceError(where, "corrupt", "non-finite values")
    pose = h36m32_to_17(pose) if pose.shape[1] == H36M32.num_joints else pose
    return pose * 1000.0  # metres -> mm


def _loader(pose: np.ndarray, camera: Camera):
    def load(every: int) -> UnitData:
        frames = np.flatnonzero(keep_every(np.arange(len(pose)), every))
        return UnitData(camera, frames, pose[frames])

    return load


def find_units(root: Path, subjects: Sequence[str]) -> tuple[list[Unit], list[Problem], list[str]]:
    path = root / POSES_FILE
    try:
        data = read_positions(path)
    except SourceError as e:
        return [], [e.problem], []
    cameras = load_h36m_cameras()
    units, problems = [], []
    for subject in subjects:
        if subject not in data:
            problems.append(Problem(f"{path}:{subject}", "missing", f"subject {subject} is not in the archive"))
            continue
        if subject not in cameras:
            problems.append(Problem(f"{path}:{subject}", "unknown-camera", f"no bundled calibration for {subject}"))
            continue
        for name, positions in sorted(data[subject].items()):
            where = f"{path}:{subject}/{name}"
            if is_ignored(name):
                continue
            try:
                action, take = parse_action(name)
                pose = _to_17_mm(positions, where)
            except UnknownAction as e:
                problems.append(Problem(where, "unknown-action", str(e)))
                continue
            except SourceError as e:
                problems.append(e.problem)
                continue
            for camera_id, camera in zip(H36M_CAMERA_IDS, cameras[subject]):
                key = UnitKey(subject, action, take, camera_id)
                units.append(Unit(key, (where,), _loader(pose, camera), has_images=False))
    return units, problems, []
