"""Read a prepared Human3.6M set: labels in memory, crops memory-mapped, random access by row.

``PreparedH36M(path)`` opens a finished set (``manifest.json`` present). Rows are numbered over the
chunks in manifest order. ``samples(rows)`` returns a batch in the same form as the synthetic
dataset's (``pose3d.data.synthetic``), so training and evaluation take either:

- ``image`` (B, 3, S, S) uint8 RGB, S = input_size: a sub-crop of the stored crop, random where
  ``offsets`` are given, central otherwise
- ``pose_cam`` (B, 17, 3) / ``pose_rel`` (B, 17, 3) float32 mm, camera frame (``pose_rel``: pelvis at 0)
- ``joints_2d`` (B, 17, 2) float32 in the returned image's pixels; ``crop_affine`` (B, 2, 3)
- ``activity`` (B,) int64 index into ``names.ACTIONS``; ``subject``, ``camera``, ``take``, ``frame``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pose3d.crop import apply_affine, box_to_affine, shift_affine
from pose3d.data.h36m import store
from pose3d.data.h36m.names import ACTIONS, SUBJECTS
from pose3d.data.h36m.protocols import Split
from pose3d.skeleton import to_root_relative


class PreparedH36M:
    """A prepared set (see the module docstring); picklable for DataLoader workers."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.manifest = store.read_manifest(self.path)
        options = self.manifest["options"]
        self.split = Split.from_dict(options["split"])
        self.crop_size = int(options["crop_size"])
        self.has_images = bool(self.manifest["has_images"])
        self.chunks = [c["id"] for c in self.manifest["chunks"]]
        if not self.chunks:
            raise store.PreparedSetError(f"{self.path}: the prepared set holds no samples")
        columns: dict[str, list[np.ndarray]] = {k: [] for k in store.LABEL_ARRAYS}
        extra: dict[str, list[np.ndarray]] = {"subject": [], "activity": [], "camera": [], "take": [], "train": []}
        subjects = list(SUBJECTS)
        for c in self.manifest["chunks"]:
            with np.load(self.path / store.CHUNKS / c["id"] / store.LABELS) as labels:
                for k in columns:
                    columns[k].append(labels[k])
            n = c["count"]
            if c["subject"] not in subjects:
                subjects.append(c["subject"])
            extra["subject"].append(np.full(n, subjects.index(c["subject"]), np.int16))
            extra["activity"].append(np.full(n, ACTIONS.index(c["action"]), np.int64))
            extra["camera"].append(np.full(n, c["camera"]).astype(np.int64))
            extra["take"].append(np.full(n, c["take"], np.int16))
            extra["train"].append(np.full(n, c["role"] == "train"))
        self.subject_names = tuple(subjects)
        for k, parts in {**columns, **extra}.items():
            setattr(self, k, np.concatenate(parts))
        self.starts = np.cumsum([0] + [c["count"] for c in self.manifest["chunks"]])
        self._crops: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_crops": None}  # each process maps the files itself

    def rows(self, role: str) -> np.ndarray:
        """Row numbers of the train or test side."""
        if role not in ("train", "test"):
            raise ValueError(f"role must be 'train' or 'test', got {role!r}")
        return np.flatnonzero(self.train if role == "train" else ~self.train)

    def _maps(self) -> list[np.ndarray]:
        if not self.has_images:
            raise store.PreparedSetError(f"{self.path} holds 3D poses only (no pictures): it can train the pose prior alone")
        if self._crops is None:
            self._crops = [np.load(self.path / store.CHUNKS / cid / store.CROPS, mmap_mode="r") for cid in self.chunks]
        return self._crops

    def crops(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """(B, S, S, 3) uint8 stored crops of ``rows``, any order."""
        maps = self._maps()
        rows = np.asarray(rows, dtype=np.int64)
        chunk = np.searchsorted(self.starts, rows, side="right") - 1  # (B,)
        local = rows - self.starts[chunk]
        out = np.empty((len(rows), self.crop_size, self.crop_size, 3), dtype=np.uint8)
        for i, (c, r) in enumerate(zip(chunk.tolist(), local.tolist())):
            out[i] = maps[c][r]
        return out

    def crop_affines(self, rows: np.ndarray) -> np.ndarray:
        """(B, 2, 3) full-frame pixels -> stored-crop pixels."""
        return box_to_affine(self.box[rows].astype(np.float64), self.crop_size)

    def samples(self, rows: Sequence[int] | np.ndarray, input_size: int = 112, offsets: np.ndarray | None = None,
                images: bool = True) -> dict[str, np.ndarray]:
        """A batch of ``rows`` (see the module docstring). ``offsets`` (B, 2) int: top-left of each
        sub-crop; None: the central one. ``images=False`` leaves the pictures out (3D-only sets)."""
        rows = np.asarray(rows, dtype=np.int64)
        room = self.crop_size - input_size
        if offsets is None:
            offsets = np.full((len(rows), 2), room // 2)
        A = shift_affine(self.crop_affines(rows), offsets[:, 0], offsets[:, 1])
        out = {
            "pose_cam": self.pose_cam[rows],
            "pose_rel": to_root_relative(self.pose_cam[rows]),
            "joints_2d": apply_affine(A, self.joints_2d[rows].astype(np.float64)).astype(np.float32),
            "crop_affine": A.astype(np.float32),
            "activity": self.activity[rows],
            "subject": self.subject[rows].astype(np.int64),
            "camera": self.camera[rows],
            "take": self.take[rows].astype(np.int64),
            "frame": self.frame[rows].astype(np.int64),
            "index": rows,
        }
        if images:
            crops = self.crops(rows)
            picked = np.empty((len(rows), 3, input_size, input_size), dtype=np.uint8)
            for i, (dx, dy) in enumerate(offsets.tolist()):
                picked[i] = crops[i, dy : dy + input_size, dx : dx + input_size].transpose(2, 0, 1)  # (3, S, S)
            out["image"] = picked
        return out

    def camera_rotations(self, rows: Sequence[int] | np.ndarray) -> np.ndarray | None:
        """(B, 3, 3) world-to-camera rotations of ``rows`` from the bundled Human3.6M calibration, or
        None where a row's subject or camera is not in it."""
        from pose3d.camera import h36m_camera

        rows = np.asarray(rows, dtype=np.int64)
        cache: dict[tuple[int, int], np.ndarray] = {}
        out = np.empty((len(rows), 3, 3))
        try:
            for i, key in enumerate(zip(self.subject[rows].tolist(), self.camera[rows].tolist())):
                if key not in cache:
                    cache[key] = np.asarray(h36m_camera(self.subject_names[key[0]], key[1]).R, dtype=np.float64)
                out[i] = cache[key]
        except KeyError:
            return None
        return out

    def random_offsets(self, rng: np.random.Generator, count: int, input_size: int) -> np.ndarray:
        """(count, 2) random sub-crop positions (training augmentation)."""
        return rng.integers(0, self.crop_size - input_size + 1, size=(count, 2))

    def describe(self) -> str:
        opts = self.manifest["options"]
        return (f"{self.path} ({opts['layout']} layout, {len(self)} samples; {self.split.describe()})")
