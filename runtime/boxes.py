"""Where the person boxes come from: one box policy, chosen once (``pose3d-run``'s options), for
folders and streams alike.

A box source gives, for a frame, the ``Target`` boxes to run the pose model on (``boxes``), and,
once the model has run, the people to report (``observe``: a tracker associates them with its
tracks there; the others report every target):

- ``FixedBox`` (``--bbox``): the same given box in every frame;
- ``FullImage`` (``--full-image``): the whole frame is the person crop;
- ``Detect``: every person the detector finds (``pose3d_runtime.detector``), frame by frame
  (folders);
- ``Track``: detections associated across frames with identities (``pose3d_runtime.track``;
  streams).

Boxes come in two forms: the square pose crop ``(cx, cy, side)`` (``pose3d.crop.square_box``, with
the pose model's margin) and, from the detector, the joints' extent ``(x0, y0, x1, y1)``; all in
frame pixels, pixel centres at integers (``pose3d.crop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from pose3d import metrics
from pose3d.crop import frame_box

if TYPE_CHECKING:  # imports for annotations only: the modules import this one
    from pose3d_runtime.detector import PersonDetector
    from pose3d_runtime.pipeline import Pose
    from pose3d_runtime.track import Tracker

MAX_PIXELS = 1_000_000  # no image coordinate, box size or focal length in pixels is larger


@dataclass(frozen=True)
class Target:
    """One box to run the pose model on, and where it came from."""

    box: np.ndarray  # (3,) cx, cy, side: the square pose crop, frame pixels
    source: str  # "given", "full_image", "detected" or "tracked"
    detector_score: float | None = None
    extent: np.ndarray | None = None  # (4,) x0, y0, x1, y1: the joints' extent, when a detector gave it
    track_id: int | None = None


class BoxSource(Protocol):
    name: str

    def boxes(self, frame: np.ndarray) -> list[Target]: ...

    def observe(self, frame_shape: tuple[int, ...], targets: Sequence[Target],
                poses: Sequence["Pose"]) -> list[tuple[Target, "Pose"]]: ...


class _Untracked:
    """Every target is a person to report, in the order given."""

    def observe(self, frame_shape, targets, poses):
        return list(zip(targets, poses))


class FixedBox(_Untracked):
    """``--bbox``: one given square pose box in every frame (ValueError where its centre lies outside
    a frame: the pose placed from it would be meaningless)."""

    def __init__(self, box: np.ndarray) -> None:
        self.box = np.asarray(box, dtype=np.float64)
        self.name = "given box " + ",".join(f"{v:.1f}" for v in self.box)

    def boxes(self, frame: np.ndarray) -> list[Target]:
        check_box_in_image(self.box, frame.shape)
        return [Target(self.box, "given")]


class FullImage(_Untracked):
    """``--full-image``: each frame is already a person crop."""

    name = "full image"

    def boxes(self, frame: np.ndarray) -> list[Target]:
        return [Target(full_image_box(frame.shape), "full_image")]


class Detect(_Untracked):
    """Every person the detector finds with at least ``min_score`` (None: the detector's threshold),
    best first, at most ``max_people``."""

    def __init__(self, detector: "PersonDetector", max_people: int, min_score: float | None = None) -> None:
        self.detector, self.max_people, self.min_score = detector, max_people, min_score
        self.name = f"detector {detector.info.model_id}"

    def boxes(self, frame: np.ndarray) -> list[Target]:
        return [Target(d.box, "detected", d.score, d.extent)
                for d in self.detector(frame, self.min_score, self.max_people)]


class Track:
    """Detections every frame, associated with tracks (``pose3d_runtime.track.Tracker``): each person
    reported keeps a ``track_id`` while it stays in view."""

    def __init__(self, detect: Detect, tracker: "Tracker") -> None:
        self.detect, self.tracker = detect, tracker
        self.name = f"tracking, {detect.name}"

    def boxes(self, frame: np.ndarray) -> list[Target]:
        return self.tracker.targets(self.detect.boxes(frame))

    def observe(self, frame_shape, targets, poses):
        return self.tracker.update(targets, poses, self.detect.max_people)


def with_track_id(target: Target, track_id: int) -> Target:
    return replace(target, track_id=track_id)


def extent_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (0 for empty ones): ``pose3d.metrics.box_iou``."""
    return float(metrics.box_iou(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two square (cx, cy, side) boxes."""
    return extent_iou(box_extent(a), box_extent(b))


def box_extent(box: np.ndarray) -> np.ndarray:
    """(3,) square (cx, cy, side) -> (4,) (x0, y0, x1, y1)."""
    cx, cy, side = (float(v) for v in box)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def joints_extent(joints_2d: np.ndarray) -> np.ndarray:
    """(J, 2) joints -> (4,) their extent (x0, y0, x1, y1)."""
    j = np.asarray(joints_2d, dtype=np.float64)
    return np.concatenate([j.min(axis=0), j.max(axis=0)])


def box_inside(box: np.ndarray, width: int, height: int, min_overlap: float = 0.5) -> bool:
    """Whether at least ``min_overlap`` of the square box's area lies inside the frame."""
    x0, y0, x1, y1 = box_extent(box)
    side = x1 - x0
    inside = max(min(x1, width) - max(x0, 0.0), 0.0) * max(min(y1, height) - max(y0, 0.0), 0.0)
    return side > 0 and inside >= min_overlap * side * side


def parse_bbox(text: str, margin: float) -> np.ndarray:
    """'x,y,w,h' (the person's box in pixels) -> the square crop box with the model's margin;
    ValueError for anything but four finite numbers within +-MAX_PIXELS and a positive size."""
    try:
        x, y, w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--bbox takes x,y,w,h in pixels, got {text!r}") from None
    if not all(math.isfinite(v) and abs(v) <= MAX_PIXELS for v in (x, y, w, h)):
        raise ValueError(f"--bbox takes finite pixel values within +-{MAX_PIXELS:,}, got {text!r}")
    if w <= 0 or h <= 0:
        raise ValueError(f"--bbox width and height must be positive, got {text!r}")
    return np.array([x + w / 2, y + h / 2, max(w, h) * (1.0 + 2.0 * margin)])


def check_box_in_image(box: np.ndarray, shape: tuple[int, ...]) -> None:
    """ValueError when a given box's centre lies outside the image: the person would not be in the
    crop, and the pose placed from it would be meaningless (a depth of kilometres, behind the camera)."""
    H, W = shape[:2]
    cx, cy = float(box[0]), float(box[1])
    if not (0 <= cx <= W and 0 <= cy <= H):
        raise ValueError(f"the --bbox centre ({cx:.0f}, {cy:.0f}) lies outside this {W} x {H} image")


def full_image_box(shape: tuple[int, ...]) -> np.ndarray:
    """The input is already a person crop: it is the whole square the network's crop is cut from
    (``pose3d.crop.frame_box``: centred on the pixel grid, edges on the frame's pixel edges)."""
    H, W = shape[:2]
    return frame_box(W, H)
