"""A short full-frame video of one synthetic person moving through a pose-bank clip."""

from __future__ import annotations

from typing import Any

import numpy as np

from pose3d.camera import Camera
from pose3d.data.posebank import PoseBank
from pose3d.synth.body import Appearance, sample_appearances
from pose3d.synth.cameras import look_at
from pose3d.synth.draws import Draws
from pose3d.synth.motion import clip_motion
from pose3d.synth.render import render

CHUNK = 16  # frames rendered per call


def framing_camera(poses: np.ndarray, size: tuple[int, int], azimuth: float, margin: float = 0.08) -> Camera:
    """A camera 1.3 m high, at ``azimuth`` around the motion's centre, backed off until every joint
    of every frame is inside the image with ``margin`` to spare."""
    width, height = size
    target = poses.reshape(-1, 3).mean(0)
    target[2] = max(target[2], 900.0)
    f = 1.1 * max(width, height)
    direction = np.array([np.cos(azimuth), np.sin(azimuth)])
    for step in range(60):
        distance = 3000.0 * 1.1**step
        centre = np.array([*(target[:2] + distance * direction), 1300.0])
        cam = Camera.from_center(look_at(centre, target), centre, f=[f, f], c=[width / 2, height / 2], size=size)
        x = cam.world_to_camera(poses.reshape(-1, 3))
        uv = cam.project_camera(x)
        lo, hi = margin * np.array(size), (1 - margin) * np.array(size)
        if (x[:, 2] > 500).all() and (uv >= lo).all() and (uv <= hi).all():
            return cam
    raise ValueError("the motion does not fit in the frame from any distance up to 900 m")


def render_clip_video(
    bank: PoseBank, clip: str, seconds: float, start_s: float, fps: float, size: tuple[int, int], seed: int
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Frames (H, W, 3) uint8 RGB and per-frame labels (camera-frame joints in mm, pixel joints)."""
    poses = clip_motion(bank, clip, fps, seconds, start_s)  # (T, 17, 3)
    u = Draws.for_samples(seed, [0]).u
    look = sample_appearances(Draws(u.copy()))
    cam = framing_camera(poses, size, azimuth=float(u[0, -1]) * 2 * np.pi)
    frames: list[np.ndarray] = []
    labels: list[dict[str, Any]] = []
    for lo in range(0, len(poses), CHUNK):
        chunk = poses[lo : lo + CHUNK]
        B = len(chunk)
        cams = Camera(*(np.repeat(np.asarray(getattr(cam, a))[None], B, 0) for a in ("R", "t", "f", "c", "k", "p")), size=size)
        looks = Appearance(*(np.repeat(getattr(look, a), B, 0) for a in ("materials", "radius", "long_sleeves", "long_trousers", "hair")))
        # Every frame reads the same draws: the same person, scene, light and finish throughout.
        out = render(chunk, cams, looks, Draws(np.repeat(u, B, 0)))
        frames += list(out.images)
        for b in range(B):
            labels.append({
                "frame": lo + b,
                "time_s": (lo + b) / fps,
                "pose_cam_mm": out.joints_cam[b].round(2).tolist(),
                "joints_2d_px": out.joints_2d[b].round(2).tolist(),
            })
    if labels:
        labels[0]["camera"] = cam.to_dict()
        labels[0]["clip"] = clip
    return frames, labels
