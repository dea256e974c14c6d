"""The pose bank: real human poses from motion capture, on Human3.6M-like bodies.

``load_posebank()`` returns the bank shipped inside the package (built by ``pose3d-posebank build``
from ../shared/mocap; see ``posebank_build``). Each pose is 17 joints (``skeleton.H36M17``) in mm,
in a Z-up world with the pelvis at the origin and the body facing -Y; ``yaw`` and ``root_world``
put it back where it was in its clip (``world_poses``). Every pose carries its clip, frame, activity
and split (train/val/test, assigned per clip so that no recording is in two splits), and the
rotations of the 21 joints that drive a skinned body (``pose3d.mocap.drivers``, ``driver_rotations``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.rotations import yaw_to_rotmat

SPLITS = ("train", "val", "test")
POSE_QUANTUM_MM = 0.25  # poses are stored as int16 multiples of this
DEFAULT_BANK = "assets/posebank.npz"


class PoseBankError(ValueError):
    """The pose bank lacks what is asked of it."""


@dataclass(frozen=True, eq=False)
class PoseBank:
    poses: np.ndarray  # (N, 17, 3) float32 mm, canonical heading, pelvis at the origin
    root_world: np.ndarray  # (N, 3) float32 mm: pelvis in the clip's world (floor at z = 0)
    yaw: np.ndarray  # (N,) float32 radians: heading of the pose in its clip
    clip: np.ndarray  # (N,) int16 index into the clip tables
    frame: np.ndarray  # (N,) int32 frame number in the source file
    clip_names: tuple[str, ...]
    clip_descriptions: tuple[str, ...]
    clip_fps: np.ndarray  # (C,)
    clip_activity: np.ndarray  # (C,) index into activity_names
    clip_split: np.ndarray  # (C,) index into SPLITS
    activity_names: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    # (N, 21, 3) int16 rotation vectors of the driver joints (pose3d.mocap.drivers), heading removed
    # like ``poses``; None in banks written before they were kept (format 1).
    rotations: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def activity(self) -> np.ndarray:
        """(N,) activity index of each pose."""
        return self.clip_activity[self.clip]

    @property
    def split(self) -> np.ndarray:
        """(N,) split index of each pose (into ``SPLITS``)."""
        return self.clip_split[self.clip]

    def activity_labels(self) -> np.ndarray:
        """(N,) activity name of each pose."""
        return np.asarray(self.activity_names)[self.activity]

    def subset(self, index: Any) -> "PoseBank":
        """The poses selected by a boolean mask or index array (clip tables unchanged)."""
        return replace(
            self,
            poses=self.poses[index],
            root_world=self.root_world[index],
            yaw=self.yaw[index],
            clip=self.clip[index],
            frame=self.frame[index],
            rotations=None if self.rotations is None else self.rotations[index],
        )

    def driver_rotations(self, index: Any = slice(None)) -> np.ndarray:
        """(..., 21, 3, 3) driver rotations of the poses ``index`` (``pose3d.mocap.drivers``: the
        canonical heading, like ``poses``). Raises PoseBankError for a bank without them."""
        from pose3d.mocap.drivers import decode_rotations

        if self.rotations is None:
            raise PoseBankError(f"{self.meta.get('path', 'this pose bank')}: no joint rotations (an older format); "
                                "rebuild it with `pose3d-posebank build`")
        return decode_rotations(self.rotations[index])

    def select(self, split: str | None = None, activity: str | None = None) -> "PoseBank":
        """The poses of one split and/or one activity."""
        mask = np.ones(len(self), dtype=bool)
        if split is not None:
            if split not in SPLITS:
                raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
            mask &= self.split == SPLITS.index(split)
        if activity is not None:
            if activity not in self.activity_names:
                raise ValueError(f"unknown activity {activity!r}; the bank has {self.activity_names}")
            mask &= self.activity == self.activity_names.index(activity)
        return self.subset(mask)

    def world_poses(self) -> np.ndarray:
        """(N, 17, 3) poses placed back in their clips' world (mm, Z up, floor at z = 0)."""
        return self.poses @ np.swapaxes(yaw_to_rotmat(self.yaw), -1, -2) + self.root_world[:, None, :]

    def counts(self) -> dict[str, dict[str, int]]:
        """activity -> split -> number of poses (and "clips" -> number of clips)."""
        out = {}
        for a, name in enumerate(self.activity_names):
            row = {s: int(((self.activity == a) & (self.split == i)).sum()) for i, s in enumerate(SPLITS)}
            row["clips"] = int(len(np.unique(self.clip[self.activity == a])))
            out[name] = row
        return out

    def summary(self) -> str:
        """A Markdown table of poses per activity and split."""
        lines = ["| activity | clips | train | val | test | total |", "|---|---|---|---|---|---|"]
        counts = self.counts()
        for name, row in counts.items():
            lines.append(f"| {name} | {row['clips']} | {row['train']} | {row['val']} | {row['test']} | "
                         f"{row['train'] + row['val'] + row['test']} |")
        totals = {s: sum(r[s] for r in counts.values()) for s in SPLITS}
        n_clips = len(np.unique(self.clip))
        lines.append(f"| **all** | {n_clips} | {totals['train']} | {totals['val']} | {totals['test']} | {len(self)} |")
        return "\n".join(lines)

    def save(self, path: str | Path) -> None:
        """Write the bank as one compressed .npz (poses quantised to POSE_QUANTUM_MM), atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tables = {
            "clip_names": list(self.clip_names),
            "clip_descriptions": list(self.clip_descriptions),
            "activity_names": list(self.activity_names),
            "meta": {**{k: v for k, v in self.meta.items() if k != "path"}, "pose_quantum_mm": POSE_QUANTUM_MM},
        }
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            poses=np.round(self.poses / POSE_QUANTUM_MM).astype(np.int16),
            root_world=self.root_world.astype(np.float32),
            yaw=self.yaw.astype(np.float32),
            clip=self.clip.astype(np.int16),
            frame=self.frame.astype(np.int32),
            clip_fps=np.asarray(self.clip_fps, dtype=np.float32),
            clip_activity=self.clip_activity.astype(np.int16),
            clip_split=self.clip_split.astype(np.int8),
            tables=np.array(json.dumps(tables)),
            **({} if self.rotations is None else {"rotations": self.rotations.astype(np.int16)}),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "PoseBank":
        """Read a bank written by ``save``; raises ValueError naming the file if it is not one."""
        try:
            with np.load(path, allow_pickle=False) as z:
                tables = json.loads(str(z["tables"]))
                quantum = float(tables["meta"].get("pose_quantum_mm", POSE_QUANTUM_MM))
                return cls(
                    poses=z["poses"].astype(np.float32) * np.float32(quantum),
                    root_world=z["root_world"],
                    yaw=z["yaw"],
                    clip=z["clip"],
                    frame=z["frame"],
                    clip_names=tuple(tables["clip_names"]),
                    clip_descriptions=tuple(tables["clip_descriptions"]),
                    clip_fps=z["clip_fps"],
                    clip_activity=z["clip_activity"],
                    clip_split=z["clip_split"],
                    activity_names=tuple(tables["activity_names"]),
                    meta={**tables["meta"], "path": str(path)},
                    rotations=z["rotations"] if "rotations" in z.files else None,
                )
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{path}: not a pose bank ({e})") from None


def load_posebank(path: str | Path | None = None) -> PoseBank:
    """The pose bank at ``path``, or the one shipped with the package."""
    if path is None:
        with resources.as_file(resources.files("pose3d").joinpath(DEFAULT_BANK)) as p:
            return PoseBank.load(p)
    return PoseBank.load(path)

