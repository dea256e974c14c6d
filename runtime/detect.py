"""Finding the person: OpenCV's HOG people detector, then tracking from the predicted 2D joints.

A HOG window (64 x 128 pixels, Dalal & Triggs' INRIA layout) holds a standing person about 96
pixels tall, centred; the joints (head top to ankles) span a little less. ``hog_to_person_box`` turns
a detection into the square person box the model was trained on (``pose3d.crop.square_box``: the
joints' extent plus a margin each side) assuming the joints span ``JOINT_EXTENT`` of the window
height. It is a geometric assumption, not a fit: the model is trained with +-10 % box scale and
+-5 % shift jitter, and from the second frame of a stream the box comes from the predicted joints.

``Tracker`` keeps one person through a stream: the next frame's box follows this frame's predicted
2D joints (damped and bounded), is checked against the detector now and then, and is dropped when the
pose's score falls or the box leaves the frame (details in its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pose3d.crop import square_box

JOINT_EXTENT = 0.8  # joints' vertical extent / HOG window height (INRIA: person ~0.75, plus a loose box)
MIN_WEIGHT = 0.5  # HOG's SVM score below which a detection is ignored (a tree trunk in sports2d: 0.497)
MAX_SIDES = (640, 320)  # detect on the frame scaled to at most this side; the next one if nobody is found
COARSE_MIN_WEIGHT = 0.3  # the coarser pass, with fewer pixels per person (portrait phone video: 0.35)


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # (3,) square person box (cx, cy, side) in frame pixels, with the crop margin
    weight: float  # the detector's SVM score


def hog_to_person_box(rect: np.ndarray, margin: float) -> np.ndarray:
    """(x, y, w, h) HOG rectangle -> (cx, cy, side) square person box with ``margin``."""
    x, y, w, h = (float(v) for v in rect)
    extent = JOINT_EXTENT * h
    return np.array([x + 0.5 * w, y + 0.5 * h, extent * (1.0 + 2.0 * margin)])


class PersonDetector:
    """The most confident person in a frame, by OpenCV's default HOG people detector."""

    def __init__(self, margin: float, max_sides: tuple[int, ...] = MAX_SIDES, scale: float = 1.05,
                 min_weight: float = MIN_WEIGHT) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.margin = margin
        self.max_sides = max_sides
        self.scale = scale
        self.min_weight = min_weight

    def __call__(self, frame: np.ndarray) -> Detection | None:
        """The best detection at the first resolution that finds anyone (HOG misses people at one
        scale and finds them at another: a second, coarser pass is cheap)."""
        for i, side in enumerate(self.max_sides):
            if i > 0 and side >= max(frame.shape[:2]):
                break  # the frame is already this small: no coarser pass to make
            found = self._detect(frame, side, self.min_weight if i == 0 else COARSE_MIN_WEIGHT)
            if found is not None:
                return found
        return None

    def _detect(self, frame: np.ndarray, max_side: int, min_weight: float) -> Detection | None:
        H, W = frame.shape[:2]
        factor = min(1.0, max_side / max(H, W))
        small = frame if factor == 1.0 else cv2.resize(frame, (round(W * factor), round(H * factor)),
                                                       interpolation=cv2.INTER_AREA)
        if min(small.shape[:2]) < 128:  # smaller than one detection window
            return None
        rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=self.scale)
        if len(rects) == 0:
            return None
        weights = np.asarray(weights, dtype=np.float64).ravel()
        best = int(np.argmax(weights))
        if weights[best] < min_weight:
            return None
        rect = np.asarray(rects[best], dtype=np.float64) / factor
        return Detection(hog_to_person_box(rect, self.margin), float(weights[best]))


def joints_box(joints_2d: np.ndarray, margin: float) -> np.ndarray:
    """The square person box around (J, 2) frame-pixel joints, as the training crops were cut."""
    return square_box(np.asarray(joints_2d, dtype=np.float64), margin)


