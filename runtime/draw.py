"""Annotated frames with OpenCV alone: the 2D skeleton over the image and a 3D skeleton inset.

Colours follow the usual convention: the person's left side blue, right side red, the spine green
(from the joint names in the model's metadata). The inset shows the 3D pose from a camera turned
``INSET_YAW`` degrees about the vertical, so depth the photo hides becomes visible.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

LEFT, RIGHT, CENTRE = (255, 128, 0), (0, 0, 255), (0, 200, 0)  # BGR
INSET_YAW = 60.0


def limb_colours(names: Sequence[str]) -> list[tuple[int, int, int]]:
    """A colour per joint for the bone to its parent, by the side in its name."""
    def side(n: str) -> tuple[int, int, int]:  # "LHip", "RKnee", "left_hip", ...
        low = n.lower()
        if low.startswith("left") or (n[:1] == "L" and n[1:2].isupper()):
            return LEFT
        if low.startswith("right") or (n[:1] == "R" and n[1:2].isupper()):
            return RIGHT
        return CENTRE

    return [side(n) for n in names]


def draw_skeleton(image: np.ndarray, joints: np.ndarray, parents: Sequence[int], names: Sequence[str],
                  thickness: int | None = None) -> np.ndarray:
    """Draw (J, 2) pixel joints on ``image`` (in place) and return it."""
    H, W = image.shape[:2]
    t = thickness or max(1, round(max(H, W) / 300))
    colours = limb_colours(names)
    pts = np.round(np.asarray(joints, dtype=np.float64)).astype(np.int64)
    if not np.isfinite(joints).all():
        return image
    for j, p in enumerate(parents):
        if p >= 0:
            cv2.line(image, tuple(int(v) for v in pts[j]), tuple(int(v) for v in pts[p]), colours[j], t, cv2.LINE_AA)
    for j in range(len(pts)):
        cv2.circle(image, tuple(int(v) for v in pts[j]), t + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return image


def draw_box(image: np.ndarray, box: np.ndarray, colour: tuple[int, int, int] = (0, 255, 255)) -> np.ndarray:
    cx, cy, side = (float(v) for v in box)
    p0 = (int(round(cx - side / 2)), int(round(cy - side / 2)))
    p1 = (int(round(cx + side / 2)), int(round(cy + side / 2)))
    cv2.rectangle(image, p0, p1, colour, max(1, round(max(image.shape[:2]) / 500)), cv2.LINE_AA)
    return image


def pose_inset(pose_mm: np.ndarray, parents: Sequence[int], names: Sequence[str], size: int,
               yaw_deg: float = INSET_YAW) -> np.ndarray:
    """A size x size BGR panel of the root-relative 3D pose (camera frame, mm) seen from a camera
    turned ``yaw_deg`` about the body's vertical axis, orthographic, with a floor-line grid."""
    panel = np.full((size, size, 3), 32, np.uint8)
    P = np.asarray(pose_mm, dtype=np.float64)
    if not np.isfinite(P).all():
        return panel
    a = math.radians(yaw_deg)
    R = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    Q = P @ R.T
    scale = 0.8 * size / 2000.0  # 2 m across 80 % of the panel
    uv = Q[:, :2] * scale + size / 2
    for y in (-900.0, 0.0, 900.0):
        v = int(round(y * scale + size / 2))
        cv2.line(panel, (0, v), (size - 1, v), (60, 60, 60), 1)
    return draw_skeleton(panel, uv, parents, names, thickness=max(1, size // 100))


def draw_thin(image: np.ndarray, joints: np.ndarray, parents: Sequence[int], colour=(200, 200, 200),
              thickness: int = 1) -> np.ndarray:
    """A one-colour skeleton, one pixel wide unless told (the 3D pose reprojected through the assumed
    camera; a label under a prediction)."""
    if not np.isfinite(joints).all():
        return image
    pts = np.round(joints).astype(np.int64)
    for j, p in enumerate(parents):
        if p >= 0:
            cv2.line(image, (int(pts[j, 0]), int(pts[j, 1])), (int(pts[p, 0]), int(pts[p, 1])), colour, thickness, cv2.LINE_AA)
    return image


def annotate(image: np.ndarray, joints_2d: np.ndarray | None, pose_mm: np.ndarray | None, box: np.ndarray | None,
             parents: Sequence[int], names: Sequence[str], text: str = "",
             reprojected: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``image`` with the box, the 3D pose reprojected (thin, when given), the 2D skeleton,
    a 3D inset (top right) and a text line."""
    out = np.ascontiguousarray(image.copy())
    H, W = out.shape[:2]
    if box is not None:
        draw_box(out, box)
    if reprojected is not None:
        draw_thin(out, reprojected, parents)
    if joints_2d is not None:
        draw_skeleton(out, joints_2d, parents, names)
    s = min(H, W) // 3
    if pose_mm is not None and s >= 48:  # no room for an inset on tiny images
        out[:s, W - s:] = pose_inset(pose_mm, parents, names, s)
    if text:
        scale = max(0.4, max(H, W) / 1500)
        org = (8, int(24 * scale + 8))
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(2, int(3 * scale)), cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, int(scale)), cv2.LINE_AA)
    return out
