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
  streams). With a scoring pose model a followed person costs one crop a frame and only proposals
  away from the followed people are verified, ``NEW_PER_FRAME`` at most; a new person is reported
  once verified in ``CONFIRM_FRAMES`` consecutive frames (``pose3d_runtime.track``, "verified
  tracking").

With a pose model that scores its poses (``has_person``: a person head or joint confidences), the
detector only proposes: ``Detect`` asks it for up to ``proposals`` boxes down to ``PROPOSAL_SCORE``,
the pose model runs on them, each box is refined onto its pose (``pose3d_runtime.pipeline.refine``),
and ``observe`` keeps the people whose refined pose scores at least ``min_score``, one per person
(``verify``); people smaller than ``MIN_SIZE`` of the frame are left out. Without such a score the
detector's own threshold decides, as it always did.

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
from pose3d.skeleton import H36M17

if TYPE_CHECKING:  # imports for annotations only: the modules import this one
    from pose3d_runtime.detector import PersonDetector
    from pose3d_runtime.pipeline import Pose
    from pose3d_runtime.track import Tracker

MAX_PIXELS = 1_000_000  # no image coordinate, box size or focal length in pixels is larger

# Proposals, for pose models that score their poses. The trained detector finds the labelled person of
# the real set (/work/shared/realval) in 41 of 126 frames at its own threshold; its low-score peaks
# include most of the rest, and the pose model tells people from background far better (mean joint
# confidence on labelled-person crops: median 0.62, 10th percentile 0.42; on background crops: median
# 0.17, 90th percentile 0.29; AUC 0.987).
PROPOSAL_SCORE = 0.05  # the detector's score down to which its peaks are proposed
# At most this many proposals a frame; each costs the pose model two crops (the proposal's and its
# refinement's). On the real set (126 frames, median 12 proposals at PROPOSAL_SCORE) the labelled
# person is found in 106 frames with 20 proposals, 103 with 12, 99 with 10, 85 with 8 (one refinement,
# MIN_POSE_SCORE), at 25, 22, 19 and 16 crops a frame. Streams take fewer (STREAM_PROPOSALS): latency.
MAX_PROPOSALS = 20
STREAM_PROPOSALS = 10
# The pose score a verified person needs by default. On crops cut from detector-free boxes background
# scores low (90th percentile 0.29, a box a third of its side off a person 0.32), but refinement fits
# the box to whatever the model sees, and raises background too: refined proposals away from the
# labelled person in the Sports2D frames (other people included) score 0.27 median, 0.48 at the 90th
# percentile, where the labelled person scores 0.52 median (0.36 at the 10th). At 0.35 the labelled
# person was found in 106 of 126 real frames, but 5.8 people were reported per frame of the two-person
# Pose2Sim scene and tracks sat on a wall, the sun and a tree trunk in the Sports2D video (scores
# 0.36-0.44); at 0.45: found in 100, 3.1 people per Pose2Sim frame; at 0.5: 88 and 2.1. (Those are
# mean joint confidences. The shipped model's score is now its person head's probability, near 0 or 1
# on real frames too: 0.45, 0.5 and 0.55 find the same 102 of 126, with 3.44-3.23 people a Pose2Sim frame.)
# With the detector trained on occluded people the head meets background that looks like a partly hidden
# person (hanging branches, a trunk's edge: 0.47-0.57). The head is trained on about as many people as
# background crops, where a frame's proposals are mostly background (about 2 people in 12-20), so even
# odds after that prior sit well above 0.5. On the real set 0.45, 0.5, 0.6 and 0.75 find the same 117
# of 126 (PCK 0.603-0.599), with 3.30, 3.19, 2.97 and 2.66 people a Pose2Sim frame (3 in the scene),
# 2.09, 1.97, 1.64 and 1.55 a Sports2D frame (1-2 in view), 16, 14, 14 and 11 tracks on the clip.
MIN_POSE_SCORE = 0.75
# Streams (``Track`` with a scoring model): a followed person costs one crop a frame, cut where its track
# predicts it; of the detector's proposals only those overlapping no followed crop (square-box IoU below
# ``pose3d_runtime.track.COVERED_IOU``) are verified, at most NEW_PER_FRAME a frame (and no more than
# ``--max-people``), best detector score first (each costs two crops); none while every slot holds a
# confirmed followed person. The others only support the tracks they overlap.
NEW_PER_FRAME = 3
# A new track is reported once verified in this many consecutive frames (tracked, unreported before):
# background blips of the Sports2D demo last 1-4 frames.
CONFIRM_FRAMES = 2
# Streams: once every slot (``--max-people``) holds a person followed in the last frame and supported by
# the detector's last run, the detector's proposals can add nobody; it then runs every SETTLED_DETECT_EVERY
# frames (once a second at 30 frames/s), to support the tracks (``pose3d_runtime.track``: a frame without
# it neither supports a track nor counts against it), and every frame again as soon as a slot is free or
# a run does not support a track. The followed people are checked by their pose score every frame
# meanwhile. MediaPipe Pose runs its detector only when it has lost the person.
SETTLED_DETECT_EVERY = 30
# Streams with slots free (the all-people loop): while every reported person was followed in the last
# frame and supported by the detector's last run, and no confirmed person is lost, the detector runs
# every CALM_DETECT_EVERY frames: a new person is found a frame later at worst, and verification
# (proposals of the frames the detector runs on) costs half as much.
CALM_DETECT_EVERY = 2
# People smaller than this share of the frame's shorter side (their joints' larger extent; the detector's
# box for a proposal, the pose's joints for a verified person) are not looked at nor reported: the
# detector is trained on people down to a tenth of its input's side (``detector_frames.min_height``),
# the product on people from a third of the frame's height up. On the real set (its labelled people span
# 0.23 to 0.93), with the detector fed 512 x 288 pixels, all 98 people reported below this were
# background (a foot, a bush, a bottle), and the smallest pose found on a labelled person spanned 0.15.
# 0 turns it off (``--min-size``).
MIN_SIZE = 0.1
DUPLICATE_IOU = 0.5  # two refined boxes overlapping more than this are one person: the better pose stays
# One head, one person: a second, smaller report on a person (an upper-body box whose joints are squeezed
# into it) overlaps too little for ``DUPLICATE_IOU`` and its joints are far from the whole person's, but
# its head is where the whole person's is. A smaller pose whose extent lies mostly (SHARED_HEAD_INSIDE)
# inside a larger one's and whose neck and head lie within SHARED_HEAD of the larger one's extent of them
# is the same person: the larger pose stays.
SHARED_HEAD = 0.12
SHARED_HEAD_INSIDE = 0.8
HEAD_JOINTS = (H36M17.index("Neck"), H36M17.index("Head"))
# Verified tracking: a followed track's box is not refined every frame, so a track on part of a person
# (the upper body) can sit inside another on the whole one; two tracks or a track and a new person whose
# boxes overlap by more than this fraction of the smaller one are one person too (Sports2D demo: the
# walker tracked twice, boxes of side 169 and 282), where the smaller's side is at least DUPLICATE_SIDES of
# the larger's (a large box on background around a real person, the jumper's 145 in 350-490, must not
# swallow it).
DUPLICATE_COVER = 0.8
DUPLICATE_SIDES = 0.5


@dataclass(frozen=True)
class Target:
    """One box to run the pose model on, and where it came from."""

    box: np.ndarray  # (3,) cx, cy, side: the square pose crop, frame pixels
    source: str  # "given", "full_image", "detected" or "tracked"
    detector_score: float | None = None
    extent: np.ndarray | None = None  # (4,) x0, y0, x1, y1: the joints' extent, when a detector gave it
    track_id: int | None = None
    # A followed track's crop (verified tracking): refined only where its pose scores below this or
    # moved off the crop (``pose3d_runtime.pipeline.refine``); None: refined always.
    refine_below: float | None = None


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


class Detect:
    """Every person the detector finds, best first, at most ``max_people``.

    ``verify`` (the pose model scores its poses): the detector proposes (``proposals`` boxes down to
    ``PROPOSAL_SCORE``) and ``observe`` keeps the people whose pose scores at least ``min_score``
    (None: ``MIN_POSE_SCORE``), one per person (``verify``). Else the detector decides: every box it
    scores at least ``min_score`` (None: its own threshold). Either way no proposal smaller than
    ``min_size`` of the frame's shorter side is looked at, and with ``verify`` no person whose joints
    span less is reported (``MIN_SIZE``; a followed track is not held to it)."""

    def __init__(self, detector: "PersonDetector", max_people: int, min_score: float | None = None,
                 verify: bool = False, proposals: int | None = None, min_size: float = MIN_SIZE) -> None:
        self.detector, self.max_people, self.verify, self.min_size = detector, max_people, verify, float(min_size)
        self.min_score = (MIN_POSE_SCORE if min_score is None else float(min_score)) if verify else min_score
        self.proposals = (proposals or default_proposals(max_people)) if verify else max_people
        how = f"pose score >= {self.min_score:.2f}, {self.proposals} proposals" if verify else "detector score"
        self.name = f"detector {detector.info.model_id} ({how})"

    def boxes(self, frame: np.ndarray) -> list[Target]:
        floor = PROPOSAL_SCORE if self.verify else self.min_score
        smallest = self.smallest(frame.shape)
        return [Target(d.box, "detected", d.score, d.extent) for d in self.detector(frame, floor, self.proposals)
                if extent_size(d.extent) >= smallest]

    def smallest(self, frame_shape: tuple[int, ...]) -> float:
        """The smallest person reported in a frame of this shape, in pixels (``min_size``)."""
        return self.min_size * min(frame_shape[0], frame_shape[1])

    def observe(self, frame_shape, targets, poses):
        people = list(zip(targets, poses))
        return verify(people, self.min_score, self.max_people, self.smallest(frame_shape)) if self.verify else people


def default_proposals(max_people: int, stream: bool = False) -> int:
    """Proposals a frame for ``max_people``: twice as many, at most ``MAX_PROPOSALS`` (streams: as many,
    at most ``STREAM_PROPOSALS``); each costs the pose model two crops."""
    return max(1, min(max_people, STREAM_PROPOSALS) if stream else min(2 * max_people, MAX_PROPOSALS))


def verify(people: Sequence[tuple[Target, "Pose"]], min_score: float, max_people: int | None = None,
           smallest: float = 0.0) -> list[tuple[Target, "Pose"]]:
    """The people whose pose scores at least ``min_score`` and whose joints span at least ``smallest``
    pixels (their larger extent), best score first, one per person: of two whose (refined) boxes
    overlap with IoU > ``DUPLICATE_IOU`` the better scored stays (two proposals on one person converge
    onto nearly the same box); of a person seen whole and in part (``shared_head``) the whole one
    stays; at most ``max_people``."""
    kept: list[tuple[Target, "Pose"]] = []
    for t, p in sorted(people, key=lambda tp: -tp[1].score):
        if not (p.score >= min_score and np.isfinite(p.joints_2d_px).all()
                and extent_size(joints_extent(p.joints_2d_px)) >= smallest):
            continue
        if any(box_iou(p.box, q.box) > DUPLICATE_IOU for _, q in kept):
            continue
        head = [k for k, (_, q) in enumerate(kept) if shared_head(p.joints_2d_px, q.joints_2d_px)]
        if head:
            k = head[0]
            if extent_size(joints_extent(p.joints_2d_px)) > extent_size(joints_extent(kept[k][1].joints_2d_px)):
                kept[k] = (t, p)  # the whole person, not the part
            continue
        kept.append((t, p))
        if max_people is not None and len(kept) >= max_people:
            break
    return kept


class Track:
    """Detections every frame, associated with tracks (``pose3d_runtime.track.Tracker``): each person
    reported keeps a ``track_id`` while it stays in view."""

    def __init__(self, detect: Detect, tracker: "Tracker") -> None:
        self.detect, self.tracker = detect, tracker
        self.name = f"tracking, {detect.name}"
        self.asked: list[Target] = []  # this frame's targets as ``boxes`` gave them
        self.detected = False  # whether the detector ran on this frame (``SETTLED_DETECT_EVERY``, ``CALM_DETECT_EVERY``)
        self.last_detection = -SETTLED_DETECT_EVERY

    def boxes(self, frame: np.ndarray) -> list[Target]:
        frame_index = self.tracker.frame + 1
        rest = SETTLED_DETECT_EVERY if self.tracker.settled() else CALM_DETECT_EVERY if self.tracker.calm() else 1
        self.detected = frame_index - self.last_detection >= rest
        if self.detected:
            self.last_detection = frame_index
        self.asked = self.tracker.targets(self.detect.boxes(frame) if self.detected else None)
        return self.asked

    def observe(self, frame_shape, targets, poses):
        if self.detect.verify and self.tracker.new_per_frame is not None:
            pairs = list(zip(targets, poses))
            detected = verify([tp for tp in pairs if tp[0].source != "tracked"], self.detect.min_score,
                              self.detect.max_people, self.detect.smallest(frame_shape))
            # The proposals as asked (refine moved the boxes) whose pose scored under --min-score are not
            # verified again at the same place for a few frames (``pose3d_runtime.track.FAILED_FRAMES``).
            # (Until 2026-11-30 only those under 0.35, "clear" failures: with the person head's
            # probabilities, near 0 or 1, near misses are rare, and re-verifying background at 0.35-0.75
            # every frame held the all-people loop on the Sports2D clip to 30-35 frames/s against 31-38,
            # for 271 person-frames in 12 tracks against 260 in 11; realval tracking 21 of 33 either way.)
            if len(self.asked) == len(pairs):
                ok = {id(t) for t, _ in detected}
                self.tracker.failed_proposals([a.box for a, (t, p) in zip(self.asked, pairs)
                                               if t.source == "detected" and id(t) not in ok and p.score < self.detect.min_score])
            kept = [tp for tp in pairs if tp[0].source == "tracked"] + detected
            targets, poses = [t for t, _ in kept], [p for _, p in kept]
        return self.tracker.update(targets, poses, self.detect.max_people)


def find_people(detector: "PersonDetector", scores_poses: bool, max_people: int, min_score: float | None = None,
                stream: bool = False, margin: float = 0.2, min_size: float = MIN_SIZE) -> "Detect | Track":
    """The detector's box source as ``pose3d-run`` makes it: ``Detect`` for folders, ``Track`` (with the
    pose model's crop ``margin``) for streams; ``scores_poses``: the pose model scores its poses
    (``has_person``), so the detector proposes and the pose score verifies; ``min_size``: see ``MIN_SIZE``."""
    from pose3d_runtime.track import Tracker

    detect = Detect(detector, max_people, min_score, verify=scores_poses,
                    proposals=default_proposals(max_people, stream) if scores_poses else None, min_size=min_size)
    if not stream:
        return detect
    if not scores_poses:
        return Track(detect, Tracker(margin))
    return Track(detect, Tracker(margin, min_pose_score=detect.min_score, new_per_frame=min(NEW_PER_FRAME, max_people),
                                 confirm_frames=CONFIRM_FRAMES, max_people=max_people))


def with_track_id(target: Target, track_id: int) -> Target:
    return replace(target, track_id=track_id)


def extent_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (0 for empty ones): ``pose3d.metrics.box_iou``."""
    return float(metrics.box_iou(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two square (cx, cy, side) boxes."""
    return extent_iou(box_extent(a), box_extent(b))


def box_ious(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
    """(len(a), len(b)) intersections over union of two lists of square (cx, cy, side) boxes, in one
    call of ``pose3d.metrics.box_iou`` (for loops that compare many boxes: the tracker)."""
    extents = lambda boxes: np.array([box_extent(x) for x in boxes]).reshape(-1, 4)  # noqa: E731
    return metrics.box_iou(extents(a), extents(b))


def same_person(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two square (cx, cy, side) boxes are one person: IoU > ``DUPLICATE_IOU``, or more than
    ``DUPLICATE_COVER`` of the smaller inside the other, of at most twice its side (``DUPLICATE_SIDES``)."""
    ea, eb = box_extent(a), box_extent(b)
    smaller = min(float(a[2]), float(b[2])) ** 2
    inter = intersection(ea, eb)
    comparable = min(float(a[2]), float(b[2])) >= DUPLICATE_SIDES * max(float(a[2]), float(b[2]))
    return extent_iou(ea, eb) > DUPLICATE_IOU or (comparable and smaller > 0 and inter > DUPLICATE_COVER * smaller)


def shared_head(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two (J, 2) poses are one person seen whole and in part (``SHARED_HEAD``)."""
    ea, eb = joints_extent(a), joints_extent(b)
    small, large = (ea, eb) if extent_size(ea) <= extent_size(eb) else (eb, ea)
    area = max(small[2] - small[0], 1e-6) * max(small[3] - small[1], 1e-6)
    if intersection(small, large) < SHARED_HEAD_INSIDE * area:
        return False
    gap = np.linalg.norm(np.asarray(a)[list(HEAD_JOINTS)] - np.asarray(b)[list(HEAD_JOINTS)], axis=1).mean()
    return bool(gap < SHARED_HEAD * extent_size(large))


def intersection(a: np.ndarray, b: np.ndarray) -> float:
    """The area two (x0, y0, x1, y1) extents share (0 where they do not meet)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return float(max(w, 0.0) * max(h, 0.0))


def extent_size(extent: np.ndarray) -> float:
    """(4,) (x0, y0, x1, y1) -> its larger side."""
    return float(max(extent[2] - extent[0], extent[3] - extent[1]))


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
