"""What every layout reader hands to ``prepare``: units of work and problem records.

A *unit* is one recording seen by one camera (subject, action, take, camera): it becomes one chunk
of the prepared set. ``Unit.read(every)`` returns the frames to keep (every ``every``-th frame that
has 3D data), their world poses, the effective camera, and, for layouts with pictures, a lazy
iterator over the full frames, so a whole video never sits in memory.

Bad input never raises out of a reader for an expected case: readers raise ``SourceError`` (naming
the file) for a unit that cannot be read at all, and yield ``Problem`` records for single bad
frames; ``prepare`` collects both and goes on with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from pose3d.camera import Camera

#: Kinds of problem, as reported in the summary and the manifest.
PROBLEM_KINDS = ("missing", "corrupt", "mismatch", "unknown-action", "unknown-camera")


@dataclass(frozen=True)
class Problem:
    """One piece of bad input: the file (or folder) it is about, its kind and what is wrong."""

    file: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "kind": self.kind, "message": self.message}


class SourceError(Exception):
    """A unit that cannot be read; carries its ``Problem``."""

    def __init__(self, file: str, kind: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.problem = Problem(str(file), kind, message)


@dataclass(frozen=True)
class UnitKey:
    subject: str  # "S9"
    action: str  # one of names.ACTIONS
    take: int  # 0 where the source names no take
    camera: str  # camera id, "54138969"

    @property
    def chunk_id(self) -> str:
        return f"{self.subject}.{self.action}.{self.take}.{self.camera}"


@dataclass
class UnitData:
    """What one unit holds. ``images`` yields (row, RGB frame (H, W, 3) uint8) for the rows that
    could be read and (row, Problem) for those that could not; None for 3D-only layouts."""

    camera: Camera
    frames: np.ndarray  # (K,) int frame numbers (0-based) in the recording
    pose_world: np.ndarray  # (K, 17, 3) float64 world mm
    boxes: np.ndarray | None = None  # (K, 3) square boxes (cx, cy, side) given by the source
    images: Iterator[tuple[int, np.ndarray | Problem]] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Unit:
    """One recording by one camera; ``load(every)`` reads it (may raise ``SourceError``)."""

    key: UnitKey
    files: tuple[str, ...]  # the source files, for the chunk's record
    load: Callable[[int], UnitData]
    has_images: bool = True


def keep_every(frames: np.ndarray, every: int) -> np.ndarray:
    """Boolean mask of the frames whose 0-based number is a multiple of ``every``."""
    return np.asarray(frames) % every == 0
