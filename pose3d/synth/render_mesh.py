"""Render skinned people (``pose3d.synth.people``) into full frames or person crops, several per scene.

The geometry is the capsule renderer's (``pose3d.synth.render``): the camera, with its lens
distortion, takes world points to full-frame pixels and an affine map takes those to output pixels.
Per sample: the scene behind (``paint_background``, or a room: ``raster.draw_room``), the people's
shadows cast on the floor by the key light, then every person's mesh (vertices through the camera,
Lambert-lit, z-buffered), soft silhouettes, a motion streak where sampled, a scene against the
light where sampled (``scene.backlight``), and the photometric finish. The drawing runs in one
parallel kernel over the batch (``mesh_raster.draw_people_batch``).

Person 0 of each sample is the one the sample is about (its labels, its crop); the others are
neighbours that may hide it or be cut by the image border. ``visible`` says, for person 0's 17 joints,
whether each falls inside the output image and is not hidden behind another person.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pose3d.camera import Camera
from pose3d.crop import apply_affine, invert_affine
from pose3d.synth import mesh_raster, raster
from pose3d.synth.draws import Draws
from pose3d.synth.render import MIN_DEPTH_MM, _check_depth, paint_background
from pose3d.synth.scene import BackgroundPhotos, Rooms, SceneSpec, backlight, finish

OCCLUSION_MARGIN_MM = 30.0  # a joint counts as hidden when another body's surface is this much nearer


@dataclass(frozen=True)
class MeshPeople:
    """P people in each of B samples (absent ones flagged): world vertices (mm, Z up), per-vertex
    albedo (RGB 0..1), and the mesh faces they share."""

    vertices: np.ndarray  # (B, P, V, 3) float32
    normals: np.ndarray  # (B, P, V, 3) float32 unit, world
    albedo: np.ndarray  # (B, P, V, 3) float32
    present: np.ndarray  # (B, P) bool; person 0 is always present
    faces: np.ndarray  # (F, 3) int32
    rooms: Rooms | None = None  # the room around them, where enabled (replaces the scene's background)
    textures: np.ndarray | None = None  # (T, S, S, 3) the rooms' texture photos
    motion_blur: np.ndarray | None = None  # (B, 2) length (output px, 0: none) and angle (rad) of a motion streak
    joints: np.ndarray | None = None  # (B, P, 17, 3) every person's labels, world mm (person 0's are labels_world)


@dataclass(frozen=True)
class RenderedPeople:
    images: np.ndarray  # (B, H, W, 3) uint8 RGB
    joints_2d: np.ndarray  # (B, 17, 2) person 0, output pixels
    joints_cam: np.ndarray  # (B, 17, 3) person 0, camera frame, mm
    visible: np.ndarray  # (B, 17) bool
    boxes: np.ndarray  # (B, P, 4) tight box (x0, y0, x1, y1) of each drawn person's mesh, output pixels; NaN if not drawn
    people_joints_2d: np.ndarray  # (B, P, 17, 2) every drawn person's joints, output pixels; NaN if not drawn
    people_visible: np.ndarray  # (B, P, 17) bool: inside the image and not behind another person
    mask: np.ndarray  # (B, H, W) float32 coverage of any person
    owner: np.ndarray  # (B, H, W) int16: which person each pixel shows, -1 for none
    depth: np.ndarray  # (B, H, W) float32 camera depth of the visible surface (mm), inf elsewhere


def _floor_shadow(vertices_world: np.ndarray, to_light_world: np.ndarray) -> np.ndarray:
    """(B, V, 3) vertices flattened onto the floor (a millimetre above z = 0) along each sample's
    (B, 3) direction towards the light (its z must be positive where the result is used)."""
    t = vertices_world[..., 2:3] / np.maximum(to_light_world[:, None, 2:3], 1e-3)
    flat = vertices_world - t * to_light_world[:, None, :]
    flat[..., 2] = 1.0
    return flat


def render_people(people: MeshPeople, labels_world: np.ndarray, cameras: Camera, draws: Draws, affines: np.ndarray,
                  size: tuple[int, int], spec: SceneSpec = SceneSpec(),
                  photos: BackgroundPhotos | None = None) -> RenderedPeople:
    """Render B scenes. ``labels_world`` (B, 17, 3): person 0's joints (mm). ``affines`` (B, 2, 3) map
    full-frame pixels to output pixels of ``size`` (width, height). Raises DegenerateView when person
    0 is not in front of the camera; neighbours too close to or behind the camera are left out."""
    width, height = size
    B, P = people.present.shape
    joints_cam = cameras.world_to_camera(np.asarray(labels_world, dtype=np.float64))
    _check_depth(joints_cam, "a joint")
    joints_2d = apply_affine(affines, cameras.project_camera(joints_cam))
    palette = people.albedo[:, 0, :: max(1, people.albedo.shape[2] // 8)].astype(np.float64)  # (B, K, 3)
    in_room = people.rooms.enabled if people.rooms is not None else np.zeros(B, bool)
    imgs, to_light, ambient, floor = paint_background(draws, cameras, affines, width, height, palette, spec, photos,
                                                      covered=in_room)
    key = 1.0 - ambient
    if people.rooms is not None and people.rooms.enabled.any():
        r = people.rooms
        textures = people.textures if people.textures is not None else np.zeros((1, 1, 1, 3), np.float32)
        raster.draw_room_batch(imgs, invert_affine(affines), cameras.R, cameras.center, cameras.f, cameras.c,
                               r.bounds, r.height, r.colours, textures, r.texture_index, r.scale_mm, r.enabled)
        floor = floor | r.enabled  # people in a room cast shadows on its floor
    zbuf = np.full((B, height, width), np.inf, dtype=np.float32)
    owner = np.full((B, height, width), -1, dtype=np.int16)
    mask = np.zeros((B, height, width), dtype=np.float32)
    visible = np.zeros((B, 17), dtype=bool)
    faces = people.faces
    # Every person's vertices through the cameras, a slot at a time for the whole batch.
    uvz = np.zeros(people.vertices.shape, dtype=np.float32)  # (B, P, V, 3)
    shadow_uv = np.zeros(people.vertices.shape[:-1] + (2,), dtype=np.float32)
    drawn = people.present.copy()
    casts = np.zeros_like(drawn)
    light_world = np.einsum("bji,bj->bi", np.asarray(cameras.R, dtype=np.float64), to_light)  # R^T l
    lit_floor = floor & (light_world[:, 2] >= 0.2)  # a light too low casts no shadow that reads as one
    for p in range(P):
        rows = np.flatnonzero(people.present[:, p])
        if rows.size == 0:
            continue
        cams, A = cameras[rows], affines[rows]
        verts = people.vertices[rows, p].astype(np.float64)
        v_cam = cams.world_to_camera(verts)  # (n, V, 3)
        uvz[rows, p, :, :2] = apply_affine(A, cams.project_camera(v_cam))
        uvz[rows, p, :, 2] = v_cam[..., 2]
        if p > 0:  # a neighbour at or behind the camera is left out
            drawn[rows, p] &= v_cam[..., 2].min(-1) >= MIN_DEPTH_MM
        f_cam = cams.world_to_camera(_floor_shadow(verts, light_world[rows]))
        shadow_uv[rows, p] = apply_affine(A, cams.project_camera(f_cam))
        casts[rows, p] = lit_floor[rows] & drawn[rows, p] & (f_cam[..., 2].min(-1) >= MIN_DEPTH_MM)
    shadow = np.zeros((B, height, width), dtype=np.uint8)
    # The light in the world frame: n_world . R^T l = (R n_world) . l, so normals stay in the world.
    mesh_raster.draw_people_batch(imgs, zbuf, owner, mask, shadow, uvz, shadow_uv, people.normals, people.albedo,
                                  drawn, casts, faces, light_world.astype(np.float32), ambient.astype(np.float32),
                                  key.astype(np.float32))
    for b in range(B):
        visible[b] = _visible(joints_2d[b], joints_cam[b, :, 2], zbuf[b], owner[b], 0)
    people_2d = np.full((B, P, 17, 2), np.nan)
    people_visible = np.zeros((B, P, 17), dtype=bool)
    if people.joints is not None:
        for p in range(P):
            rows = np.flatnonzero(drawn[:, p])
            if rows.size == 0:
                continue
            j_cam = cameras[rows].world_to_camera(people.joints[rows, p].astype(np.float64))
            people_2d[rows, p] = apply_affine(affines[rows], cameras[rows].project_camera(j_cam))
            for i, b in enumerate(rows):
                people_visible[b, p] = _visible(people_2d[b, p], j_cam[i, :, 2], zbuf[b], owner[b], p)
    if people.motion_blur is not None:
        for b in np.flatnonzero(people.motion_blur[:, 0] >= 1.5):
            imgs[b] = motion_streak(imgs[b], *people.motion_blur[b])
    if spec.backlight_probability > 0:  # before the finish: its blur, noise and JPEG come after
        lit = draws.bernoulli(spec.backlight_probability)
        dim, haze, sun = draws.uniform(0.15, 0.6), draws.uniform(0.1, 0.5), draws.uniform(-0.3, 1.3, n=2)
        reach, warmth = draws.uniform(0.3, 1.2), draws.uniform(0.0, 0.25)
        tint = np.stack([np.ones(B), 1.0 - 0.4 * warmth, 1.0 - warmth], axis=-1)  # white to a warm evening sun
        for b in np.flatnonzero(lit):
            backlight(imgs[b], mask[b], float(dim[b]), float(haze[b]), sun[b], float(reach[b]), tint[b])
    images = finish(imgs, draws, augment=spec.augment and spec.plain_background is None,
                    desaturate=spec.desaturate_probability)
    boxes = np.full((B, P, 4), np.nan)
    boxes[drawn] = np.concatenate([uvz[drawn][..., :2].min(axis=1), uvz[drawn][..., :2].max(axis=1)], axis=-1)
    return RenderedPeople(images, joints_2d, joints_cam, visible, boxes, people_2d, people_visible, mask, owner, zbuf)


def motion_streak(img: np.ndarray, length_px: float, angle: float) -> np.ndarray:
    """(H, W, 3) image smeared along a line of ``length_px`` pixels at ``angle`` (camera or subject
    motion during the exposure)."""
    n = int(np.ceil(length_px)) | 1  # odd kernel side
    kernel = np.zeros((n, n), np.float32)
    c = n // 2
    d = np.array([np.cos(angle), np.sin(angle)]) * (length_px - 1) / 2
    cv2.line(kernel, (int(round(c - d[0])), int(round(c - d[1]))), (int(round(c + d[0])), int(round(c + d[1]))),
             1.0, 1, cv2.LINE_AA)
    return cv2.filter2D(img, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def _visible(joints_2d: np.ndarray, joint_depth: np.ndarray, zbuf: np.ndarray, owner: np.ndarray, me: int) -> np.ndarray:
    """(17,) joints of person ``me`` inside the image and not behind another person's surface."""
    H, W = zbuf.shape
    x = np.round(joints_2d[:, 0]).astype(int)
    y = np.round(joints_2d[:, 1]).astype(int)
    inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
    out = inside.copy()
    for j in np.flatnonzero(inside):
        o = owner[y[j], x[j]]
        if o >= 0 and o != me and zbuf[y[j], x[j]] < joint_depth[j] - OCCLUSION_MARGIN_MM:
            out[j] = False
    return out
