"""Human3.6M-like bodies: bone lengths around subject S9's, varied in stature and proportions.

Variation model (factors multiply S9's lengths; left and right always equal):
- stature: one factor for the whole body, sd 5.5 % (S9's ~1.76 m -> about 1.57-1.95 m at 2 sd),
  the spread of adult height in a mixed-sex population;
- proportions: a factor per body part (legs, torso, arms sd 3-3.5 %, neck and head 4 %,
  shoulder and hip width 6-7 %), and a further 2 % per long bone, the order of the coefficients of
  variation of segment lengths relative to stature in anthropometric surveys.
Every factor is clipped to 3 sd so that no sample is anatomically absurd.
"""

from __future__ import annotations

import numpy as np

from pose3d.skeleton import H36M17, Skeleton, s9_bone_lengths

STATURE_SD = 0.055
# body part -> (sd of its shared factor, child joints of its bones, sd of each bone's own factor)
PART_SD: dict[str, tuple[float, tuple[str, ...], float]] = {
    "legs": (0.03, ("Knee", "Foot"), 0.02),
    "torso": (0.035, ("Spine", "Thorax"), 0.02),
    "neck_head": (0.04, ("Neck", "Head"), 0.02),
    "arms": (0.03, ("Elbow", "Wrist"), 0.02),
    "shoulder_width": (0.06, ("Shoulder",), 0.0),
    "hip_width": (0.07, ("Hip",), 0.0),
}

#: Plausible adult range of every bone, as a factor of S9's length; used to validate a bank.
BONE_RANGE_FACTOR = (0.6, 1.4)


def _bone_part(skeleton: Skeleton) -> list[str]:
    """Side-free name of each bone's child joint ("RKnee" -> "Knee")."""
    sided = {skeleton.names[i][1:] for pair in skeleton.mirror_pairs for i in pair}
    names = [skeleton.names[child] for child, _ in skeleton.bones]
    return [n[1:] if n[1:] in sided else n for n in names]


def _clipped_normal(rng: np.random.Generator, sd: float, size: tuple[int, ...]) -> np.ndarray:
    return 1.0 + sd * np.clip(rng.standard_normal(size), -3.0, 3.0)


def sample_bone_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, B) bone lengths in mm for n random bodies, in the order of ``H36M17.bones``."""
    parts = _bone_part(H36M17)
    factor = np.repeat(_clipped_normal(rng, STATURE_SD, (n, 1)), len(parts), axis=1)  # (n, B)
    for part_sd, members, bone_sd in PART_SD.values():
        shared = _clipped_normal(rng, part_sd, (n,))
        for name in members:
            own = _clipped_normal(rng, bone_sd, (n,)) if bone_sd > 0 else 1.0
            for b, part in enumerate(parts):
                if part == name:  # left and right bones of a part get the same factor
                    factor[:, b] *= shared * own
    return s9_bone_lengths()[None, :] * factor
