"""2D skeleton overlays and image grids with OpenCV only (no matplotlib, no torch)."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from pose3d.skeleton import H36M17, Skeleton

# RGB colours: left limbs blue, right limbs red, the spine white-ish, as in the 3D plots.
LEFT_RGB, RIGHT_RGB, CENTER_RGB = (40, 110, 240), (230, 40, 40), (235, 235, 235)


def draw_skeleton_2d(
    image: np.ndarray, joints_2d: np.ndarray, skeleton: Skeleton = H36M17, thickness: int = 1, radius: int = 1
) -> np.ndarray:
    """A copy of an (H, W, 3) RGB uint8 image with the (J, 2) pixel skeleton drawn on it."""
    out = np.ascontiguousarray(image).copy()
    left, right = set(skeleton.left), set(skeleton.right)
    shift = 4  # sub-pixel precision for cv2 drawing
    pts = np.round(np.asarray(joints_2d, dtype=np.float64) * (1 << shift)).astype(np.int64)
    for child, parent in skeleton.bones:
        colour = LEFT_RGB if child in left else RIGHT_RGB if child in right else CENTER_RGB
        cv2.line(out, tuple(pts[parent]), tuple(pts[child]), colour, thickness, cv2.LINE_AA, shift)
    for p in pts:
        cv2.circle(out, tuple(p), radius << shift, (255, 220, 0), -1, cv2.LINE_AA, shift)
    return out


def image_grid(images: Sequence[np.ndarray], columns: int, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile equally sized (H, W, 3) images into one image, ``columns`` per row."""
    h, w = images[0].shape[:2]
    rows = (len(images) + columns - 1) // columns
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), fill, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = img
    return grid
