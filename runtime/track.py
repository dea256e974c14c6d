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

**Verified tracking** (``new_per_frame`` set: streams with a pose model that scores its poses,
``pose3d_runtime.boxes.find_people``) keeps followed people cheap. Each frame, every track seen in the
last frame gets one crop where it should be now (``"tracked"``; ``pipeline.refine`` re-runs it only
where its pose scores below ``min_pose_score`` or moved off the crop), and of the detector's proposals
only those overlapping none of those crops (square-box IoU below ``COVERED_IOU``) are verified, at most
``new_per_frame``: first where a confirmed track was just lost, then the places verified longest ago,
best detector score first; a place whose proposal scored below ``min_pose_score`` is not
verified again for ``FAILED_FRAMES`` frames. A proposal overlapping a followed crop supports it: a track
without such support for more than ``coast_frames`` frames, or whose crop's pose scores below
``min_pose_score``, is lost (kept ``keep_frames`` frames, unreported, for a proposal to take it back by
cost). A verified person duplicating a followed track (``boxes.same_person``), or a part of one
(``part_of``: the head rule of ``boxes.shared_head``), is that track; of two tracks on one person, the
confirmed one, then the better pose, stays, and a track on part of a followed person goes. A new track is **confirmed**, and
reported, once verified in ``confirm_frames`` consecutive frames; before that it is followed but not
reported, and forgotten as soon as it fails once, so a one-frame blip on background is never reported.
While every slot holds a followed person (``settled``), ``pose3d_runtime.boxes.Track`` runs the
detector only every ``boxes.SETTLED_DETECT_EVERY`` frames, and with a slot free while the people it
reports are followed (``calm``) every ``boxes.CALM_DETECT_EVERY``; ``targets(None)`` is a frame
without it, which counts neither for nor against a track's support.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from pose3d.crop import square_box
from pose3d_runtime.boxes import (Target, box_ious, extent_iou, extent_size, joints_extent, same_person, shared_head,
                                  with_track_id)

if TYPE_CHECKING:
    from pose3d_runtime.pipeline import Pose

COVERED_IOU = 0.3  # a detection overlapping a track's prediction this much is likely that track's
# Verified tracking: a proposal that failed verification is not verified again for this many frames where
# a new proposal overlaps it with IoU >= FAILED_IOU (background proposals recur at the same places, and
# each costs two crops); the budget goes to the next proposals instead.
FAILED_FRAMES = 5
FAILED_IOU = 0.5


@dataclass
class TrackState:
    id: int
    extent: np.ndarray  # (4,) x0, y0, x1, y1 where it was last seen
    joints: np.ndarray  # (J, 2) its last 2D joints, frame pixels
    last_frame: int  # the frame it was last seen in (detected or coasting)
    velocity: np.ndarray  # (2,) pixels per frame, of the extent's centre
    supported_frame: int  # the last frame a detection supported it
    reported: bool = True  # reported in the last frame it was seen; coasting only then
    hits: int = 1  # verified in this many consecutive frames (``Tracker.confirm_frames``)

    def shift(self, frame: int) -> np.ndarray:
        """(2,) how far it should have moved since it was last seen."""
        return self.velocity * (frame - self.last_frame)

    def predicted_extent(self, frame: int) -> np.ndarray:
        d = self.shift(frame)
        return self.extent + np.concatenate([d, d])

    def held(self, frame: int) -> bool:
        """Followed in ``frame`` and supported by the detector's run in it (or its last run, in a
        frame without one: ``Tracker.targets(None)`` moves ``supported_frame`` along)."""
        return self.last_frame == frame and self.supported_frame == frame

    def see(self, frame: int, extent: np.ndarray, joints: np.ndarray) -> None:
        gap = max(frame - self.last_frame, 1)
        step = (0.5 * (extent[:2] + extent[2:]) - 0.5 * (self.extent[:2] + self.extent[2:])) / gap
        self.velocity = 0.5 * self.velocity + 0.5 * step
        self.extent, self.joints, self.last_frame = np.asarray(extent, np.float64), np.asarray(joints, np.float64), frame


