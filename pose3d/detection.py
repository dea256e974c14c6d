"""Reading a person detector's output maps: peaks -> boxes (torch-free; the runtime and training's
validation both decode with it, so that they cannot disagree).

The maps (``pose3d_runtime.detector`` documents the ONNX contract): ``centre`` (1, h, w) probability that
a person's box centre falls in the cell; ``size`` (2, h, w) box width and height in input pixels;
``offset`` (2, h, w) the centre inside its cell in cells (0..1), column i's centre at input pixel
``stride * (i + offset_x) - 0.5``. A cell is a candidate where its ``centre`` is the largest of its
3 x 3 neighbourhood and at least the threshold; the best ``max_people`` survive greedy suppression of
boxes overlapping a better one by more than ``suppress_iou``.
"""

from __future__ import annotations

import numpy as np

from pose3d.metrics import box_iou

SUPPRESS_IOU = 0.6  # two people overlapping more than this are rarer than two peaks on one person
MAX_PEOPLE = 20


def local_peaks(centre: np.ndarray) -> np.ndarray:
    """(h, w) map -> (h, w) bool: the cells that are the maximum of their 3 x 3 neighbourhood."""
    h, w = centre.shape
    padded = np.full((h + 2, w + 2), -np.inf, dtype=np.float64)
    padded[1:-1, 1:-1] = centre
    best = np.max([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)
    return centre >= best


def suppress(extents: np.ndarray, scores: np.ndarray, iou: float, keep: int) -> np.ndarray:
    """Indices of the boxes kept by greedy suppression, best score first, at most ``keep``."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    for i in order:
        if len(kept) >= keep:
            break
        if not kept or box_iou(extents[i:i + 1], extents[kept]).max() <= iou:
            kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)


def decode(centre: np.ndarray, size: np.ndarray, offset: np.ndarray, stride: int, threshold: float,
           max_people: int = MAX_PEOPLE, suppress_iou: float = SUPPRESS_IOU) -> tuple[np.ndarray, np.ndarray]:
    """One image's maps -> (K, 4) joint-extent boxes (x0, y0, x1, y1) in input pixels and (K,) scores,
    best first. ``centre`` (1, h, w), ``size`` and ``offset`` (2, h, w)."""
    c = np.asarray(centre, dtype=np.float64)[0]  # (h, w)
    ok = local_peaks(c) & (c >= threshold) & np.isfinite(c)
    rows, cols = np.nonzero(ok)
    scores = c[rows, cols]
    order = np.argsort(-scores, kind="stable")
    rows, cols, scores = rows[order], cols[order], scores[order]
    cx = stride * (cols + offset[0, rows, cols]) - 0.5
    cy = stride * (rows + offset[1, rows, cols]) - 0.5
    w = np.maximum(size[0, rows, cols].astype(np.float64), 0.0)
    h = np.maximum(size[1, rows, cols].astype(np.float64), 0.0)
    extents = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).reshape(-1, 4)
    good = np.isfinite(extents).all(axis=-1)
    extents, scores = extents[good], scores[good]
    kept = suppress(extents, scores, suppress_iou, max_people)
    return extents[kept].reshape(-1, 4), scores[kept]
