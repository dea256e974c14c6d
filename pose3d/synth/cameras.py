"""Camera sampling for synthetic views, and the real Human3.6M rigs.

Views are sampled around a target point (the person's pelvis) in a Z-up world, in mm: distance
2.5-7 m, camera height 0.5-2.2 m, any azimuth, elevation of the line of sight -10..35 degrees, focal
lengths and image sizes of real rigs, a small roll, off-centre framing and mild lens distortion.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pose3d.camera import Camera, load_h36m_cameras
from pose3d.synth.draws import Draws

# (width, height) of common rigs: Human3.6M, HD video landscape and portrait, VGA webcams.
IMAGE_SIZES = ((1000, 1000), (1000, 1002), (1920, 1080), (1280, 720), (1080, 1920), (640, 480))


@dataclass(frozen=True)
class ViewSpec:
    distance_mm: tuple[float, float] = (2500.0, 7000.0)
    height_mm: tuple[float, float] = (500.0, 2200.0)
    elevation_deg: tuple[float, float] = (-10.0, 35.0)
    focal_over_size: tuple[float, float] = (0.8, 1.6)  # focal length / larger image side (H36M: 1.145)
    roll_deg: float = 5.0
    off_centre: float = 0.25  # the target may sit this fraction of the half-image away from the centre
    k1: tuple[float, float] = (-0.2, 0.05)
    image_sizes: tuple[tuple[int, int], ...] = IMAGE_SIZES


def look_at(center: np.ndarray, aim: np.ndarray, roll: np.ndarray | float = 0.0) -> np.ndarray:
    """(..., 3, 3) world-to-camera rotations of cameras at ``center`` (..., 3) looking at ``aim``
    (..., 3) in a Z-up world (camera X right, Y down, Z forward), rolled by ``roll`` radians about
    the optical axis."""
    z = aim - center
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    x = np.cross(z, [0.0, 0.0, 1.0])
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    # Looking straight up or down: any horizontal right vector will do.
    x = np.where(norm < 1e-6, [1.0, 0.0, 0.0], x / np.maximum(norm, 1e-12))
    y = np.cross(z, x)
    c, s = np.cos(roll)[..., None], np.sin(roll)[..., None]
    return np.stack([c * x + s * y, -s * x + c * y, z], axis=-2)


def sample_cameras(draws: Draws, targets: np.ndarray, spec: ViewSpec = ViewSpec()) -> Camera:
    """A batch of random realistic cameras, one looking at each target (B, 3) world mm.

    The line of sight's elevation is sampled inside both the elevation range and what the height
    range allows at the sampled distance (a person high in a jump may force the nearest legal value).
    """
    targets = np.asarray(targets, dtype=np.float64)
    B = targets.shape[0]
    dist = draws.uniform(*spec.distance_mm)
    lo_e, hi_e = np.radians(spec.elevation_deg)
    lo = np.maximum(lo_e, np.arcsin(np.clip((spec.height_mm[0] - targets[:, 2]) / dist, -1, 1)))
    hi = np.minimum(hi_e, np.arcsin(np.clip((spec.height_mm[1] - targets[:, 2]) / dist, -1, 1)))
    hi = np.maximum(hi, lo)
    elevation = draws.uniform(lo, hi)
    azimuth = draws.uniform(0.0, 2.0 * np.pi)
    horizontal = dist * np.cos(elevation)
    center = targets + np.stack(
        [horizontal * np.cos(azimuth), horizontal * np.sin(azimuth), dist * np.sin(elevation)], axis=-1
    )
    sizes = np.asarray(spec.image_sizes)[draws.integers(len(spec.image_sizes))]  # (B, 2)
    f = draws.uniform(*spec.focal_over_size) * sizes.max(-1)
    # Off-centre framing: aim beside the target by up to off_centre of the half-image.
    R0 = look_at(center, targets)
    offset = (draws.uniform(-1.0, 1.0, n=2) * spec.off_centre * sizes / 2.0) / f[:, None] * dist[:, None]
    aim = targets + offset[:, :1] * R0[:, 0] + offset[:, 1:] * R0[:, 1]
    R = look_at(center, aim, np.radians(draws.uniform(-spec.roll_deg, spec.roll_deg)))
    k1 = draws.uniform(*spec.k1)
    return Camera.from_center(
        R,
        center,
        f=np.stack([f, f * draws.uniform(0.995, 1.005)], axis=-1),
        # The image centre with pixel centres at integers ((W - 1) / 2, as pose3d.crop and the runtime), jittered.
        c=(sizes - 1.0) / 2.0 + draws.uniform(-0.02, 0.02, n=2) * sizes,
        k=np.stack([k1, 0.8 * k1 * k1, np.zeros(B)], axis=-1),
        p=draws.uniform(-1e-3, 1e-3, n=2),
        size=sizes,
        name="synthetic",
    )


@lru_cache(maxsize=1)
def h36m_rigs() -> tuple[Camera, ...]:
    """The 28 real Human3.6M cameras (7 subjects x 4), for views like the dataset's."""
    return tuple(cam for four in load_h36m_cameras().values() for cam in four)
