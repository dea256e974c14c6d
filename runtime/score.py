"""A per-pose score from the agreement of the model's two heads: the fallback for models exported
without a person head (with one, the score is its person probability: ``pose3d.models.person``).

The network predicts the 3D pose and, from the same features, the 2D joints in the crop. On a crop
that holds a person the two agree: the 3D pose seen by a weak-perspective camera (a scale and a
shift) lands on the 2D joints. On a crop of background they are each a guess and rarely agree.

``agreement`` fits that scale and shift in closed form and returns the residual's RMS relative to the
size of the 2D joints; ``score`` maps it to (0, 1]: 1 for perfect agreement, 0.5 at ``HALF``. It is a
heuristic for ranking and for dropping a lost track, not a calibrated probability (README gives its
distribution on person and background crops).
"""

from __future__ import annotations

import numpy as np

HALF = 0.06  # relative residual that scores 0.5 (person crops: median 0.04; background: 0.056)


def agreement(pose_mm: np.ndarray, joints_2d: np.ndarray) -> np.ndarray:
    """(B, J, 3) camera-frame poses and (B, J, 2) joints -> (B,) relative RMS residual of the best
    weak-perspective fit of the first onto the second."""
    P = np.asarray(pose_mm, dtype=np.float64)[..., :2]
    u = np.asarray(joints_2d, dtype=np.float64)
    Pc = P - P.mean(axis=-2, keepdims=True)
    uc = u - u.mean(axis=-2, keepdims=True)
    s = (Pc * uc).sum(axis=(-2, -1)) / np.maximum((Pc * Pc).sum(axis=(-2, -1)), 1e-9)
    s = np.maximum(s, 0.0)  # a mirrored fit is no agreement
    residual = uc - s[..., None, None] * Pc
    rms = np.sqrt((residual**2).sum(axis=-1).mean(axis=-1))
    extent = np.maximum((u.max(axis=-2) - u.min(axis=-2)).max(axis=-1), 1e-6)
    return rms / extent


def score(pose_mm: np.ndarray, joints_2d: np.ndarray) -> np.ndarray:
    """(B,) scores in (0, 1]: 1 / (1 + (agreement / HALF)^2)."""
    r = agreement(pose_mm, joints_2d) / HALF
    return 1.0 / (1.0 + r * r)
