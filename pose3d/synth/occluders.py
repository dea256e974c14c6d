"""Things in front of people: foliage, posts and panels painted over rendered frames.

Real people are seen through branches, behind railings, posts and parked things; the synthetic
scenes put nothing between the camera and a person but other people. ``paint_occluders`` paints up
to ``MAX_OCCLUDERS`` shapes over a frame, each placed on a box the caller chooses (a person's), and
returns the mask of what they cover, so the caller can mark the joints behind them as hidden.

Three kinds of shape, each one draw of the frame's own randomness:
- foliage: a blob of leaves with gaps (smoothed noise thresholded inside a soft ellipse);
- branches and posts: one to four thick straight strokes at any angle;
- a panel: a convex polygon (a sign, a car's side, a bin).

Each is filled with a window of a texture photo (bark, wood, grass, stone...) when textures are
given, else with a flat colour with some grain, tinted and darkened at random (backlit foliage is
nearly black), and alpha-blended with a feathered edge.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose3d.synth.draws import Draws

MAX_OCCLUDERS = 3
KINDS = ("foliage", "strokes", "panel")


def paint_occluders(images: np.ndarray, boxes: np.ndarray, draws: Draws, probability: float,
                    textures: np.ndarray | None = None) -> np.ndarray:
    """Paint occluders over ``images`` (B, 3, S, S) uint8 RGB, in place, on the frames drawn with
    ``probability``: 1 to ``MAX_OCCLUDERS`` shapes, each centred inside that frame's box (``boxes``
    (B, 4) x0, y0, x1, y1 in pixels; NaN: centred anywhere) and 0.3-1.2 of its larger side across.
    ``textures`` (T, H, W, 3) float32 in 0..1 fill the shapes where given. Returns (B, S, S) bool:
    the pixels an occluder covers at least half. Uses a fixed number of ``draws`` columns per frame
    whatever is painted."""
    B, _, H, W = images.shape
    on = draws.bernoulli(probability)
    count = 1 + np.minimum((draws.uniform() * MAX_OCCLUDERS).astype(int), MAX_OCCLUDERS - 1)
    kind = np.minimum((draws.uniform(n=MAX_OCCLUDERS) * len(KINDS)).astype(int), len(KINDS) - 1)
    where = draws.uniform(n=2 * MAX_OCCLUDERS).reshape(B, MAX_OCCLUDERS, 2)
    extent = draws.uniform(0.3, 1.2, n=MAX_OCCLUDERS)
    texture_pick = draws.uniform(n=4 * MAX_OCCLUDERS).reshape(B, MAX_OCCLUDERS, 4)
    shade = draws.uniform(0.15, 1.0, n=MAX_OCCLUDERS)  # darkening: backlit things are dark
    hue = draws.uniform(n=3 * MAX_OCCLUDERS).reshape(B, MAX_OCCLUDERS, 3)
    seeds = draws.seeds()
    covered = np.zeros((B, H, W), dtype=bool)
    for b in np.flatnonzero(on):
        rng = np.random.default_rng(int(seeds[b]))
        box = boxes[b]
        if not np.isfinite(box).all():
            box = np.array([0.0, 0.0, W - 1.0, H - 1.0])
        side = max(box[2] - box[0], box[3] - box[1], 4.0)
        picture = images[b].transpose(1, 2, 0).astype(np.float32) / 255.0
        for j in range(count[b]):
            centre = box[:2] + where[b, j] * (box[2:] - box[:2])
            size = extent[b, j] * side
            alpha = _shape(KINDS[kind[b, j]], centre, size, (H, W), rng)
            if not alpha.any():
                continue
            fill = _fill(textures, texture_pick[b, j], hue[b, j], shade[b, j], (H, W), rng)
            picture += alpha[..., None] * (fill - picture)
            covered[b] |= alpha >= 0.5
        images[b] = np.clip(picture * 255.0 + 0.5, 0, 255).astype(np.uint8).transpose(2, 0, 1)
    return covered


def _shape(kind: str, centre: np.ndarray, size: float, hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32 alpha of one shape of about ``size`` pixels across at ``centre``."""
    H, W = hw
    mask = np.zeros((H, W), np.float32)
    cx, cy = float(centre[0]), float(centre[1])
    if kind == "foliage":
        # Leaves: two octaves of noise, smoothed up to the shape's size, kept where high inside a
        # soft ellipse: clumps with gaps that let the person show through.
        n = max(int(size), 4)
        noise = sum(w * cv2.resize(rng.random((c, c)).astype(np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
                    for w, c in ((0.55, int(rng.integers(3, 7))), (0.45, int(rng.integers(10, 25)))))
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / max(n - 1, 1) - 0.5
        aspect = rng.uniform(0.6, 1.6)
        envelope = np.sqrt(np.clip(1.0 - 4.0 * (xx**2 * aspect + yy**2 / aspect), 0.0, 1.0))
        blob = (noise * envelope > rng.uniform(0.25, 0.45)).astype(np.float32)
        x0, y0 = int(round(cx - n / 2)), int(round(cy - n / 2))
        _paste(mask, blob, x0, y0)
    elif kind == "strokes":
        angle = rng.uniform(0.0, np.pi)
        for _ in range(int(rng.integers(1, 5))):
            a = angle + rng.normal(0.0, 0.3)
            length = size * rng.uniform(0.8, 2.5)
            offset = rng.normal(0.0, 0.25 * size, 2)
            d = 0.5 * length * np.array([np.cos(a), np.sin(a)])
            p0 = np.array([cx, cy]) + offset - d
            p1 = np.array([cx, cy]) + offset + d
            thickness = max(1, int(size * rng.uniform(0.03, 0.2)))
            cv2.line(mask, _point(p0), _point(p1), 1.0, thickness)
    else:  # panel
        corners = int(rng.integers(3, 7))
        angles = rng.uniform(0.0, 2.0 * np.pi) + (np.arange(corners) + rng.uniform(-0.3, 0.3, corners)) * 2.0 * np.pi / corners
        radii = 0.5 * size * rng.uniform(0.5, 1.0, corners)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=-1)
        cv2.fillConvexPoly(mask, np.round(pts * 16).astype(np.int32), 1.0, cv2.LINE_8, shift=4)
    return cv2.GaussianBlur(mask, (0, 0), 0.7)  # a feathered edge, as a lens draws it


def _fill(textures: np.ndarray | None, pick: np.ndarray, hue: np.ndarray, shade: float, hw: tuple[int, int],
          rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float32 colours for a shape: a texture window, or a flat colour with grain; shaded."""
    H, W = hw
    if textures is not None and len(textures) and pick[0] < 0.8:
        tex = textures[min(int(pick[1] * len(textures)), len(textures) - 1)]
        th, tw = tex.shape[:2]
        zoom = 0.3 + 0.7 * pick[2]  # a window of the texture, stretched over the frame
        cw, ch = max(int(zoom * tw), 2), max(int(zoom * th), 2)
        x, y = int(pick[3] * (tw - cw)), int((7.0 * pick[3]) % 1.0 * (th - ch))
        fill = cv2.resize(tex[y : y + ch, x : x + cw], (W, H), interpolation=cv2.INTER_LINEAR)
    else:
        # Greens and browns most of the time (plants, wood), any colour otherwise.
        base = np.array([0.25 + 0.35 * hue[0], 0.3 + 0.4 * hue[1], 0.1 + 0.25 * hue[2]], np.float32)
        if pick[0] >= 0.95:
            base = hue.astype(np.float32)
        grain = cv2.resize(rng.normal(0.0, 0.08, (max(H // 4, 1), max(W // 4, 1))).astype(np.float32), (W, H))
        fill = base[None, None, :] + grain[..., None]
    return np.clip(fill * shade, 0.0, 1.0).astype(np.float32)


def _paste(mask: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    """Write ``patch`` into ``mask`` with its top-left corner at (x0, y0), clipped to the mask."""
    H, W = mask.shape
    h, w = patch.shape
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if xa < xb and ya < yb:
        mask[ya:yb, xa:xb] = np.maximum(mask[ya:yb, xa:xb], patch[ya - y0 : yb - y0, xa - x0 : xb - x0])


def _point(p: np.ndarray) -> tuple[int, int]:
    return int(np.clip(round(float(p[0])), -10_000, 10_000)), int(np.clip(round(float(p[1])), -10_000, 10_000))


def hidden_behind(covered: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(B, S, S) covered pixels, (B, P, J, 2) joints -> (B, P, J) bool: the joint's pixel is covered
    (joints outside the picture or NaN: not covered)."""
    B, S = covered.shape[0], covered.shape[1]
    with np.errstate(invalid="ignore"):
        xy = np.round(np.nan_to_num(joints, nan=-1.0)).astype(np.int64)
    inside = (xy >= 0).all(-1) & (xy < S).all(-1)
    xy = np.clip(xy, 0, S - 1)
    b = np.arange(B)[:, None, None]
    return inside & covered[b, xy[..., 1], xy[..., 0]]
