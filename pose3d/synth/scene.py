"""Scenes around the person: procedural clutter, a floor, optional background photos, and the
photometric finish (colour jitter, blur, sensor noise, JPEG artefacts).

Backgrounds are made not to be trivially separable from the body: a third of their colours are the
person's own clothing and skin colours, they mix smooth gradients, blotchy noise, boxes, ellipses,
lines and limb-like vertical posts, and the whole image is jittered, blurred and noised together.
All parameters are sampled per sample from ``Draws``; the pixels are painted by ``raster`` kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose3d.synth import raster
from pose3d.synth.body import hsv_colours
from pose3d.synth.draws import Draws

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
MAX_SHAPES = 12
BLOTCH_GRID = 6


@dataclass(frozen=True)
class SceneSpec:
    floor_probability: float = 0.7
    augment: bool = True
    photo_probability: float = 0.5  # when background photos are given
    # A constant background colour instead of clutter, floor and photos (for tests and debugging).
    plain_background: tuple[float, float, float] | None = None
    # Share of scenes lit from behind (``backlight``): the people darkened, a veil of glare over the
    # picture. 0 takes no draw for it, so scenes are what they were without the option.
    backlight_probability: float = 0.0
    # Share of augmented pictures whose colour is mostly gone (saturation 0-0.3 instead of 0.6-1.4:
    # grey footage, low light, scenes against the sun); 0 takes no draw for it.
    desaturate_probability: float = 0.0


def backlight(img: np.ndarray, people: np.ndarray, dim: float, haze: float, sun: np.ndarray, reach: float,
              tint: np.ndarray) -> np.ndarray:
    """A scene against the light, in place on ``img`` ((H, W, 3) float32, 0..1): the people
    (``people`` (H, W) their soft coverage, 0..1) keep ``dim`` of their light (the sun behind them
    lights their far side), and veiling glare of colour ``tint`` (3,) spreads over the picture from
    ``sun`` ((x, y) in units of the picture's larger side; it may lie outside): ``haze`` of it
    everywhere at the sun, falling off over ``reach`` (same units) to a fifth of that. Glare adds
    light and takes contrast, on the people too."""
    H, W = people.shape
    side = float(max(H, W))
    ys, xs = np.arange(H, dtype=np.float32)[:, None] / side, np.arange(W, dtype=np.float32)[None, :] / side
    d2 = (xs - sun[0]) ** 2 + (ys - sun[1]) ** 2  # (H, W) by broadcasting
    glare = haze * (0.2 + 0.8 * np.exp(-d2 / (reach * reach)))  # (H, W)
    img *= (1.0 - (1.0 - dim) * people)[..., None]
    img *= (1.0 - glare)[..., None]
    img += glare[..., None] * tint.astype(np.float32)
    np.clip(img, 0.0, 1.0, out=img)
    return img


def _scene_colours(draws: Draws, palette: np.ndarray) -> np.ndarray:
    """(B, 3): a muted scene colour, or (a third of the time) one of the person's own colours."""
    own = palette[np.arange(draws.batch), draws.integers(palette.shape[1])] * draws.uniform(0.8, 1.2)[:, None]
    muted = hsv_colours(draws.uniform(), 0.7 * draws.uniform() ** 2, draws.uniform(0.12, 0.92))
    return np.clip(np.where(draws.bernoulli(0.33)[:, None], own, muted), 0.0, 1.0)


def paint_clutter(draws: Draws, width: int, height: int, palette: np.ndarray, skip: np.ndarray | None = None) -> np.ndarray:
    """(B, H, W, 3) float32 procedural backgrounds; palette (B, K, 3) the people's colours. Samples
    where ``skip`` (B,) is true are left black (something else covers them); their draws are taken
    all the same."""
    B = draws.batch
    gradient = np.stack([_scene_colours(draws, palette), _scene_colours(draws, palette)], axis=1)
    angle = draws.uniform(0.0, 2.0 * np.pi)
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    blotch = draws.uniform(-1.0, 1.0, n=BLOTCH_GRID * BLOTCH_GRID * 3).reshape(B, BLOTCH_GRID, BLOTCH_GRID, 3)
    amp = draws.uniform(0.03, 0.2)
    n_shapes = (draws.uniform(2, MAX_SHAPES + 1)).astype(int)
    scale = max(width, height)
    shapes = np.zeros((B, MAX_SHAPES, raster.N_SHAPE_FIELDS))
    for s in range(MAX_SHAPES):
        kind = 1 + draws.integers(4)
        shapes[:, s, 0] = np.where(s < n_shapes, kind, raster.SHAPE_NONE)
        shapes[:, s, 1] = draws.uniform(-0.1, 1.1) * width
        shapes[:, s, 2] = draws.uniform(-0.1, 1.1) * height
        size = draws.uniform(0.03, 0.25, n=2) * scale
        # Lines get a direction vector instead of half-sizes; posts a width.
        line = draws.uniform(-1.0, 1.0, n=2) * 0.5 * scale
        shapes[:, s, 3:5] = np.where((kind == raster.SHAPE_LINE)[:, None], line, size)
        shapes[:, s, 3] = np.where(kind == raster.SHAPE_POST, size[:, 0] * 0.2, shapes[:, s, 3])
        shapes[:, s, 5] = draws.uniform(0.0, np.pi)
        shapes[:, s, 6:9] = _scene_colours(draws, palette)
        shapes[:, s, 9] = draws.uniform(0.005, 0.03) * scale
    if skip is None or not skip.any():
        imgs = np.empty((B, height, width, 3), dtype=np.float32)
        raster.paint_backgrounds(imgs, gradient, direction, blotch, amp, shapes)
        return imgs
    imgs = np.zeros((B, height, width, 3), dtype=np.float32)
    keep = np.flatnonzero(~skip)
    part = np.empty((len(keep), height, width, 3), dtype=np.float32)
    raster.paint_backgrounds(part, gradient[keep], direction[keep], blotch[keep], amp[keep], shapes[keep])
    imgs[keep] = part
    return imgs


@dataclass(frozen=True)
class Floors:
    colours: np.ndarray  # (B, 2, 3) the two tile colours
    tile_mm: np.ndarray  # (B,)
    max_distance_mm: np.ndarray  # (B,) beyond this the floor fades into the background
    enabled: np.ndarray  # (B,) bool


def sample_floors(draws: Draws, probability: float) -> Floors:
    base = hsv_colours(draws.uniform(), 0.5 * draws.uniform() ** 2, draws.uniform(0.15, 0.85))
    other = np.clip(base * draws.uniform(0.6, 1.3)[:, None], 0.0, 1.0)
    return Floors(
        colours=np.stack([base, other], axis=1).astype(np.float32),
        tile_mm=draws.uniform(250.0, 1200.0),
        max_distance_mm=draws.uniform(8000.0, 30000.0),
        enabled=draws.bernoulli(probability),
    )


class BackgroundPhotos:
    """Random windows of the photos in a folder (searched recursively), kept decoded in memory."""

    def __init__(self, folder: str | Path, max_images: int = 200, max_side: int = 1024) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"background folder not found: {folder}")
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        self.images: list[np.ndarray] = []
        self.unreadable: list[str] = []
        for path in paths[:max_images]:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                self.unreadable.append(str(path))
                continue
            s = max_side / max(img.shape[:2])
            if s < 1:
                img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            self.images.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        if not self.images:
            raise ValueError(f"no readable images in background folder {folder}")

    def window(self, u: np.ndarray, width: int, height: int) -> np.ndarray:
        """A window of one photo chosen by 5 uniforms ``u``, as (H, W, 3) float32 in 0..1."""
        img = self.images[min(int(u[0] * len(self.images)), len(self.images) - 1)]
        h, w = img.shape[:2]
        zoom = 0.4 + 0.6 * u[1]
        cw = max(min(w, int(zoom * min(w, h * width / height))), 1)
        ch = max(min(h, int(cw * height / width)), 1)
        x, y = int(u[2] * (w - cw + 1)), int(u[3] * (h - ch + 1))
        crop = img[y : y + ch, x : x + cw]
        if u[4] < 0.5:
            crop = crop[:, ::-1]
        return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def finish(imgs: np.ndarray, draws: Draws, augment: bool, desaturate: float = 0.0) -> np.ndarray:
    """(B, H, W, 3) float32 renders -> uint8 images, with photometric augmentation if ``augment``:
    blur (40 %), colour jitter (of it, ``desaturate`` of the pictures almost without colour), sensor
    noise (50 %), JPEG artefacts (30 %)."""
    B = imgs.shape[0]
    out = np.empty(imgs.shape, dtype=np.uint8)
    blur = np.where(draws.bernoulli(0.4), draws.uniform(0.3, 1.3), 0.0)
    contrast, brightness, saturation = draws.uniform(0.7, 1.3), draws.uniform(0.7, 1.3), draws.uniform(0.6, 1.4)
    gains = draws.uniform(0.9, 1.1, n=3)
    noise = np.where(draws.bernoulli(0.5), draws.uniform(1.0, 8.0), 0.0)
    seeds = draws.seeds()
    jpeg = np.where(draws.bernoulli(0.3), draws.uniform(25, 90).astype(int), 0)
    if desaturate > 0:  # drawn last: the other draws stay what they were without it
        saturation = np.where(draws.bernoulli(desaturate), draws.uniform(0.0, 0.3), saturation)
    if not augment:
        ones = np.ones(B)
        raster.finish_images(imgs, out, ones, ones, ones, np.ones((B, 3)), np.zeros(B), seeds)
        return out
    for b in np.flatnonzero(blur > 0):
        imgs[b] = cv2.GaussianBlur(imgs[b], (0, 0), float(blur[b]))
    raster.finish_images(imgs, out, contrast, brightness, saturation, gains, noise, seeds)
    for b in np.flatnonzero(jpeg > 0):
        ok, buf = cv2.imencode(".jpg", out[b], [cv2.IMWRITE_JPEG_QUALITY, int(jpeg[b])])
        out[b] = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)  # channel order is irrelevant to the codec's artefacts
    return out