def part_of(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether (J, 2) pose ``a`` is a part of the person ``b`` shows whole (``boxes.shared_head``, ``a``
    the smaller): a second, upper-body box on one person."""
    return extent_size(joints_extent(a)) < extent_size(joints_extent(b)) and shared_head(a, b)


class Tracker:
    """Tracks with identities over a stream (see the module docstring). ``margin``: the pose model's
    crop margin (the coasting crops are cut as the training crops were)."""

    def __init__(self, margin: float, coast_frames: int = 3, keep_frames: int = 15, min_pose_score: float = 0.3,
                 max_cost: float = 1.2, new_per_frame: int | None = None, confirm_frames: int = 1,
                 max_people: int | None = None) -> None:
        self.margin, self.coast_frames, self.keep_frames = margin, coast_frames, keep_frames
        self.min_pose_score, self.max_cost = min_pose_score, max_cost
        self.new_per_frame, self.confirm_frames = new_per_frame, confirm_frames
        self.max_people = max_people  # verified tracking: with this many followed, no proposal is verified
        self.tracks: list[TrackState] = []
        self.failed: list[tuple[np.ndarray, int]] = []  # (square box, frame) of proposals that failed verification
        self.asked: list[tuple[np.ndarray, int]] = []  # (square box, frame) of the proposals verified lately
        self.frame = -1
        self.next_id = 0

    def settled(self) -> bool:
        """Verified tracking: whether ``max_people`` confirmed people were reported in the last frame,
        each supported by the detector's last run (every slot taken: a new proposal could add nobody;
        ``boxes.SETTLED_DETECT_EVERY``). A track the detector stopped supporting unsettles it, so the
        detector runs every frame until the track is supported again or lost (``coast_frames``)."""
        return self.new_per_frame is not None and self.max_people is not None and sum(
            tr.reported and tr.held(self.frame) for tr in self.tracks) >= self.max_people

    def calm(self) -> bool:
        """Verified tracking: whether someone was reported in the last frame, every reported person was
        followed then and supported by the detector's last run, and no confirmed person is lost
        (``boxes.CALM_DETECT_EVERY``)."""
        if self.new_per_frame is None:
            return False
        confirmed = [tr for tr in self.tracks if tr.hits >= self.confirm_frames]
        return bool(confirmed) and all(tr.held(self.frame) for tr in confirmed)

    def targets(self, detected: Sequence[Target] | None) -> list[Target]:
        """This frame's detections plus a coasting box for every reported track that no detection is
        likely to take: detections go to the tracks whose predictions they overlap most (IoU at least
        ``COVERED_IOU``, greedily), so where two people merge into one detection, the other coasts.
        ``detected`` None (verified tracking only): the detector did not run on this frame; the
        followed tracks' crops alone, and the frame counts neither for nor against their support."""
        self.frame += 1
        if self.new_per_frame is not None:
            if detected is None:
                for tr in self.tracks:
                    tr.supported_frame += 1  # the clock of ``coast_frames`` stands still
                return self._verified_targets([])
            return self._verified_targets(detected)
        if detected is None:
            raise ValueError("a tracker without verification needs the detector every frame")
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

    def _verified_targets(self, proposals: Sequence[Target]) -> list[Target]:
        """Verified tracking (``new_per_frame``): one crop per followed track, where it should be now,
        and the ``new_per_frame`` best proposals that overlap none of those crops (square-box IoU below
        ``COVERED_IOU``). A proposal overlapping a track supports it (``coast_frames``)."""
        # Tracks seen last frame, and confirmed ones missed for at most coast_frames (a person flickering
        # around the score threshold, the Sports2D jumper): their crops are cut where they should be.
        followed = [tr for tr in self.tracks if tr.last_frame == self.frame - 1
                    or (tr.hits >= self.confirm_frames and self.frame - tr.last_frame <= self.coast_frames)]
        fresh = [k for k, tr in enumerate(followed) if tr.last_frame == self.frame - 1]
        out: list[Target] = []
        for tr in followed:
            extent = tr.predicted_extent(self.frame)
            out.append(Target(square_box(extent.reshape(2, 2), self.margin), "tracked", None, extent, tr.id,
                              refine_below=self.min_pose_score))
        crops = [t.box for t in out]
        self.failed = [(b, f) for b, f in self.failed if self.frame - f <= FAILED_FRAMES]
        # Where a confirmed track was lost, its proposal goes first and is verified even where one failed.
        lost = [square_box(tr.predicted_extent(self.frame).reshape(2, 2), self.margin) for tr in self.tracks
                if tr.last_frame < self.frame - 1 and tr.hits >= self.confirm_frames]
        # Then the places verified longest ago (never first), best detector score first: the budget goes
        # round the proposals rather than to the same few best-scored places every frame.
        self.asked = [(b, f) for b, f in self.asked if self.frame - f <= FAILED_FRAMES]

        # Every proposal against every box it is compared with, once per frame (the tracker's hot loop).
        ious = lambda boxes: box_ious([p.box for p in proposals], boxes)  # noqa: E731
        relost = (ious(lost) >= COVERED_IOU).any(axis=1)
        asked_frames = np.array([f for _, f in self.asked], dtype=np.int64)
        last_asked = np.where(ious([b for b, _ in self.asked]) >= FAILED_IOU, asked_frames, -1).max(axis=1, initial=-1)
        covered = ious(crops) >= COVERED_IOU
        failed = (ious([b for b, _ in self.failed]) >= FAILED_IOU).any(axis=1)

        new: list[Target] = []
        budget = self.new_per_frame
        # Every slot holds a confirmed person (seen last frame, or coasting for at most coast_frames, when
        # its own crop may find it again): a new one could not be reported. (Counting only those seen last
        # frame, so that a just-lost person's proposal is verified, found 153 person-frames of the
        # Sports2D clip with one slot against 165, and ran the detector on 84 frames against 69.)
        if self.max_people is not None and sum(tr.hits >= self.confirm_frames for tr in followed) >= self.max_people:
            budget = 0
        for i in sorted(range(len(proposals)), key=lambda i: (not relost[i], last_asked[i],
                                                              -(proposals[i].detector_score or 0.0))):
            overlaps = np.flatnonzero(covered[i]).tolist()
            for k in overlaps:
                followed[k].supported_frame = self.frame
            overlaps = [k for k in overlaps if k in fresh]  # a missed track's proposal is verified too
            if not overlaps and len(new) < budget and (relost[i] or not failed[i]):
                new.append(proposals[i])
        self.asked += [(t.box, self.frame) for t in new]
        return out + new

    def failed_proposals(self, boxes: Sequence[np.ndarray]) -> None:
        """This frame's proposals (their square boxes as ``targets`` gave them) that failed verification."""
        self.failed += [(np.asarray(b, np.float64), self.frame) for b in boxes]

    def _verified_update(self, targets: Sequence[Target], poses: Sequence["Pose"]) -> list[tuple[Target, "Pose"]]:
        """Verified tracking: a followed track goes on where its crop's pose scores at least
        ``min_pose_score`` and a proposal supported it within ``coast_frames`` frames, else it is lost
        (an unconfirmed one forgotten at once); a new person (``targets``' "detected", verified before)
        duplicating none of them takes a lost track by cost or starts a new one. A track is reported
        once verified in ``confirm_frames`` consecutive frames."""
        by_id = {tr.id: tr for tr in self.tracks}
        followed: list[tuple[Target, "Pose", TrackState]] = []
        for t, p in zip(targets, poses):
            tr = by_id.get(t.track_id) if t.source == "tracked" else None
            if tr is None:
                continue
            if (p.score >= self.min_pose_score and np.isfinite(p.joints_2d_px).all()
                    and self.frame - tr.supported_frame <= self.coast_frames):
                tr.see(self.frame, joints_extent(p.joints_2d_px), p.joints_2d_px)
                tr.hits += 1
                followed.append((t, p, tr))
        kept: list[tuple[Target, "Pose", TrackState]] = []
        # Two tracks on one person: a confirmed one before an unconfirmed one, then the better pose stays;
        # a track on part of a followed person (``part_of``) goes whatever it is.
        for t, p, tr in sorted(followed, key=lambda f: (f[2].hits < self.confirm_frames, -f[1].score)):
            if any(same_person(p.box, q.box) for _, q, _ in kept) or any(
                    part_of(p.joints_2d_px, q.joints_2d_px) for _, q, _ in followed):
                tr.last_frame, tr.hits = -1, 0  # forgotten below
            else:
                kept.append((t, p, tr))
        followed = kept
        seen = [p for _, p, _ in followed]
        detected = [i for i, t in enumerate(targets) if t.source == "detected" and np.isfinite(poses[i].joints_2d_px).all()
                    and not any(same_person(poses[i].box, q.box) or part_of(poses[i].joints_2d_px, q.joints_2d_px)
                                for q in seen)]
        lost = [k for k, tr in enumerate(self.tracks) if tr.last_frame != self.frame and tr.hits >= self.confirm_frames]
        taken = self._take(lost, targets, poses, detected)
        followed += [(targets[i], poses[i], taken[i]) for i in detected]
        for tr in self.tracks:
            tr.reported = tr.last_frame == self.frame and tr.hits >= self.confirm_frames
        self.tracks = [tr for tr in self.tracks if (tr.last_frame == self.frame or tr.hits >= self.confirm_frames)
                       and self.frame - tr.last_frame <= self.keep_frames and tr.hits > 0]
        return [(with_track_id(t, tr.id), p) for t, p, tr in followed if tr.reported]

    def _take(self, candidates: list[int], targets: Sequence[Target], poses: Sequence["Pose"], detected: list[int]
              ) -> dict[int, TrackState]:
        """Each of the ``detected`` targets' track: of the ``candidates`` (indices into ``tracks``) greedily
        by cost, lowest first, none above ``max_cost``, else a new one; the track sees it, supported."""
        extents = {i: targets[i].extent if targets[i].extent is not None else joints_extent(poses[i].joints_2d_px)
                   for i in detected}
        pairs = sorted((self.cost(self.tracks[k], extents[i], poses[i].joints_2d_px), k, i)
                       for k in candidates for i in detected)
        taken_tracks: set[int] = set()
        taken: dict[int, TrackState] = {}
        for c, k, i in pairs:
            if c > self.max_cost:
                break
            if k not in taken_tracks and i not in taken:
                taken_tracks.add(k)
                taken[i] = self.tracks[k]
        for i in detected:
            tr = taken.get(i)
            if tr is None:
                tr = taken[i] = TrackState(self.next_id, extents[i], poses[i].joints_2d_px, self.frame, np.zeros(2),
                                           self.frame)
                self.next_id += 1
                self.tracks.append(tr)
            else:
                tr.see(self.frame, extents[i], poses[i].joints_2d_px)
            tr.supported_frame = self.frame
        return taken

    def cost(self, tr: TrackState, extent: np.ndarray, joints: np.ndarray) -> float:
        """The association cost of a track and a detection (see the module docstring)."""
        iou = extent_iou(tr.predicted_extent(self.frame), extent)
        size = max(extent_size(tr.extent), 1.0)
        moved = tr.joints + tr.shift(self.frame)
        distance = float(np.linalg.norm(moved - joints, axis=-1).mean()) / size
        return (1.0 - iou) + distance

    def update(self, targets: Sequence[Target], poses: Sequence["Pose"], max_people: int | None = None
               ) -> list[tuple[Target, "Pose"]]:
        """This frame's people, each with its track id, by id; ``targets`` as ``targets`` gave them,
        with the pose of each."""
        if self.new_per_frame is not None:
            people = self._verified_update(targets, poses)
            if max_people is not None and len(people) > max_people:
                people = sorted(people, key=lambda p: -p[1].score)[:max_people]
            return sorted(people, key=lambda p: p[0].track_id)
        detected = [i for i, t in enumerate(targets) if t.source == "detected" and np.isfinite(poses[i].joints_2d_px).all()]
        taken = self._take(list(range(len(self.tracks))), targets, poses, detected)
        people: list[tuple[Target, "Pose"]] = []
        for i in detected:
            taken[i].reported = True
            people.append((with_track_id(targets[i], taken[i].id), poses[i]))
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
