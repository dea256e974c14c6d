"""Camera geometry: the ``Camera`` value, world <-> camera transforms, projection and back-projection.

Frames and units
- World frame: millimetres. Human3.6M's world (and the pose bank's) has Z up.
- Camera frame: millimetres, X right, Y down, Z forward (along the optical axis):
  ``X_cam = R @ X_world + t``, so the camera centre in the world is ``-R.T @ t``.
- Pixels: ``u = fx * x_d + cx``, ``v = fy * y_d + cy`` with (x_d, y_d) the distorted normalised
  coordinates. Distortion is Human3.6M's own formulation (../shared/h36m/FORMATS.md), not OpenCV's.

Every function takes points with any number of leading batch dimensions, (..., N, 3) or (..., N, 2),
and parameters with leading dimensions that broadcast against the points' (R: (..., 3, 3),
t: (..., 3), f, c, p: (..., 2), k: (..., 3)). Inputs may be NumPy arrays or torch tensors; the
result has the array type, dtype and device of the points, and is differentiable in torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from pose3d.arrays import as_float_array, like, namespace

# -- pure functions -------------------------------------------------------------------------------


def world_to_camera(x_world: Any, R: Any, t: Any) -> Any:
    """(..., N, 3) world points (mm) -> (..., N, 3) camera-frame points (mm)."""
    xp = namespace(x_world)
    R, t = like(R, x_world), like(t, x_world)
    return xp.matmul(x_world, xp.matrix_transpose(R)) + t[..., None, :]


def camera_to_world(x_cam: Any, R: Any, t: Any) -> Any:
    """(..., N, 3) camera-frame points (mm) -> (..., N, 3) world points (mm)."""
    xp = namespace(x_cam)
    R, t = like(R, x_cam), like(t, x_cam)
    return xp.matmul(x_cam - t[..., None, :], R)


def distort(xy: Any, k: Any, p: Any) -> Any:
    """(..., N, 2) normalised image coordinates (x/z, y/z) -> distorted ones (Human3.6M model).

    radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3,  tan = p1 y + p2 x,
    x_d = x (radial + tan) + p2 r2,  y_d = y (radial + tan) + p1 r2.
    """
    xp = namespace(xy)
    k, p = like(k, xy)[..., None, :], like(p, xy)[..., None, :]  # (..., 1, 3), (..., 1, 2)
    x, y = xy[..., 0:1], xy[..., 1:2]
    r2 = x * x + y * y
    radial = 1 + r2 * (k[..., 0:1] + r2 * (k[..., 1:2] + r2 * k[..., 2:3]))
    tan = p[..., 0:1] * y + p[..., 1:2] * x
    scale = radial + tan
    return xp.concat([x * scale + p[..., 1:2] * r2, y * scale + p[..., 0:1] * r2], axis=-1)


def undistort(xy_d: Any, k: Any, p: Any, iterations: int = 50) -> Any:
    """Inverse of ``distort`` by fixed-point iteration: (..., N, 2) distorted -> normalised.

    Converges inside the image for real lenses (|distortion| well below the coordinates' size);
    far outside the calibrated field the polynomial model is not invertible and neither is this.
    """
    xp = namespace(xy_d)
    k, p = like(k, xy_d)[..., None, :], like(p, xy_d)[..., None, :]
    xy = xy_d
    for _ in range(iterations):
        x, y = xy[..., 0:1], xy[..., 1:2]
        r2 = x * x + y * y
        radial = 1 + r2 * (k[..., 0:1] + r2 * (k[..., 1:2] + r2 * k[..., 2:3]))
        scale = radial + p[..., 0:1] * y + p[..., 1:2] * x
        xy = xp.concat(
            [(xy_d[..., 0:1] - p[..., 1:2] * r2) / scale, (xy_d[..., 1:2] - p[..., 0:1] * r2) / scale],
            axis=-1,
        )
    return xy


def project(x_cam: Any, f: Any, c: Any, k: Any = None, p: Any = None) -> Any:
    """(..., N, 3) camera-frame points (mm) -> (..., N, 2) pixels.

    Points must be in front of the camera (z > 0); see ``in_front``. ``k``/``p`` default to no
    distortion.
    """
    xy = x_cam[..., :2] / x_cam[..., 2:3]
    if k is not None or p is not None:
        xy = distort(xy, np.zeros(3) if k is None else k, np.zeros(2) if p is None else p)
    return xy * like(f, x_cam)[..., None, :] + like(c, x_cam)[..., None, :]


def pixel_to_ray(uv: Any, f: Any, c: Any, k: Any = None, p: Any = None) -> Any:
    """(..., N, 2) pixels -> (..., N, 3) unit ray directions in the camera frame.

    The ray of a pixel is every camera-frame point ``s * ray`` (s > 0) that projects onto it.
    """
    xp = namespace(uv)
    uv = as_float_array(uv)
    xy = (uv - like(c, uv)[..., None, :]) / like(f, uv)[..., None, :]
    if k is not None or p is not None:
        xy = undistort(xy, np.zeros(3) if k is None else k, np.zeros(2) if p is None else p)
    ray = xp.concat([xy, xp.ones_like(xy[..., :1])], axis=-1)
    return ray / xp.sqrt(xp.sum(ray * ray, axis=-1, keepdims=True))


def in_front(x_cam: Any, min_depth_mm: float = 1.0) -> Any:
    """(..., N, 3) camera-frame points -> (..., N) bool, True where depth exceeds ``min_depth_mm``."""
    return x_cam[..., 2] > min_depth_mm


# -- the Camera value -----------------------------------------------------------------------------


def _vec(x: Any, n: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.shape[-1:] != (n,):
        raise ValueError(f"expected a trailing dimension of {n}, got shape {a.shape}")
    return a


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated pinhole camera with Human3.6M-style lens distortion.

    R: (..., 3, 3) world-to-camera rotation; t: (..., 3) translation in mm (``X_cam = R X + t``);
    f, c: (..., 2) focal length and principal point in pixels; k: (..., 3) radial and p: (..., 2)
    tangential distortion; size: (width, height) in pixels. Leading dimensions make a batch of
    cameras that broadcasts against the points' leading dimensions; a batch may carry one size per
    camera as an int array (..., 2).
    """

    R: np.ndarray
    t: np.ndarray
    f: np.ndarray
    c: np.ndarray
    k: np.ndarray = field(default_factory=lambda: np.zeros(3))
    p: np.ndarray = field(default_factory=lambda: np.zeros(2))
    size: tuple[int, int] | np.ndarray = (1000, 1000)
    name: str = ""

    def __post_init__(self) -> None:
        R = np.asarray(self.R, dtype=np.float64)
        if R.shape[-2:] != (3, 3):
            raise ValueError(f"R must have shape (..., 3, 3), got {R.shape}")
        object.__setattr__(self, "R", R)
        for attr, n in (("t", 3), ("f", 2), ("c", 2), ("k", 3), ("p", 2)):
            object.__setattr__(self, attr, _vec(getattr(self, attr), n))
        size = np.asarray(self.size)
        if size.shape[-1:] != (2,):
            raise ValueError(f"size must be (width, height), got {self.size!r}")
        object.__setattr__(self, "size", (int(size[0]), int(size[1])) if size.ndim == 1 else size.astype(np.int64))

    def __getitem__(self, index: int) -> "Camera":
        """One camera of a batch."""
        size = self.size if isinstance(self.size, tuple) else self.size[index]
        return Camera(self.R[index], self.t[index], self.f[index], self.c[index], self.k[index], self.p[index], size, self.name)

    @classmethod
    def from_center(cls, R: Any, center: Any, **kwargs: Any) -> "Camera":
        """Build from the rotation and the camera centre in world mm (``t = -R @ center``)."""
        R = np.asarray(R, dtype=np.float64)
        t = -np.einsum("...ij,...j->...i", R, _vec(center, 3))
        return cls(R=R, t=t, **kwargs)

    @property
    def center(self) -> np.ndarray:
        """(..., 3) camera centre in world mm."""
        return -np.einsum("...ji,...j->...i", self.R, self.t)

    @property
    def distortion(self) -> bool:
        return bool(np.any(self.k != 0) or np.any(self.p != 0))

    def world_to_camera(self, x_world: Any) -> Any:
        return world_to_camera(x_world, self.R, self.t)

    def camera_to_world(self, x_cam: Any) -> Any:
        return camera_to_world(x_cam, self.R, self.t)

    def project_camera(self, x_cam: Any, distort: bool = True) -> Any:
        """(..., N, 3) camera-frame points -> (..., N, 2) pixels."""
        if distort and self.distortion:
            return project(x_cam, self.f, self.c, self.k, self.p)
        return project(x_cam, self.f, self.c)

    def project(self, x_world: Any, distort: bool = True) -> Any:
        """(..., N, 3) world points -> (..., N, 2) pixels."""
        return self.project_camera(self.world_to_camera(x_world), distort=distort)

    def pixel_to_ray(self, uv: Any, frame: str = "camera") -> Any:
        """(..., N, 2) pixels -> (..., N, 3) unit rays, in the camera frame or the world frame.

        World rays start at ``self.center``.
        """
        if self.distortion:
            ray = pixel_to_ray(uv, self.f, self.c, self.k, self.p)
        else:
            ray = pixel_to_ray(uv, self.f, self.c)
        if frame == "camera":
            return ray
        if frame == "world":
            xp = namespace(ray)
            return xp.matmul(ray, like(self.R, ray))
        raise ValueError(f"frame must be 'camera' or 'world', got {frame!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (unbatched cameras)."""
        return {
            "name": self.name,
            "R_world_to_camera": self.R.tolist(),
            "t_mm": self.t.tolist(),
            "focal_length_px": self.f.tolist(),
            "principal_point_px": self.c.tolist(),
            "radial_k1_k2_k3": self.k.tolist(),
            "tangential_p1_p2": self.p.tolist(),
            "image_size": list(self.size),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Camera":
        """Inverse of ``to_dict``; also reads the bundled calibration's entries (camera centre)."""
        common = dict(
            f=d["focal_length_px"],
            c=d["principal_point_px"],
            k=d.get("radial_k1_k2_k3", np.zeros(3)),
            p=d.get("tangential_p1_p2", np.zeros(2)),
            size=tuple(d["image_size"]),
            name=str(d.get("name", "")),
        )
        if "t_mm" in d:
            return cls(R=d["R_world_to_camera"], t=d["t_mm"], **common)
        return cls.from_center(d["R_world_to_camera"], d["camera_center_world_mm"], **common)


# -- the bundled Human3.6M calibration ------------------------------------------------------------

H36M_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
H36M_CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")


@lru_cache(maxsize=1)
def _h36m_calibration() -> dict[str, Any]:
    text = resources.files("pose3d").joinpath("assets/h36m_cameras.json").read_text()
    return json.loads(text)


def load_h36m_cameras() -> dict[str, tuple[Camera, ...]]:
    """The Human3.6M calibration: subject -> its 4 cameras (camera order 1..4), named "S9/54138969"."""
    out = {}
    for subject, entries in _h36m_calibration()["subjects"].items():
        cams = []
        for e in sorted(entries, key=lambda e: e["index"]):
            cams.append(Camera.from_dict({**e, "name": f"{subject}/{e['id']}"}))
        out[subject] = tuple(cams)
    return out


def h36m_camera(subject: str, camera: int | str) -> Camera:
    """One bundled Human3.6M camera, by subject ("S9") and index (1..4) or id ("54138969")."""
    cams = load_h36m_cameras()
    if subject not in cams:
        raise KeyError(f"unknown Human3.6M subject {subject!r}; known: {', '.join(cams)}")
    for i, cam in enumerate(cams[subject], start=1):
        if camera == i or str(camera) == cam.name.split("/")[1]:
            return cam
    raise KeyError(f"unknown camera {camera!r} for {subject}: use 1..4 or one of {H36M_CAMERA_IDS}")
