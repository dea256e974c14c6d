"""A moving person from a pose-bank clip: poses in time order, resampled to a frame rate, one body."""

from __future__ import annotations

import numpy as np

from pose3d.data.posebank import PoseBank
from pose3d.skeleton import H36M17, bone_lengths, retarget


def _clip_times(bank: PoseBank, clip: str, fps: float, seconds: float, start_s: float):
    """The kept poses of ``clip`` in time order, and for each output frame the kept pose before it
    (T,) and the (T,) weight of the one after it (linear in the source frame times)."""
    if clip not in bank.clip_names:
        raise KeyError(f"no clip {clip!r} in the pose bank; e.g. {', '.join(bank.clip_names[:5])}")
    c = bank.clip_names.index(clip)
    sub = bank.subset(np.flatnonzero(bank.clip == c))
    sub = sub.subset(np.argsort(sub.frame))
    times = sub.frame / float(bank.clip_fps[c])
    t = times[0] + start_s + np.arange(max(int(round(seconds * fps)), 1)) / fps
    if t[-1] > times[-1]:
        raise ValueError(
            f"clip {clip!r} lasts {times[-1] - times[0]:.1f} s; cannot show {seconds:.1f} s from {start_s:.1f} s"
        )
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    return sub, i, ((t - times[i]) / np.maximum(times[i + 1] - times[i], 1e-9)).clip(0.0, 1.0)


def clip_motion(bank: PoseBank, clip: str, fps: float, seconds: float, start_s: float = 0.0) -> np.ndarray:
    """(T, 17, 3) world poses (mm, Z up, floor at z = 0) of ``clip`` from ``start_s``, at ``fps``.

    The bank keeps a clip's frames only where the pose changed (and gives each its own body), so the
    kept frames are interpolated linearly in time at their source frame times and every frame is
    retargeted onto the body of the clip's first pose.
    """
    sub, i, w = _clip_times(bank, clip, fps, seconds, start_s)
    world = sub.world_poses().astype(np.float64)  # (K, 17, 3)
    w = w[:, None, None]
    poses = (1.0 - w) * world[i] + w * world[i + 1]
    lengths = bone_lengths(world[0])
    rel = retarget(poses - poses[:, :1], lengths)
    placed = rel + poses[:, :1]
    # Keep the lower ankle's height above the floor: retargeting moved the joints about the pelvis.
    ankles = [H36M17.index("LFoot"), H36M17.index("RFoot")]
    placed[..., 2] += (poses[:, ankles, 2].min(-1) - placed[:, ankles, 2].min(-1))[:, None]
    return placed


def clip_drivers(bank: PoseBank, clip: str, fps: float, seconds: float, start_s: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same clip as ``clip_motion`` as joint rotations, for a skinned body: (T, 21, 3, 3) world
    driver rotations (``pose3d.mocap.drivers``; each driver turned along the shortest path between
    the kept frames around each time), (T, 3) pelvis positions (mm, interpolated linearly) and the
    (T,) leg length (mm) of the bank body they belong to, to rescale the pelvis height to another body."""
    from pose3d.rotations import rotmat_to_rotvec, rotvec_to_rotmat, yaw_to_rotmat

    sub, i, w = _clip_times(bank, clip, fps, seconds, start_s)
    R = np.einsum("kij,kdjl->kdil", yaw_to_rotmat(sub.yaw), sub.driver_rotations())  # (K, 21, 3, 3)
    root = sub.root_world.astype(np.float64)
    step = rotmat_to_rotvec(np.einsum("tdji,tdjk->tdik", R[i], R[i + 1]))  # R_i^T R_i+1 as rotation vectors
    drivers = np.einsum("tdij,tdjk->tdik", R[i], rotvec_to_rotmat(step * w[:, None, None]))
    legs = bone_lengths(sub.poses.astype(np.float64))
    names = H36M17.bone_names
    leg = legs[:, [names.index(n) for n in ("RHip-RKnee", "RKnee-RFoot", "LHip-LKnee", "LKnee-LFoot")]].sum(-1) / 2
    return drivers, (1.0 - w)[:, None] * root[i] + w[:, None] * root[i + 1], (1.0 - w) * leg[i] + w * leg[i + 1]
