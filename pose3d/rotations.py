"""Rotation matrices from the parametrisations that motion-capture files use.

All functions are batched over leading dimensions and use the column-vector convention
(``v_rotated = R @ v``) unless their name says otherwise. Angles are in radians.
"""

from __future__ import annotations

import numpy as np


def axis_angle_to_rotmat(axis: str, angle: np.ndarray) -> np.ndarray:
    """(...) angles about the x, y or z axis -> (..., 3, 3) rotation matrices."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    rows = {
        "x": ((one, zero, zero), (zero, c, -s), (zero, s, c)),
        "y": ((c, zero, s), (zero, one, zero), (-s, zero, c)),
        "z": ((c, -s, zero), (s, c, zero), (zero, zero, one)),
    }[axis.lower()]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_rotmat(angles: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) intrinsic Euler angles applied in ``order`` (e.g. "zxy") -> (..., 3, 3).

    This is the BVH convention: channels "Zrotation Xrotation Yrotation" give R = Rz Rx Ry.
    """
    angles = np.asarray(angles, dtype=np.float64)
    R = axis_angle_to_rotmat(order[0], angles[..., 0])
    for i in (1, 2):
        R = R @ axis_angle_to_rotmat(order[i], angles[..., i])
    return R


def rotvec_to_rotmat(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (exponential map: axis * angle) -> (..., 3, 3), Rodrigues' formula."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    theta = np.linalg.norm(rotvec, axis=-1, keepdims=True)[..., None]  # (..., 1, 1)
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    k = rotvec[..., None, :] / safe  # (..., 1, 3) unit axis where theta is not tiny
    kx, ky, kz = k[..., 0, 0], k[..., 0, 1], k[..., 0, 2]
    zero = np.zeros_like(kx)
    K = np.stack(
        [np.stack([zero, -kz, ky], -1), np.stack([kz, zero, -kx], -1), np.stack([-ky, kx, zero], -1)], -2
    )  # (..., 3, 3) cross-product matrix
    eye = np.eye(3)
    R = eye + np.sin(safe) * K + (1 - np.cos(safe)) * (K @ K)
    return np.where(small, eye, R)


def yaw_to_rotmat(yaw: np.ndarray) -> np.ndarray:
    """(...) rotations about the vertical Z axis of a Z-up world -> (..., 3, 3)."""
    return axis_angle_to_rotmat("z", yaw)
