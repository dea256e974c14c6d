"""Layout (a), the official release: CDF pose files and mp4 videos.

    <root>/S1/MyPoseFeatures/D3_Positions/<Action>[ <take>].cdf   variable "Pose": (1, N, 96) world mm
    <root>/S1/Videos/<Action>[ <take>].<camera id>.mp4            50 fps, 1000 x 1002 or 1000 x 1000

Cameras come from the calibration bundled with the package (``pose3d.camera.load_h36m_cameras``).
Known quirks handled here: the S11 Directions videos are corrupted in the release and are skipped;
videos a few frames longer than the pose data are truncated to it; a video shorter than its pose data
is reported (frame-count mismatch). A video whose size differs from the calibration's is taken as a
uniform resize of the original and the intrinsics are scaled to match (noted in the chunk).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from pose3d.camera import H36M_CAMERA_IDS, Camera, load_h36m_cameras
from pose3d.data.h36m.names import UnknownAction, is_ignored, parse_action
from pose3d.data.h36m.source import Problem, SourceError, Unit, UnitData, UnitKey, keep_every
from pose3d.skeleton import H36M32, h36m32_to_17

POSES = Path("MyPoseFeatures") / "D3_Positions"
VIDEOS = Path("Videos")
#: (subject, action) pairs whose official videos are known to be broken.
SKIPPED_VIDEOS = {("S11", "Directions")}


def is_official(root: Path) -> bool:
    return any(root.glob(f"S*/{POSES.as_posix()}/*.cdf"))


@lru_cache(maxsize=2)  # the 4 camera units of one recording read its pose file once
def read_cdf_poses(path: str) -> np.ndarray:
    """(N, 17, 3) world mm from an official D3_Positions file; raises SourceError."""
    import cdflib

    try:
        pose = np.asarray(cdflib.CDF(path).varget("Pose"), dtype=np.float64)
    except Exception as e:  # cdflib signals broken files with many exception types
        raise SourceError(path, "corrupt", f"cannot read the CDF pose data ({type(e).__name__}: {e})") from None
    values = H36M32.num_joints * 3
    if pose.ndim < 2 or pose.shape[-1] != values or pose.size == 0:
        raise SourceError(path, "corrupt", f"variable Pose has shape {pose.shape}, expected (1, N, {values})")
    pose32 = pose.reshape(-1, H36M32.num_joints, 3)  # (N, 32, 3)
    if not np.isfinite(pose32).all():
        raise SourceError(path, "corrupt", "pose data holds non-finite values")
    return h36m32_to_17(pose32)


def scaled_camera(camera: Camera, width: int, height: int) -> Camera:
    """The camera of a video resized from the calibration's image size to (width, height)."""
    sx, sy = width / camera.size[0], height / camera.size[1]
    s = np.array([sx, sy])
    # Pixel centres sit at integers: u' + 0.5 = (u + 0.5) * s.
    return Camera(camera.R, camera.t, camera.f * s, (camera.c + 0.5) * s - 0.5, camera.k, camera.p, (width, height),
                  camera.name)


def read_video_frames(path: str, rows: np.ndarray, frames: np.ndarray, length: int) -> Iterator[tuple[int, np.ndarray]]:
    """Decode ``path`` up to frame ``length - 1`` and yield (row, RGB frame) for each wanted frame
    number; raises SourceError if the video ends before ``length`` frames."""
    cap = cv2.VideoCapture(path)
    try:
        wanted = dict(zip(frames.tolist(), rows.tolist()))
        for number in range(length):
            if not cap.grab():
                raise SourceError(path, "mismatch", f"the video ends after {number} frames; its pose data has {length}")
            if number in wanted:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    raise SourceError(path, "corrupt", f"frame {number} cannot be decoded")
                yield wanted[number], cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _open_video(path: str) -> tuple[int, int, int]:
    """(width, height, frame count) of a video, checking that it opens and has a first frame."""
    cap = cv2.VideoCapture(path)
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None:
            raise SourceError(path, "corrupt", "not a readable video")
        return frame.shape[1], frame.shape[0], int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


def _loader(cdf: Path, video: Path, camera: Camera):
    def load(every: int) -> UnitData:
        pose = read_cdf_poses(str(cdf))
        n = len(pose)
        width, height, count = _open_video(str(video))
        notes = []
        if (width, height) != tuple(camera.size):
            notes.append(f"video is {width}x{height}, calibration {camera.size[0]}x{camera.size[1]}: intrinsics scaled")
            cam = scaled_camera(camera, width, height)
        else:
            cam = camera
        if count > n:
            notes.append(f"video has {count} frames, pose data {n}: truncated to {n}")
        frames = np.flatnonzero(keep_every(np.arange(n), every))
        rows = np.arange(len(frames))
        images = read_video_frames(str(video), rows, frames, n)
        return UnitData(cam, frames, pose[frames], images=images, notes=notes)

    return load


def find_units(root: Path, subjects: Sequence[str]) -> tuple[list[Unit], list[Problem], list[str]]:
    """Every (recording, camera) of ``subjects`` under ``root``; problems found while listing; notes."""
    cameras = load_h36m_cameras()
    units, problems, notes = [], [], []
    for subject in subjects:
        folder = root / subject / POSES
        if not folder.is_dir():
            problems.append(Problem(str(root / subject), "missing", f"no {POSES.as_posix()} folder for subject {subject}"))
            continue
        if subject not in cameras:
            problems.append(Problem(str(root / subject), "unknown-camera", f"no bundled calibration for {subject}"))
            continue
        for cdf in sorted(folder.glob("*.cdf")):
            if is_ignored(cdf.stem):
                continue
            try:
                action, take = parse_action(cdf.stem)
            except UnknownAction as e:
                problems.append(Problem(str(cdf), "unknown-action", str(e)))
                continue
            if (subject, action) in SKIPPED_VIDEOS:
                notes.append(f"skipped {subject} {cdf.stem}: its official videos are known to be corrupted")
                continue
            for camera_id, camera in zip(H36M_CAMERA_IDS, cameras[subject]):
                video = root / subject / VIDEOS / f"{cdf.stem}.{camera_id}.mp4"
                if not video.is_file():
                    problems.append(Problem(str(video), "missing", f"no video for {cdf.name} from camera {camera_id}"))
                    continue
                key = UnitKey(subject, action, take, camera_id)
                units.append(Unit(key, (str(cdf), str(video)), _loader(cdf, video, camera)))
    return units, problems, notes
