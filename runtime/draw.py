"""Annotated frames with OpenCV alone: every person's 2D skeleton over the image and 3D skeleton insets.

Colours follow the usual convention: the person's left side blue, right side red, the spine green
(from the joint names in the model's metadata). Each person's box has a colour of its own (by track
id in streams, by rank in folders) and a label; the insets (top right, one per person, at most
``MAX_INSETS``, framed in the box's colour) show the 3D pose from a camera turned ``INSET_YAW``
degrees about the vertical, so depth the photo hides becomes visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

LEFT, RIGHT, CENTRE = (255, 128, 0), (0, 0, 255), (0, 200, 0)  # BGR
INSET_YAW = 60.0
MAX_INSETS = 3
BOX_COLOURS = ((0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 165, 255), (180, 255, 120), (255, 160, 160))  # BGR


@dataclass(frozen=True)
class Drawn:
    """One person to draw: frame-pixel joints, the root-relative 3D pose, the square box, the 3D pose
    reprojected (or None), a label and the index of its colour."""

    joints_2d: np.ndarray  # (J, 2)
    pose_mm: np.ndarray  # (J, 3)
    box: np.ndarray  # (3,) cx, cy, side
    reprojected: np.ndarray | None = None  # (J, 2)
    label: str = ""
    colour: int = 0


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


def annotate(image: np.ndarray, people: Sequence[Drawn], parents: Sequence[int], names: Sequence[str],
             text: str = "") -> np.ndarray:
    """A copy of ``image`` with every person's box and label, 3D pose reprojected (thin, when given)
    and 2D skeleton, 3D insets (top right, the first ``MAX_INSETS`` people) and a text line."""
    out = np.ascontiguousarray(image.copy())
    H, W = out.shape[:2]
    scale = max(0.4, max(H, W) / 1500)
    for p in people:
        colour = BOX_COLOURS[p.colour % len(BOX_COLOURS)]
        draw_box(out, p.box, colour)
        if p.reprojected is not None:
            draw_thin(out, p.reprojected, parents)
        draw_skeleton(out, p.joints_2d, parents, names)
        if p.label:
            x0, y0 = p.box[0] - p.box[2] / 2, p.box[1] - p.box[2] / 2
            org = (int(np.clip(x0 + 4, 0, W - 1)), int(np.clip(y0 + 22 * scale, 12, H - 1)))
            _text(out, p.label, org, 0.8 * scale, colour)
    shown = list(people)[:MAX_INSETS]
    s = min(H, W) // (3 if len(shown) <= 1 else 4)
    if s >= 48:  # no room for insets on tiny images
        for k, p in enumerate(shown):
            x1 = W - k * s
            if x1 - s < 0:
                break
            out[:s, x1 - s:x1] = pose_inset(p.pose_mm, parents, names, s)
            if len(shown) > 1:
                cv2.rectangle(out, (x1 - s, 0), (x1 - 1, s - 1), BOX_COLOURS[p.colour % len(BOX_COLOURS)], 2)
    if text:
        _text(out, text, (8, int(24 * scale + 8)), scale, (255, 255, 255))
    return out


def _text(image: np.ndarray, text: str, org: tuple[int, int], scale: float, colour) -> None:
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(2, int(3 * scale)), cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, max(1, int(scale)), cv2.LINE_AA)
