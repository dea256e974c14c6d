"""Build the pose bank from motion capture (../shared/mocap): read, map to H36M17, retarget, thin.

For every clip:
1. read it (BVH or CMU exp-map text) and run forward kinematics; drop the rest pose in frame 0
   (and, in BVH files, the frames that blend from it into the recording);
2. map it onto the 17 Human3.6M joints in a Z-up world in mm (``pose3d.mocap.to_h36m``), and keep
   the world rotations of the 21 joints that drive a body mesh (``pose3d.mocap.drivers``);
3. check it: finite values, constant bone lengths, left/right labels agreeing with where the toes
   point; a clip that fails is reported and skipped, the others go on;
4. put every frame in a canonical heading (facing -Y) and thin it: a frame is kept when its MPJPE
   to the last kept frame of the clip, both on the reference (S9) body, is at least
   ``min_change_mm``;
5. retarget each kept frame onto its own randomly sampled Human3.6M-like body (``bodies``), with
   the pelvis height chosen so the lower ankle keeps its (scaled) height above the clip's floor;
   the driver rotations (heading removed like the positions) are stored as int16 rotation vectors.
   Retargeting keeps directions, so the rotations still turn the T-pose's limbs onto the 17 joints'
   (tested over the whole bank, < 0.2 degrees).

Clips are assigned to train/val/test by clip-level groups (recordings of the same trial stay
together), stratified by activity, deterministically from the clip names.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from pose3d.data.bodies import sample_bone_lengths
from pose3d.data.posebank import SPLITS, PoseBank
from pose3d.metrics import mpjpe
from pose3d.mocap import MocapError
from pose3d.mocap.bvh import bvh_forward_kinematics, read_bvh
from pose3d.mocap.cmu38 import Cmu38Skeleton, cmu38_forward_kinematics, read_cmu38
from pose3d.mocap.drivers import cmu38_drivers, daz_drivers, encode_rotations
from pose3d.mocap.to_h36m import H36mMotion, cmu38_to_h36m, daz_bvh_to_h36m
from pose3d.rotations import yaw_to_rotmat
from pose3d.skeleton import H36M17, bone_lengths, facing_yaw, retarget, s9_bone_lengths, to_root_relative

DEFAULT_MIN_CHANGE_MM = 10.0
# The BVH conversions blend from their added T-pose (frame 0) into the recorded motion over the
# next frames: joints jump 30-130 mm per frame there, against 1-10 mm once the recording starts.
# Those made-up poses are dropped with the T-pose.
BVH_BLEND_IN_FRAMES = 10
BONE_LENGTH_TOLERANCE = 0.01  # a clip's bones may vary by 1 % of their mean length (FK rounding)
# Bones that are one rigid segment in both source skeletons (the torso, neck and collar joints are
# mapped or derived from several source joints, so their lengths legitimately change).
RIGID_BONES = tuple(
    H36M17.bone_names.index(f"{parent}-{child}")
    for side in "LR"
    for parent, child in (("Hip", f"{side}Hip"), (f"{side}Hip", f"{side}Knee"), (f"{side}Knee", f"{side}Foot"),
                          (f"{side}Shoulder", f"{side}Elbow"), (f"{side}Elbow", f"{side}Wrist"))
)
TOE_HEIGHT_MM = 20.0  # a toe-tip joint sits about this far above the sole

# Activity labels from clip descriptions; the first rule whose keyword occurs wins.
ACTIVITY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dance", ("dance", "salsa", "pirouette")),
    ("gesture", ("signal", "traffic", "laugh", "wave")),
    ("ball sports", ("basketball", "soccer", "dribble", "kick ball")),
    ("fighting", ("martial", "karate", "boxing", "punch", "sword")),
    ("exercise", ("jumping jacks", "squat", "twist")),
    ("climb", ("climb", "ladder")),
    ("sit and stand", ("sit", "stool")),
    ("everyday actions", ("drink", "wash", "scoop", "bottle", "reach", "grab", "bend")),
    ("jump", ("jump",)),
    ("run", ("run", "jog")),
    ("walk", ("walk", "navigate", "stride")),
)
ACTIVITIES = tuple(label for label, _ in ACTIVITY_RULES)


def activity_of(description: str) -> str:
    """Activity label of a clip description (lower-cased keyword rules, ``ACTIVITY_RULES``)."""
    text = description.lower()
    for label, keywords in ACTIVITY_RULES:
        if any(k in text for k in keywords):
            return label
    return "other"


@dataclass(frozen=True)
class ClipSource:
    clip_id: str  # "<folder>/<file stem>"
    path: Path
    kind: str  # "bvh" or "cmu38"
    description: str
    fps: float
    group: str  # recordings sharing a group go to the same split


@dataclass
class BuildReport:
    """What the build read, kept and skipped; ``skipped`` maps file -> reason."""

    clips_read: int = 0
    frames_read: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def _split_group(folder: str, stem: str) -> str:
    # The salsa clips are couples: trial k's two partners are files k and k + 15.
    m = re.fullmatch(r"salsa_(\d+)", stem)
    if m:
        return f"{folder}/salsa_trial_{(int(m.group(1)) - 1) % 15 + 1}"
    return f"{folder}/{stem}"


def discover_clips(mocap_root: Path) -> tuple[list[ClipSource], dict[str, str]]:
    """Every clip under ``mocap_root``: folders with a ``manifest.json`` and ``bvh/`` or ``txt/``.

    Files present but missing from a manifest are included under their file name; manifest
    entries whose file is missing are reported.
    """
    clips: list[ClipSource] = []
    problems: dict[str, str] = {}
    if not mocap_root.is_dir():
        raise FileNotFoundError(f"mocap folder not found: {mocap_root}")
    for folder in sorted(p for p in mocap_root.iterdir() if p.is_dir()):
        manifest_path = folder / "manifest.json"
        entries = {}
        if manifest_path.exists():
            try:
                for e in json.loads(manifest_path.read_text()):
                    entries[e["file"]] = e
            except (ValueError, KeyError, TypeError) as e:
                problems[str(manifest_path)] = f"malformed manifest ({e}); using file names only"
        files = sorted(folder.glob("bvh/*.bvh")) + sorted(folder.glob("txt/*.txt"))
        for rel in sorted(set(entries) - {str(f.relative_to(folder)) for f in files}):
            problems[str(folder / rel)] = "listed in manifest.json but missing"
        for f in files:
            e = entries.get(str(f.relative_to(folder)), {})
            description = " ".join(str(e.get(k, "")) for k in ("description", "activity")).strip() or f.stem
            fps = float(e.get("fps_header", 120.0))
            true_rate = re.search(r"true rate (\d+) fps", str(e.get("note", "")))
            if true_rate:
                fps = float(true_rate.group(1))
            clips.append(
                ClipSource(
                    clip_id=f"{folder.name}/{f.stem}",
                    path=f,
                    kind="bvh" if f.suffix == ".bvh" else "cmu38",
                    description=description,
                    fps=fps,
                    group=_split_group(folder.name, f.stem),
                )
            )
    return clips, problems


def first_recorded_frame(clip: ClipSource) -> int:
    """Index of the first frame of real motion in the file: after the rest pose (and the BVH blend-in)."""
    return 1 + (BVH_BLEND_IN_FRAMES if clip.kind == "bvh" else 0)


def read_clip(clip: ClipSource) -> H36mMotion:
    """Read one clip and map it to H36M17 (rest pose and BVH blend-in dropped); MocapError on failure."""
    if clip.kind == "bvh":
        motion = read_bvh(clip.path)
        pos, rot = bvh_forward_kinematics(motion)
        try:
            mapped = daz_bvh_to_h36m(motion, pos, rot)
            drivers = daz_drivers(motion.names, rot)
        except KeyError as e:
            raise MocapError(f"{clip.path}: unknown skeleton ({e.args[0]})") from None
    else:
        skeleton = Cmu38Skeleton.read(clip.path.parent.parent / "skeleton_cmu38.json")
        rows = read_cmu38(clip.path, skeleton)
        pos, rot = cmu38_forward_kinematics(rows, skeleton)
        mapped = cmu38_to_h36m(skeleton, pos, rot)
        drivers = cmu38_drivers(skeleton.names, skeleton.parents, skeleton.offsets_mm, rot)
    first = first_recorded_frame(clip)
    poses, toes = mapped.poses[first:], mapped.toes[first:]
    if len(poses) < 2:
        raise MocapError(f"{clip.path}: fewer than 2 frames after the rest pose")
    return H36mMotion(poses, toes, drivers[first:])


def check_clip(path: Path, motion: H36mMotion) -> None:
    """Raise MocapError naming ``path`` if the mapped clip is not a plausible single body."""
    if not (np.isfinite(motion.poses).all() and np.isfinite(motion.toes).all()):
        raise MocapError(f"{path}: non-finite values (NaN or inf) after forward kinematics")
    lengths = bone_lengths(motion.poses)[:, list(RIGID_BONES)]  # (F, B_rigid)
    spread = np.abs(lengths - lengths.mean(0)).max(0) / np.maximum(lengths.mean(0), 1e-6)
    if (spread > BONE_LENGTH_TOLERANCE).any():
        worst = RIGID_BONES[int(np.argmax(spread))]
        raise MocapError(
            f"{path}: bone {H36M17.bone_names[worst]} changes length by {100 * spread.max():.1f} % within the clip"
        )
    # Left/right labels: the toes point forward, i.e. along (left hip - right hip) x up.
    forward = _forward(motion.poses)
    feet = motion.toes - motion.poses[:, [H36M17.index("LFoot"), H36M17.index("RFoot")]]  # (F, 2, 3)
    agreement = np.einsum("fi,fki->fk", forward[:, :2], feet[..., :2]).mean()
    if agreement <= 0:
        raise MocapError(f"{path}: left and right appear swapped (the toes point backwards)")


def _forward(poses: np.ndarray) -> np.ndarray:
    """(F, 3) unit horizontal facing direction of (F, 17, 3) Z-up poses."""
    yaw = facing_yaw(poses)
    return np.stack([np.sin(yaw), -np.cos(yaw), np.zeros_like(yaw)], axis=-1)


def thin(poses_ref: np.ndarray, min_change_mm: float) -> np.ndarray:
    """Indices of the frames kept: the first, then each frame whose MPJPE to the last kept one is at
    least ``min_change_mm``. poses_ref: (F, J, 3) canonical poses on one body."""
    kept = [0]
    last = poses_ref[0]
    for i in range(1, len(poses_ref)):
        if mpjpe(poses_ref[i], last) >= min_change_mm:
            kept.append(i)
            last = poses_ref[i]
    return np.asarray(kept)


def assign_splits(groups: dict[str, str], fractions: tuple[float, float] = (0.1, 0.1)) -> dict[str, str]:
    """Split clip groups into train/val/test, stratified by activity, deterministic from the names.

    groups: group name -> activity. Within each activity the groups are ordered by a hash of their
    names; the first ``fractions[1]`` (at least one when the activity has 3 or more groups) go to
    test, the next ``fractions[0]`` (at least one with 4 or more) to val, the rest to train.
    """
    out = {}
    for activity in sorted(set(groups.values())):
        members = sorted((g for g, a in groups.items() if a == activity), key=lambda g: hashlib.sha1(g.encode()).hexdigest())
        n = len(members)
        n_test = max(1, round(fractions[1] * n)) if n >= 3 else 0
        n_val = max(1, round(fractions[0] * n)) if n >= 4 else 0
        for i, g in enumerate(members):
            out[g] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def build_posebank(
    mocap_root: str | Path,
    min_change_mm: float = DEFAULT_MIN_CHANGE_MM,
    seed: int = 0,
    progress: Callable[[ClipSource], None] | None = None,
) -> tuple[PoseBank, BuildReport]:
    """Convert every readable clip under ``mocap_root`` into one ``PoseBank``."""
    mocap_root = Path(mocap_root)
    clips, problems = discover_clips(mocap_root)
    report = BuildReport(skipped=dict(problems))
    rng = np.random.default_rng(seed)
    reference = s9_bone_lengths()
    parts: list[dict[str, np.ndarray]] = []
    kept_clips: list[ClipSource] = []
    for clip in clips:
        if progress is not None:
            progress(clip)
        try:
            motion = read_clip(clip)
            check_clip(clip.path, motion)
        except MocapError as e:
            report.skipped[str(clip.path)] = str(e)
            continue
        report.clips_read += 1
        report.frames_read += len(motion.poses)
        parts.append(_convert_clip(motion, len(kept_clips), first_recorded_frame(clip), min_change_mm, reference, rng))
        kept_clips.append(clip)
    if not parts:
        raise MocapError(f"{mocap_root}: no readable clip")

    activities = [activity_of(c.description) for c in kept_clips]
    groups = {c.group: a for c, a in zip(kept_clips, activities)}
    split_of_group = assign_splits(groups)
    activity_names = tuple(a for a in ACTIVITIES + ("other",) if a in activities)
    clip_activity = np.array([activity_names.index(a) for a in activities], dtype=np.int16)
    clip_split = np.array([SPLITS.index(split_of_group[c.group]) for c in kept_clips], dtype=np.int8)
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    meta = {
        "format": 2,
        "source": str(mocap_root.name),
        "min_change_mm": min_change_mm,
        "seed": seed,
        "frames_read": report.frames_read,
        "frame": "world mm, Z up, pelvis above the origin, facing -Y (yaw 0); root_world/yaw restore the clip's motion",
        "rotations": "pose3d.mocap.drivers: 21 driver rotations per pose, heading removed, int16 rotation vectors",
        "acknowledgement": "The data used in this project was obtained from mocap.cs.cmu.edu. "
        "The database was created with funding from NSF EIA-0196217.",
    }
    bank = PoseBank(
        poses=data["poses"],
        rotations=data["rotations"],
        root_world=data["root_world"],
        yaw=data["yaw"],
        clip=data["clip"],
        frame=data["frame"],
        clip_names=tuple(c.clip_id for c in kept_clips),
        clip_descriptions=tuple(c.description for c in kept_clips),
        clip_fps=np.array([c.fps for c in kept_clips]),
        clip_activity=clip_activity,
        clip_split=clip_split,
        activity_names=activity_names,
        meta=meta,
    )
    return bank, report


def _convert_clip(
    motion: H36mMotion, clip_index: int, first_frame: int, min_change_mm: float, reference: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    poses = motion.poses  # (F, 17, 3) world mm, Z up
    root = poses[:, 0]  # (F, 3)
    yaw = facing_yaw(poses)  # (F,)
    # Canonical heading: undo each frame's yaw about the pelvis.
    canonical = to_root_relative(poses) @ yaw_to_rotmat(yaw)  # row-vector form of R(-yaw) @ p
    kept = thin(retarget(canonical, reference), min_change_mm)

    # The floor: where the lowest foot point (ankles, toe tips) is in the lowest frames.
    foot_z = np.concatenate([poses[:, [H36M17.index("LFoot"), H36M17.index("RFoot")], 2], motion.toes[..., 2]], axis=1)
    floor = np.percentile(foot_z.min(1), 2) - TOE_HEIGHT_MM
    source_legs = _leg_length(bone_lengths(poses[:1]))[0]

    lengths = sample_bone_lengths(rng, len(kept))  # (K, B)
    bank_poses = retarget(canonical[kept], lengths)  # (K, 17, 3), pelvis at the origin
    scale = _leg_length(lengths) / source_legs  # (K,) this body's legs relative to the source's
    ankles = [H36M17.index("LFoot"), H36M17.index("RFoot")]
    ankle_height = (poses[kept][:, ankles, 2].min(1) - floor) * scale  # lower ankle above the floor
    pelvis_height = ankle_height - bank_poses[:, ankles, 2].min(1)
    clip_scale = _leg_length(reference[None])[0] / source_legs  # the clip's path, on an S9-sized body
    root_world = np.concatenate([(root[kept, :2] - root[:1, :2]) * clip_scale, pelvis_height[:, None]], axis=1)
    # The driver rotations of the kept frames, with the same heading removed (R(-yaw) @ R).
    drivers = np.einsum("fji,fdjk->fdik", yaw_to_rotmat(yaw[kept]), motion.drivers[kept])
    return {
        "poses": bank_poses.astype(np.float32),
        "rotations": encode_rotations(drivers),
        "root_world": root_world.astype(np.float32),
        "yaw": yaw[kept].astype(np.float32),
        "clip": np.full(len(kept), clip_index, dtype=np.int16),
        "frame": (kept + first_frame).astype(np.int32),  # frame number in the source file
    }


def _leg_length(lengths: np.ndarray) -> np.ndarray:
    """(..., B) bone lengths -> (...) mean of the two legs (thigh + shin)."""
    names = H36M17.bone_names
    legs = [names.index(n) for n in ("RHip-RKnee", "RKnee-RFoot", "LHip-LKnee", "LKnee-LFoot")]
    return lengths[..., legs].sum(-1) / 2.0
