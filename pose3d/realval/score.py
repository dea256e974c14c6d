"""Score predictions on labelled real frames: 2D against the labelled joints, 3D against the
triangulated joints, the model beside trivial baselines computed by the same code.

2D: PCK@0.2·torso (a joint is correct within 0.2 of the label's Thorax-Hip length) and the mean
torso-normalised error, on all joints and with the joints whose label disagrees with the multi-view
3D masked out. A frame where a predictor found nobody counts as wrong on every joint in PCK and is
left out of the mean error (its count is shown).

3D: P-MPJPE (similarity Procrustes, no reflections) against the triangulated joints, on the 17
joints and on the 10 limb joints (``pose3d.skeleton.LIMB_JOINTS``, aligned on those 10 alone): the
hips, spine, neck and head of the labels are defined differently from the mocap joints the model
learns (realval README, "Known biases").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pose3d.metrics import PCK2D_THRESHOLD, normalised_errors_2d, procrustes_joint_errors
from pose3d.realval.labels import RealFrame
from pose3d.skeleton import H36M17, LIMB_JOINTS

LIMBS = np.asarray(H36M17.indices(LIMB_JOINTS))


@dataclass(frozen=True)
class Truth:
    """The labels of N frames as arrays."""

    joints_2d: np.ndarray  # (N, J, 2)
    torso: np.ndarray  # (N,)
    agrees: np.ndarray  # (N, J) bool
    joints_3d: np.ndarray  # (N, J, 3), NaN where there is no triangulation
    source: np.ndarray  # (N,) str
    view: np.ndarray  # (N,) str, "source/view"

    @classmethod
    def of(cls, frames: list[RealFrame]) -> "Truth":
        J = H36M17.num_joints
        return cls(
            np.stack([f.joints_2d for f in frames]) if frames else np.zeros((0, J, 2)),
            np.array([f.torso_px for f in frames]),
            np.stack([f.agrees_with_3d for f in frames]) if frames else np.zeros((0, J), bool),
            np.stack([f.joints_3d_cam if f.joints_3d_cam is not None else np.full((J, 3), np.nan) for f in frames])
            if frames else np.zeros((0, J, 3)),
            np.array([f.source for f in frames]),
            np.array([f.stream for f in frames]),
        )

    @property
    def has_3d(self) -> np.ndarray:
        return np.isfinite(self.joints_3d).all(axis=(-2, -1))


@dataclass(frozen=True)
class Scores2D:
    """One predictor's 2D answers scored: ``err`` (N, J) torso units, inf where it answered nothing."""

    name: str
    applies: np.ndarray  # (N,) frames the predictor was run on
    err: np.ndarray

    @classmethod
    def of(cls, name: str, pred: np.ndarray, truth: Truth, applies: np.ndarray | None = None) -> "Scores2D":
        err = normalised_errors_2d(np.asarray(pred, np.float64), truth.joints_2d, truth.torso)
        err = np.where(np.isfinite(err), err, np.inf)
        return cls(name, np.ones(len(err), bool) if applies is None else np.asarray(applies, bool), err)

    @property
    def answered(self) -> np.ndarray:
        return self.applies & np.isfinite(self.err).all(axis=-1)

    def pck(self, frames: np.ndarray, joints: np.ndarray | None = None) -> float:
        """PCK over ``frames`` (bool (N,)) ∩ applies, on ``joints`` (bool (N, J), default all)."""
        rows = frames & self.applies
        mask = np.ones_like(self.err, bool) if joints is None else joints
        m = mask[rows]
        return float((self.err[rows] <= PCK2D_THRESHOLD)[m].mean()) if m.any() else float("nan")

    def mean_error(self, frames: np.ndarray, joints: np.ndarray | None = None) -> float:
        rows = frames & self.answered
        mask = np.ones_like(self.err, bool) if joints is None else joints
        m = mask[rows]
        return float(self.err[rows][m].mean()) if m.any() else float("nan")

    def per_joint_pck(self, frames: np.ndarray) -> np.ndarray:
        rows = frames & self.applies
        return (self.err[rows] <= PCK2D_THRESHOLD).mean(axis=0) if rows.any() else np.full(self.err.shape[1], np.nan)


@dataclass(frozen=True)
class Scores3D:
    """One predictor's 3D answers scored against the triangulation: per frame, NaN where none."""

    name: str
    p_mpjpe: np.ndarray  # (N,) mm, 17 joints
    p_mpjpe_limbs: np.ndarray  # (N,) mm, the 10 limb joints aligned alone
    joint_err: np.ndarray  # (N, J) mm after the 17-joint alignment

    @classmethod
    def of(cls, name: str, pred: np.ndarray, truth: Truth) -> "Scores3D":
        pred = np.asarray(pred, np.float64)
        N, J = truth.joints_3d.shape[:2]
        ok = truth.has_3d & np.isfinite(pred).all(axis=(-2, -1))
        joint_err = np.full((N, J), np.nan)
        limbs = np.full(N, np.nan)
        if ok.any():
            joint_err[ok] = procrustes_joint_errors(pred[ok], truth.joints_3d[ok])
            limbs[ok] = procrustes_joint_errors(pred[ok][:, LIMBS], truth.joints_3d[ok][:, LIMBS]).mean(axis=-1)
        return cls(name, joint_err.mean(axis=-1), limbs, joint_err)

    def mean(self, frames: np.ndarray, limbs: bool = False) -> tuple[float, int]:
        v = (self.p_mpjpe_limbs if limbs else self.p_mpjpe)[frames]
        v = v[np.isfinite(v)]
        return (float(v.mean()) if v.size else float("nan")), int(v.size)


def summary_row(truth: Truth, s2: Scores2D | None, s3: Scores3D | None, found: np.ndarray | None) -> dict[str, Any]:
    """The headline numbers of one predictor (None where not applicable)."""
    every = np.ones(len(truth.torso), bool)
    row: dict[str, Any] = {}
    if s2 is not None:
        row |= {
            "frames": int(s2.applies.sum()),
            "answered": int(s2.answered.sum()),
            "pck": s2.pck(every),
            "pck_agreeing": s2.pck(every, truth.agrees),
            "pck_limbs": s2.pck(every, np.isin(np.arange(truth.agrees.shape[1]), LIMBS)[None].repeat(len(every), 0)),
            "mean_error_torso": s2.mean_error(every),
        }
    if found is not None and s2 is not None:
        row["found"] = int((found & s2.applies).sum())
    if s3 is not None:
        applies = s2.applies if s2 is not None else every
        (m17, n17), (m10, _) = s3.mean(applies), s3.mean(applies, limbs=True)
        row |= {"p_mpjpe": m17, "p_mpjpe_frames": n17, "p_mpjpe_limbs": m10}
    return row
