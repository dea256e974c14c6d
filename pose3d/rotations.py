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


def rotmat_to_rotvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) rotation vectors with angles in [0, pi] (the inverse
    of ``rotvec_to_rotmat``; stable near 0 and near pi)."""
    R = np.asarray(R, dtype=np.float64)
    cos = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    theta = np.arccos(cos)[..., None]  # (..., 1)
    skew = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    sin = np.sin(theta)
    # Away from pi: axis from the skew part (theta / (2 sin) -> 1/2 as theta -> 0).
    general = skew * np.where(theta < 1e-6, 0.5, theta / (2.0 * np.where(sin < 1e-12, 1.0, sin)))
    # Near pi the skew part vanishes: the axis is the column of R + I with the largest norm.
    sym = (R + np.eye(3)) / 2.0  # = a a^T at theta = pi
    col = np.argmax(np.linalg.norm(sym, axis=-2), axis=-1)  # (...)
    axis = np.take_along_axis(sym, col[..., None, None].repeat(3, axis=-2), axis=-1)[..., 0]
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    axis = axis * np.where(np.sum(axis * skew, axis=-1, keepdims=True) < 0, -1.0, 1.0)
    return np.where(theta > np.pi - 1e-3, axis * theta, general)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3) x 2 directions -> (..., 3, 3): the smallest rotation taking the direction of ``a``
    onto the direction of ``b`` (about their common normal; no twist)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    angle = np.arctan2(np.linalg.norm(axis, axis=-1), np.sum(a * b, axis=-1))[..., None]
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    # Opposite directions: any axis perpendicular to a.
    perp = np.cross(a, np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]))
    axis = np.where(norm > 1e-9, axis / np.maximum(norm, 1e-12), perp / np.linalg.norm(perp, axis=-1, keepdims=True))
    return rotvec_to_rotmat(axis * angle)
