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
        cam = Camera.from_center(look_at(centre, target), centre, f=[f, f], c=[(width - 1) / 2, (height - 1) / 2], size=size)
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


def render_clip_video_people(
    bank: PoseBank, clip: str, seconds: float, start_s: float, fps: float, size: tuple[int, int], seed: int,
    texture_dir: str | None = None,
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """``render_clip_video`` with a skinned Anny person (one body and outfit throughout) in a room:
    frames (H, W, 3) uint8 RGB and per-frame labels read off the posed body."""
    from dataclasses import replace

    from pose3d.body.anny import load_anny_body, pose_bodies
    from pose3d.synth.motion import clip_drivers
    from pose3d.synth.people import add_hair_volume, rest_leg_length_mm, sample_mesh_looks, shapes_of
    from pose3d.synth.render_mesh import MeshPeople, render_people
    from pose3d.synth.scene import TexturePhotos, sample_rooms

    drivers, root, leg = clip_drivers(bank, clip, fps, seconds, start_s)
    T = len(drivers)
    body = load_anny_body()
    u = Draws.for_samples(seed, [0]).u
    looks = sample_mesh_looks(Draws(u.copy()), body)
    shape = np.repeat(shapes_of(body, looks), T, 0)
    root = root.copy()
    root[:, 2] *= rest_leg_length_mm(body, shape[:1])[0] / leg
    posed = pose_bodies(body, shape, drivers, root, dtype=np.float32)
    verts, normals = add_hair_volume(posed.vertices_mm, body.faces, np.repeat(looks.hair_mm, T, 0))
    cam = framing_camera(posed.joints_mm.astype(np.float64), size, azimuth=float(u[0, -1]) * 2 * np.pi)
    textures = None if texture_dir is None else TexturePhotos(texture_dir).images
    room_draws = Draws(u[:, -64:].copy())
    rooms = sample_rooms(room_draws, root[None, :, :2], np.asarray(cam.center)[None], 1.0,
                         0 if textures is None else len(textures))
    frames: list[np.ndarray] = []
    labels: list[dict[str, Any]] = []
    for lo in range(0, T, CHUNK):
        n = min(CHUNK, T - lo)
        cams = Camera(*(np.repeat(np.asarray(getattr(cam, a))[None], n, 0) for a in ("R", "t", "f", "c", "k", "p")), size=size)
        room = type(rooms)(*(np.repeat(getattr(rooms, f), n, 0) for f in ("bounds", "height", "colours", "texture_index",
                                                                           "scale_mm", "enabled")))
        people = MeshPeople(verts[lo:lo + n, None], normals[lo:lo + n, None], np.repeat(looks.albedo[:, None], n, 0),
                            np.ones((n, 1), bool), body.faces)
        people = replace(people, rooms=room, textures=textures)
        full = np.broadcast_to(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (n, 2, 3)).copy()
        # Every frame reads the same draws: the same light and finish throughout.
        out = render_people(people, posed.joints_mm[lo:lo + n].astype(np.float64), cams, Draws(np.repeat(u, n, 0)),
                            full, size)
        frames += list(out.images)
        for b in range(n):
            labels.append({"frame": lo + b, "time_s": (lo + b) / fps, "pose_cam_mm": out.joints_cam[b].round(2).tolist(),
                           "joints_2d_px": out.joints_2d[b].round(2).tolist(), "visible": out.visible[b].tolist()})
    if labels:
        labels[0]["camera"] = cam.to_dict()
        labels[0]["clip"] = clip
    return frames, labels
