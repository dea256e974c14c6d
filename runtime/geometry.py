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


@numba.njit(cache=True)
def _fit_translation(pose, uv, f, c, out):
    """Least squares for t in u = f (X + t) / (Z + t_z) + c, which is linear in t:
    f t_x - (u - c_x) t_z = (u - c_x) Z - f X (and the same in y). Normal equations, 3 x 3."""
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for j in range(pose.shape[0]):
        for axis in range(2):
            du = uv[j, axis] - c[axis]
            row = np.zeros(3)
            row[axis] = f[axis]
            row[2] = -du
            rhs = du * pose[j, 2] - f[axis] * pose[j, axis]
            for p in range(3):
                b[p] += row[p] * rhs
                for q in range(3):
                    A[p, q] += row[p] * row[q]
    _solve3(A, b, out)


@numba.njit(cache=True)
def _det3(M):
    return (M[0, 0] * (M[1, 1] * M[2, 2] - M[1, 2] * M[2, 1]) - M[0, 1] * (M[1, 0] * M[2, 2] - M[1, 2] * M[2, 0])
            + M[0, 2] * (M[1, 0] * M[2, 1] - M[1, 1] * M[2, 0]))


@numba.njit(cache=True)
def _solve3(A, b, out):
    """A 3 x 3 linear system by Cramer's rule (numba's np.linalg needs SciPy's LAPACK, which the
    runtime does not install)."""
    det = _det3(A)
    for col in range(3):
        M = A.copy()
        for r in range(3):
            M[r, col] = b[r]
        out[col] = _det3(M) / det


def fit_translation(pose_mm: np.ndarray, joints_px: np.ndarray, f: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The camera-frame position (3,) mm of a root-relative pose (J, 3) that best projects onto the
    2D joints (J, 2) through a pinhole camera with focal lengths ``f`` and centre ``c`` (pixels):
    the back-projection that places the predicted pose in front of the camera."""
    out = np.empty(3)
    _fit_translation(np.asarray(pose_mm, np.float64), np.asarray(joints_px, np.float64),
                     np.asarray(f, np.float64), np.asarray(c, np.float64), out)
    return out


def pinhole(f: float | np.ndarray, c: np.ndarray) -> Camera:
    """A distortion-free camera at the origin (for projecting camera-frame points)."""
    f = np.broadcast_to(np.asarray(f, np.float64), (2,)).copy()
    return Camera(R=np.eye(3), t=np.zeros(3), f=f, c=np.asarray(c, np.float64), k=np.zeros(3), p=np.zeros(2))
