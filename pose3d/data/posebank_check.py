"""Checks that a pose bank holds plausible human poses; the converter prints them after a build.

- finite: every value is a number;
- bone lengths: every bone within ``BONE_RANGE_FACTOR`` of subject S9's length;
- left/right: the shoulder line and the hip line point the same way (a torso cannot twist by more
  than 90 degrees, so a swapped label shows up as the two lines disagreeing);
- ground: in standing frames (both knees fairly straight, pelvis high) the lower ankle sits a
  believable height above the floor, in all but the airborne ones (jumps, steps, uneven ground).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.data.bodies import BONE_RANGE_FACTOR
from pose3d.data.posebank import PoseBank
from pose3d.skeleton import H36M17, bone_lengths, s9_bone_lengths

STANDING_KNEE_DEG = 150.0  # both knees straighter than this (CMU subjects stand with soft knees) ...
STANDING_PELVIS_FRACTION = 0.85  # ... and the pelvis at least this fraction of the leg length high
ANKLE_HEIGHT_RANGE_MM = (20.0, 200.0)  # lower ankle above the floor when standing
MIN_AGREEMENT = 0.97  # fraction of poses that must pass the left/right check
# Fraction of standing poses whose ankle must be near the floor: upright poses in the air (jumps,
# uneven terrain, steps) are legitimately off it.
MIN_GROUNDED = 0.9


@dataclass(frozen=True)
class BankCheck:
    name: str
    passed: bool
    detail: str


def _knee_angle_deg(poses: np.ndarray, side: str) -> np.ndarray:
    hip, knee, ankle = (poses[:, H36M17.index(side + j)] for j in ("Hip", "Knee", "Foot"))
    a, b = hip - knee, ankle - knee
    cos = np.einsum("ni,ni->n", a, b) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def standing_mask(bank: PoseBank) -> np.ndarray:
    """(N,) True where both knees are nearly straight and the pelvis is high above the ankles."""
    p = bank.poses
    straight = (_knee_angle_deg(p, "L") > STANDING_KNEE_DEG) & (_knee_angle_deg(p, "R") > STANDING_KNEE_DEG)
    lengths = bone_lengths(p)
    names = H36M17.bone_names
    leg = lengths[:, [names.index("RHip-RKnee"), names.index("RKnee-RFoot")]].sum(-1)
    ankles = [H36M17.index("LFoot"), H36M17.index("RFoot")]
    pelvis_above_ankle = -p[:, ankles, 2].min(-1)
    return straight & (pelvis_above_ankle > STANDING_PELVIS_FRACTION * leg)


def check_bank(bank: PoseBank) -> list[BankCheck]:
    checks = []
    finite = bool(np.isfinite(bank.poses).all() and np.isfinite(bank.root_world).all() and np.isfinite(bank.yaw).all())
    checks.append(BankCheck("finite", finite, "all values finite" if finite else "NaN or inf present"))

    ratio = bone_lengths(bank.poses) / s9_bone_lengths()
    lo, hi = BONE_RANGE_FACTOR
    bad = (ratio < lo) | (ratio > hi)
    checks.append(
        BankCheck(
            "bone lengths",
            not bad.any(),
            f"bone/S9 ratio {ratio.min():.2f}..{ratio.max():.2f} (allowed {lo}..{hi}); {int(bad.any(-1).sum())} poses outside",
        )
    )

    p = bank.poses
    hips = p[:, H36M17.index("LHip")] - p[:, H36M17.index("RHip")]
    shoulders = p[:, H36M17.index("LShoulder")] - p[:, H36M17.index("RShoulder")]
    agree = float((np.einsum("ni,ni->n", hips[:, :2], shoulders[:, :2]) > 0).mean())
    checks.append(
        BankCheck("left/right", agree >= MIN_AGREEMENT, f"shoulder and hip lines agree in {100 * agree:.1f} % of poses")
    )

    standing = standing_mask(bank)
    ankles = [H36M17.index("LFoot"), H36M17.index("RFoot")]
    height = bank.root_world[standing, 2] + p[standing][:, ankles, 2].min(-1)
    lo_h, hi_h = ANKLE_HEIGHT_RANGE_MM
    ok = float(((height >= lo_h) & (height <= hi_h)).mean()) if standing.any() else 0.0
    detail = (
        f"{int(standing.sum())} standing poses; lower ankle {np.median(height):.0f} mm above the floor (median), "
        f"{100 * ok:.1f} % within {lo_h:.0f}-{hi_h:.0f} mm"
        if standing.any()
        else "no standing poses"
    )
    checks.append(BankCheck("feet on the ground", ok >= MIN_GROUNDED, detail))
    return checks
