"""Numba-jitted camera projection for the runtime's per-frame work.

``project_points`` computes exactly what ``pose3d.camera.project`` does (Human3.6M distortion
model), for one camera and a flat (N, 3) array, without allocating per point; the tests check the
two agree. Compilation happens on first call and is cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np

from pose3d.camera import Camera


@numba.njit(cache=True, fastmath=False)
def _project(points: np.ndarray, f: np.ndarray, c: np.ndarray, k: np.ndarray, p: np.ndarray, out: np.ndarray) -> None:
    for i in range(points.shape[0]):
        x = points[i, 0] / points[i, 2]
        y = points[i, 1] / points[i, 2]
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k[0] + r2 * (k[1] + r2 * k[2]))
        scale = radial + p[0] * y + p[1] * x
        out[i, 0] = f[0] * (x * scale + p[1] * r2) + c[0]
        out[i, 1] = f[1] * (y * scale + p[0] * r2) + c[1]


def project_points(points_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """(N, 3) camera-frame points in mm -> (N, 2) pixels, with the camera's distortion.

    The result has the dtype of ``points_cam`` (float32 or float64).
    """
    points = np.ascontiguousarray(points_cam)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points_cam must have shape (N, 3), got {points.shape}")
    if points.dtype not in (np.float32, np.float64):
        points = points.astype(np.float64)
    dt = points.dtype
    out = np.empty((points.shape[0], 2), dtype=dt)
    _project(points, camera.f.astype(dt), camera.c.astype(dt), camera.k.astype(dt), camera.p.astype(dt), out)
    return out
