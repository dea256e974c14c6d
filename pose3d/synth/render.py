"""Render posed, clothed people into full frames or straight into person crops, a batch at a time.

Both modes share one geometry: the camera (with its lens distortion) takes the body to full-frame
pixels, and an affine map (``pose3d.crop``) takes full-frame pixels to output pixels: the identity for
a full frame, the crop transform for a crop. Crop mode therefore draws what cutting the crop out of
the full frame would show, without ever making the full frame.

Approximations: radii are scaled by the pinhole magnification at each capsule end (distortion moves
positions, not widths), and the floor is seen through the undistorted camera; both matter only at
the edges of strongly distorted frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.camera import Camera
from pose3d.crop import apply_affine, invert_affine
from pose3d.synth import raster
from pose3d.synth.body import SHIRT, SHOES, SKIN, TROUSERS, Appearance, body_capsules
from pose3d.synth.draws import Draws
from pose3d.synth.scene import BackgroundPhotos, SceneSpec, finish, paint_clutter, sample_floors

MIN_DEPTH_MM = 200.0  # joints and body parts must be at least this far in front of the camera


class DegenerateView(ValueError):
    """The person cannot be rendered from this camera (behind it, or too close)."""


@dataclass(frozen=True)
class Rendered:
    """A batch of renders; ``joints_2d`` in output pixels."""

    images: np.ndarray  # (B, H, W, 3) uint8 RGB
    joints_2d: np.ndarray  # (B, 17, 2)
    joints_cam: np.ndarray  # (B, 17, 3) camera frame, mm
    mask: np.ndarray  # (B, H, W) float32 body coverage in 0..1
    part: np.ndarray  # (B, H, W) int16 index of the visible capsule, -1 for background
    depth: np.ndarray  # (B, H, W) float32 camera depth of the visible body surface (mm), inf elsewhere


def identity_affine(batch: int) -> np.ndarray:
    return np.broadcast_to(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (batch, 2, 3)).copy()


def project_capsules(ends: np.ndarray, radii: np.ndarray, cameras: Camera, affines: np.ndarray) -> np.ndarray:
    """(B, P, 2, 3) world capsule ends and (B, P, 2) radii (mm) -> (B, P, raster.N_FIELDS) float32
    tables in output pixels."""
    B, P = ends.shape[:2]
    cam_pts = cameras.world_to_camera(ends.reshape(B, 2 * P, 3))  # (B, 2P, 3)
    _check_depth(cam_pts, "part of the body")
    uv = apply_affine(affines, cameras.project_camera(cam_pts)).reshape(B, P, 2, 2)
    scale = np.sqrt(np.abs(np.linalg.det(affines[:, :, :2])))  # (B,)
    z = cam_pts[..., 2].reshape(B, P, 2)
    caps = np.empty((B, P, raster.N_FIELDS), dtype=np.float32)
    caps[..., raster.X0 : raster.Y0 + 1] = uv[:, :, 0]
    caps[..., raster.X1 : raster.Y1 + 1] = uv[:, :, 1]
    magnification = (cameras.f.mean(-1) * scale)[:, None, None]
    caps[..., [raster.PR0, raster.PR1]] = magnification * radii / z
    caps[..., [raster.Z0, raster.Z1]] = z
    caps[..., [raster.R0, raster.R1]] = radii
    caps[..., raster.LEN] = np.linalg.norm(ends[:, :, 1] - ends[:, :, 0], axis=-1)
    return caps


def _check_depth(cam_pts: np.ndarray, what: str) -> None:
    bad = (cam_pts[..., 2] < MIN_DEPTH_MM).any(-1)
    if bad.any():
        raise DegenerateView(
            f"{what} is behind or within {MIN_DEPTH_MM:.0f} mm of the camera in sample(s) {np.flatnonzero(bad).tolist()}"
        )


def sample_lights(draws: Draws) -> tuple[np.ndarray, np.ndarray]:
    """(B, 3) directions towards a light from above and in front (camera frame, Y down), (B,) ambient."""
    v = np.stack([draws.uniform(-1.0, 1.0), draws.uniform(-1.2, 0.3), -draws.uniform(0.3, 1.0)], axis=-1)
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32), draws.uniform(0.25, 0.6)


def paint_background(draws: Draws, cameras: Camera, affines: np.ndarray, width: int, height: int, palette: np.ndarray,
                     spec: SceneSpec, photos: BackgroundPhotos | None, covered: np.ndarray | None = None):
    """The scene behind the people: (B, H, W, 3) float32 images (clutter in the people's colours
    ``palette`` (B, K, 3), a photo window when photos are given, a floor), the light (camera frame)
    and ambient level, and which samples have a floor (B,). Samples ``covered`` (B,) by something
    drawn later (a room) are not painted."""
    # Draws are consumed in the same order whatever the options, so options never change the
    # rest of a sample's randomness.
    covered = np.zeros(draws.batch, bool) if covered is None else covered
    imgs = paint_clutter(draws, width, height, palette, skip=covered)
    photo_u = draws.take(6)
    floors = sample_floors(draws, spec.floor_probability)
    to_light, ambient = sample_lights(draws)
    if spec.plain_background is not None:
        imgs[:] = spec.plain_background
        return imgs, to_light, ambient, np.zeros(draws.batch, bool)
    if photos is not None:
        for b in np.flatnonzero((photo_u[:, 5] < spec.photo_probability) & ~covered):
            imgs[b] = photos.window(photo_u[b], width, height)
    floor = np.asarray(floors.enabled, bool)
    raster.draw_floor_batch(imgs, invert_affine(affines), cameras.R, cameras.center, cameras.f, cameras.c,
                            floors.colours, floors.tile_mm, floors.max_distance_mm, floor & ~covered)
    return imgs, to_light, ambient, floor & ~covered


def render(
    poses_world: np.ndarray,
    cameras: Camera,
    looks: Appearance,
    draws: Draws,
    affines: np.ndarray | None = None,
    size: tuple[int, int] | None = None,
    spec: SceneSpec = SceneSpec(),
    photos: BackgroundPhotos | None = None,
) -> Rendered:
    """Render B people: (B, 17, 3) world poses (mm, Z up, floor at z = 0), a batch of B cameras, B
    appearances, per-sample draws. ``affines`` (B, 2, 3) map full-frame pixels to output pixels of
    ``size`` (width, height); by default the full frame of a camera batch sharing one image size.
    Raises DegenerateView naming the samples whose body is not in front of the camera."""
    poses_world = np.asarray(poses_world, dtype=np.float64)
    B = poses_world.shape[0]
    if affines is None:
        affines = identity_affine(B)
    if size is None:
        sizes = np.broadcast_to(np.asarray(cameras.size), (B, 2))
        if not (sizes == sizes[0]).all():
            raise ValueError("full frames of a batch must share one image size; pass size and affines")
        size = (int(sizes[0, 0]), int(sizes[0, 1]))
    width, height = size

    joints_cam = cameras.world_to_camera(poses_world)
    _check_depth(joints_cam, "a joint")
    joints_2d = apply_affine(affines, cameras.project_camera(joints_cam))
    ends, radii, mats = body_capsules(poses_world, looks)
    caps = project_capsules(ends, radii, cameras, affines)

    palette = looks.materials[:, [SKIN, SHIRT, TROUSERS, SHOES], :3].astype(np.float64)
    imgs, to_light, ambient, _ = paint_background(draws, cameras, affines, width, height, palette, spec, photos)
    zbuf = np.full((B, height, width), np.inf, dtype=np.float32)
    part = np.full((B, height, width), -1, dtype=np.int16)
    cover = np.zeros((B, height, width), dtype=np.float32)
    raster.draw_capsules_batch(imgs, zbuf, part, cover, caps, mats, looks.materials, to_light, ambient)
    images = finish(imgs, draws, augment=spec.augment and spec.plain_background is None,
                    desaturate=spec.desaturate_probability)
    return Rendered(images=images, joints_2d=joints_2d, joints_cam=joints_cam, mask=cover, part=part, depth=zbuf)
