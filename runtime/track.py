"""Several people through a stream: detections associated across frames, identities kept.

Each frame, ``Tracker.targets`` takes the detector's boxes and adds, for a track the detector missed
this frame, a box where that track should be now (its joints' extent moved on by its velocity):
it "coasts". After the pose model has run on all of them, ``Tracker.update`` associates the
detections with the tracks, greedily by cost, lowest first:

    cost = (1 - IoU(predicted extent, detected extent)) + mean joint distance / track size

(the joint distance between the track's last 2D joints, moved on by its velocity, and the detection's
predicted joints; the size is the longer side of the track's extent). Pairs costing more than
``max_cost`` are never made. A matched track takes the detection; an unmatched detection starts a
new track with the next id. A coasting track is reported from its own crop only while its pose score
stays at least ``min_pose_score`` and for at most ``coast_frames`` frames without the detector's
support: a track never holds a box on background longer than that. Tracks that stopped being
reported keep their id, unreported, for ``keep_frames`` frames, so a person missed for a few frames
comes back under the same id; after that they are forgotten.

Velocity (of the extent's centre, pixels per frame) is what keeps two crossing people apart: when
their boxes overlap, each track's prediction lies on its own side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from pose3d.crop import square_box
from pose3d_runtime.boxes import Target, extent_iou, joints_extent, with_track_id

if TYPE_CHECKING:
    from pose3d_runtime.pipeline import Pose

COVERED_IOU = 0.3  # a detection overlapping a track's prediction this much is likely that track's


@dataclass
class TrackState:
    id: int
    extent: np.ndarray  # (4,) x0, y0, x1, y1 where it was last seen
    joints: np.ndarray  # (J, 2) its last 2D joints, frame pixels
    last_frame: int  # the frame it was last seen in (detected or coasting)
    velocity: np.ndarray  # (2,) pixels per frame, of the extent's centre
    supported_frame: int  # the last frame a detection supported it
    reported: bool = True  # reported in the last frame it was seen; coasting only then

    def shift(self, frame: int) -> np.ndarray:
        """(2,) how far it should have moved since it was last seen."""
        return self.velocity * (frame - self.last_frame)

    def predicted_extent(self, frame: int) -> np.ndarray:
        d = self.shift(frame)
        return self.extent + np.concatenate([d, d])

    def see(self, frame: int, extent: np.ndarray, joints: np.ndarray) -> None:
        gap = max(frame - self.last_frame, 1)
        step = (0.5 * (extent[:2] + extent[2:]) - 0.5 * (self.extent[:2] + self.extent[2:])) / gap
        self.velocity = 0.5 * self.velocity + 0.5 * step
        self.extent, self.joints, self.last_frame = np.asarray(extent, np.float64), np.asarray(joints, np.float64), frame


class Tracker:
    """Tracks with identities over a stream (see the module docstring). ``margin``: the pose model's
    crop margin (the coasting crops are cut as the training crops were)."""

    def __init__(self, margin: float, coast_frames: int = 3, keep_frames: int = 15, min_pose_score: float = 0.3,
                 max_cost: float = 1.2) -> None:
        self.margin, self.coast_frames, self.keep_frames = margin, coast_frames, keep_frames
        self.min_pose_score, self.max_cost = min_pose_score, max_cost
        self.tracks: list[TrackState] = []
        self.frame = -1
        self.next_id = 0

    def targets(self, detected: Sequence[Target]) -> list[Target]:
        """This frame's detections plus a coasting box for every reported track that no detection is
        likely to take: detections go to the tracks whose predictions they overlap most (IoU at least
        ``COVERED_IOU``, greedily), so where two people merge into one detection, the other coasts."""
        self.frame += 1
        out = list(detected)
        live = [tr for tr in self.tracks if tr.reported and self.frame - tr.supported_frame <= self.coast_frames]
        predicted = [tr.predicted_extent(self.frame) for tr in live]
        pairs = sorted(((extent_iou(p, t.extent), k, i) for k, p in enumerate(predicted)
                        for i, t in enumerate(detected) if t.extent is not None), reverse=True)
        claimed_tracks: set[int] = set()
        claimed: set[int] = set()
        for iou, k, i in pairs:
            if iou < COVERED_IOU:
                break
            if k not in claimed_tracks and i not in claimed:
                claimed_tracks.add(k)
                claimed.add(i)
        for k, tr in enumerate(live):
            if k not in claimed_tracks:
                box = square_box(predicted[k].reshape(2, 2), self.margin)
                out.append(Target(box, "tracked", None, predicted[k], tr.id))
        return out

    def cost(self, tr: TrackState, extent: np.ndarray, joints: np.ndarray) -> float:
        """The association cost of a track and a detection (see the module docstring)."""
        iou = extent_iou(tr.predicted_extent(self.frame), extent)
        size = max(float(np.max(tr.extent[2:] - tr.extent[:2])), 1.0)
        moved = tr.joints + tr.shift(self.frame)
        distance = float(np.linalg.norm(moved - joints, axis=-1).mean()) / size
        return (1.0 - iou) + distance

    def update(self, targets: Sequence[Target], poses: Sequence["Pose"], max_people: int | None = None
               ) -> list[tuple[Target, "Pose"]]:
        """This frame's people, each with its track id, by id; ``targets`` as ``targets`` gave them,
        with the pose of each."""
        detected = [i for i, t in enumerate(targets) if t.source == "detected" and np.isfinite(poses[i].joints_2d_px).all()]
        extents = {i: targets[i].extent if targets[i].extent is not None else joints_extent(poses[i].joints_2d_px)
                   for i in detected}
        pairs = sorted((self.cost(tr, extents[i], poses[i].joints_2d_px), k, i)
                       for k, tr in enumerate(self.tracks) for i in detected)
        taken_tracks: set[int] = set()
        taken: dict[int, TrackState] = {}
        for c, k, i in pairs:
            if c > self.max_cost:
                break
            if k in taken_tracks or i in taken:
                continue
            taken_tracks.add(k)
            taken[i] = self.tracks[k]
        people: list[tuple[Target, "Pose"]] = []
        for i in detected:
            tr = taken.get(i)
            if tr is None:
                tr = TrackState(self.next_id, extents[i], poses[i].joints_2d_px, self.frame, np.zeros(2), self.frame)
                self.next_id += 1
                self.tracks.append(tr)
            else:
                tr.see(self.frame, extents[i], poses[i].joints_2d_px)
            tr.supported_frame, tr.reported = self.frame, True
            people.append((with_track_id(targets[i], tr.id), poses[i]))
        by_id = {tr.id: tr for tr in self.tracks}
        for target, pose in zip(targets, poses):
            tr = by_id.get(target.track_id) if target.source == "tracked" else None
            if tr is None or tr.last_frame == self.frame:  # a detection took it after all
                continue
            if pose.score >= self.min_pose_score and np.isfinite(pose.joints_2d_px).all():
                tr.see(self.frame, joints_extent(pose.joints_2d_px), pose.joints_2d_px)
                people.append((target, pose))
            else:
                tr.reported = False
        for tr in self.tracks:
            if tr.last_frame != self.frame:
                tr.reported = False
        self.tracks = [tr for tr in self.tracks if self.frame - tr.supported_frame <= self.keep_frames]
        if max_people is not None and len(people) > max_people:
            people = sorted(people, key=lambda p: -(p[0].detector_score or 0.0))[:max_people]
        return sorted(people, key=lambda p: p[0].track_id)
