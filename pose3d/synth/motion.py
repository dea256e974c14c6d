"""A moving person from a pose-bank clip: poses in time order, resampled to a frame rate, one body."""

from __future__ import annotations

import numpy as np

from pose3d.data.posebank import PoseBank
from pose3d.skeleton import H36M17, bone_lengths, retarget


def clip_motion(bank: PoseBank, clip: str, fps: float, seconds: float, start_s: float = 0.0) -> np.ndarray:
    """(T, 17, 3) world poses (mm, Z up, floor at z = 0) of ``clip`` from ``start_s``, at ``fps``.

    The bank keeps a clip's frames only where the pose changed (and gives each its own body), so the
    kept frames are interpolated linearly in time at their source frame times and every frame is
    retargeted onto the body of the clip's first pose.
    """
    if clip not in bank.clip_names:
        raise KeyError(f"no clip {clip!r} in the pose bank; e.g. {', '.join(bank.clip_names[:5])}")
    c = bank.clip_names.index(clip)
    sub = bank.subset(np.flatnonzero(bank.clip == c))
    order = np.argsort(sub.frame)
    world = sub.world_poses()[order].astype(np.float64)  # (K, 17, 3)
    times = sub.frame[order] / float(bank.clip_fps[c])
    t = times[0] + start_s + np.arange(max(int(round(seconds * fps)), 1)) / fps
    if t[-1] > times[-1]:
        raise ValueError(
            f"clip {clip!r} lasts {times[-1] - times[0]:.1f} s; cannot show {seconds:.1f} s from {start_s:.1f} s"
        )
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    w = ((t - times[i]) / np.maximum(times[i + 1] - times[i], 1e-9)).clip(0.0, 1.0)[:, None, None]
    poses = (1.0 - w) * world[i] + w * world[i + 1]
    lengths = bone_lengths(world[0])
    rel = retarget(poses - poses[:, :1], lengths)
    placed = rel + poses[:, :1]
    # Keep the lower ankle's height above the floor: retargeting moved the joints about the pelvis.
    ankles = [H36M17.index("LFoot"), H36M17.index("RFoot")]
    placed[..., 2] += (poses[:, ankles, 2].min(-1) - placed[:, ankles, 2].min(-1))[:, None]
    return placed