@dataclass(frozen=True)
class Rooms:
    """A room around each sample's camera and people (``raster.draw_room``): surfaces 0 floor,
    1 ceiling, 2-5 walls."""

    bounds: np.ndarray  # (B, 4) x_min, x_max, y_min, y_max of the walls, mm
    height: np.ndarray  # (B,) ceiling height, mm
    colours: np.ndarray  # (B, 6, 3) tint of each surface (its colour when plain)
    texture_index: np.ndarray  # (B, 6) int64 texture of each surface, -1 plain
    scale_mm: np.ndarray  # (B, 6) a texture's tile size
    enabled: np.ndarray  # (B,) bool


def sample_rooms(draws: Draws, people_xy: np.ndarray, camera_centres: np.ndarray, probability: float,
                 n_textures: int) -> Rooms:
    """Rooms that hold both the people ((B, N, 2) floor positions, mm) and the camera ((B, 3)):
    each wall 0.8-3 m beyond the farthest of them, ceiling 2.5-3.5 m (and above the camera); walls in
    light muted colours, floors darker; textured from ``n_textures`` photos (when there are any)
    two times in three."""
    B = draws.batch
    lo = np.minimum(people_xy.min(axis=1), camera_centres[:, :2])
    hi = np.maximum(people_xy.max(axis=1), camera_centres[:, :2])
    gap = draws.uniform(800.0, 3000.0, n=4)
    bounds = np.stack([lo[:, 0] - gap[:, 0], hi[:, 0] + gap[:, 1], lo[:, 1] - gap[:, 2], hi[:, 1] + gap[:, 3]], -1)
    height = np.maximum(draws.uniform(2500.0, 3500.0), camera_centres[:, 2] + 300.0)
    wall = hsv_colours(draws.uniform(), 0.35 * draws.uniform() ** 2, draws.uniform(0.55, 0.95))
    accent = hsv_colours(draws.uniform(), 0.5 * draws.uniform(), draws.uniform(0.3, 0.9))
    floor = hsv_colours(draws.uniform(), 0.5 * draws.uniform() ** 2, draws.uniform(0.2, 0.7))
    ceiling = np.clip(wall * 1.1 + 0.1, 0.0, 1.0)
    accent_wall = draws.integers(4)
    walls = np.repeat(wall[:, None], 4, axis=1)
    walls[np.arange(B), accent_wall] = np.where(draws.bernoulli(0.4)[:, None], accent, wall)
    colours = np.concatenate([floor[:, None], ceiling[:, None], walls], axis=1)
    textured = (draws.uniform(n=6) < 2.0 / 3.0) & (n_textures > 0)
    index = np.minimum((draws.uniform(n=6) * max(n_textures, 1)).astype(np.int64), max(n_textures, 1) - 1)
    texture_index = np.where(textured, index, -1)
    # A textured surface takes the photo's own colours, tinted a little.
    colours = np.where(textured[..., None], draws.uniform(0.75, 1.15)[:, None, None] * np.ones(3), colours)
    return Rooms(bounds, height, colours.astype(np.float32), texture_index, draws.uniform(400.0, 1500.0, n=6),
                 draws.bernoulli(probability))


class TexturePhotos:
    """Texture photos from a folder (searched recursively), as one (T, S, S, 3) float32 array in 0..1."""

    def __init__(self, folder: str | Path, side: int = 256, max_images: int = 200) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"texture folder not found: {folder}")
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:max_images]
        images, self.unreadable = [], []
        for path in paths:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None or min(img.shape[:2]) < 16:
                self.unreadable.append(str(path))
                continue
            images.append(cv2.cvtColor(cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
        if not images:
            raise ValueError(f"no readable images in texture folder {folder}")
        self.images = np.stack(images).astype(np.float32) / 255.0