def box_inside(box: np.ndarray, width: int, height: int, min_overlap: float = 0.5) -> bool:
    """Whether at least ``min_overlap`` of the box's area lies inside the frame."""
    cx, cy, side = (float(v) for v in box)
    x0, x1 = max(cx - side / 2, 0.0), min(cx + side / 2, float(width))
    y0, y1 = max(cy - side / 2, 0.0), min(cy + side / 2, float(height))
    inside = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    return side > 0 and inside >= min_overlap * side * side


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two square (cx, cy, side) boxes."""
    lo = np.maximum(a[:2] - a[2] / 2, b[:2] - b[2] / 2)
    hi = np.minimum(a[:2] + a[2] / 2, b[:2] + b[2] / 2)
    inter = float(np.prod(np.clip(hi - lo, 0.0, None)))
    union = float(a[2] ** 2 + b[2] ** 2) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Candidate:
    box: np.ndarray
    source: str  # "tracked" or "detected"
    detector_score: float | None = None


class Tracker:
    """One person through a stream: detect, then follow the predicted joints.

    Following the joints alone drifts when the 2D prediction is off (one frame's error moves the next
    crop, which makes the next prediction worse), so the box moves only part of the way towards the
    box around the new joints (``GAIN``), by at most ``MAX_SCALE_STEP`` in size per frame and within
    ``SCALE_RANGE`` of its size when detected. Every ``check_every`` frames the detector runs too; when
    its box differs from the track (IoU < ``SAME_IOU``), both crops go through the model and the one
    with the higher score wins (``candidates``, then ``choose``). A track is dropped when its score
    falls below ``min_score``, its box leaves the frame or gets smaller than ``MIN_SIDE`` pixels.
    While nobody is found the detector runs on every ``retry_every``-th frame only (HOG costs several
    frame periods; a live loop keeps its frame rate and finds a newcomer a few frames late).
    """

    GAIN = 0.6
    MAX_SCALE_STEP = 1.15
    SCALE_RANGE = (0.6, 1.6)
    MIN_SIDE = 48.0
    SAME_IOU = 0.3

    def __init__(self, detector: PersonDetector, margin: float, min_score: float, check_every: int = 15,
                 retry_every: int = 1) -> None:
        self.detector = detector
        self.retry_every = max(1, retry_every)
        self._since_miss = 0
        self.margin = margin
        self.min_score = min_score
        self.check_every = check_every
        self.box: np.ndarray | None = None
        self._detected_side = 0.0
        self._since_check = 0

    def candidates(self, frame: np.ndarray) -> list[Candidate]:
        """The boxes to try on this frame (none: nobody found)."""
        if self.box is not None:
            self._since_check += 1
            if self.check_every <= 0 or self._since_check < self.check_every:
                return [Candidate(self.box, "tracked")]
            self._since_check = 0
            found = self.detector(frame)
            if found is None or box_iou(found.box, self.box) >= self.SAME_IOU:
                return [Candidate(self.box, "tracked")]
            return [Candidate(self.box, "tracked"), Candidate(found.box, "detected", found.weight)]
        self._since_check = 0
        if self._since_miss > 0:  # nobody was found lately: wait before the next try
            self._since_miss = (self._since_miss + 1) % self.retry_every
            return []
        found = self.detector(frame)
        if found is None:
            self._since_miss = 1 % self.retry_every
            return []
        return [Candidate(found.box, "detected", found.weight)]

    def choose(self, candidates: list[Candidate], scores: list[float]) -> int:
        """Which candidate to keep, by score; a new detection resets the size range."""
        best = int(np.argmax(scores))
        if candidates[best].source == "detected":
            self._detected_side = float(candidates[best].box[2])
        return best

    def update(self, joints_2d: np.ndarray, score: float, frame_shape: tuple[int, ...], used_box: np.ndarray) -> None:
        """After the model ran on this frame (in ``used_box``): follow its joints, or drop the track."""
        target = joints_box(joints_2d, self.margin)
        if not np.isfinite(target).all():
            self.box = None
            return
        box = used_box + self.GAIN * (target - used_box)
        step, (lo, hi) = self.MAX_SCALE_STEP, self.SCALE_RANGE
        side = float(np.clip(box[2], used_box[2] / step, used_box[2] * step))
        if self._detected_side > 0:
            side = float(np.clip(side, lo * self._detected_side, hi * self._detected_side))
        box[2] = side
        if score < self.min_score or box[2] < self.MIN_SIDE or not box_inside(box, frame_shape[1], frame_shape[0]):
            self.box = None
        else:
            self.box = box
