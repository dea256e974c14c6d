"""Run the runtime's estimator on labelled real frames, once per way of finding the person.

Box sources, side by side:

- ``labelled``: the label's tight joint box made into the square person box the model was trained
  on (``pose3d.crop.square_box`` with the model's margin): the model's accuracy given a perfect
  person finder;
- ``detector``: exactly what ``pose3d-run folder/`` does on each frame (``pose3d_runtime.boxes``'
  ``Detect`` box source: the detector's boxes, or with a pose model that scores its poses its
  proposals; the pose model on them; ``pipeline.refine``; ``observe``'s verification; the reported
  people refined once more: ``pose3d_runtime.folder.find_in_images``); of the people
  it reports, the one whose square box overlaps the labelled one most;
- ``tracking``: the runtime's video path (``pose3d-run --video``: detect every frame, associate the
  people with tracks) run over the whole source video, read at the labelled frames, again the person
  overlapping the labelled box most. Only for streams whose video is given; the video is checked to
  be the labelled footage first.

Both need a person detector: the one given to ``run_real``, else the shipped one; where none is
installed, the two sources are left out with a note saying so. Every source is scored on the same
frames; a frame where a source finds nobody counts as a miss. A person counts as found when the
source's square box and the labelled square box overlap with IoU >= ``FOUND_IOU``: both boxes are
defined the same way (the joints' extent made square with the model's margin).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from pose3d.crop import square_box
from pose3d.realval.labels import RealFrame, RealSet
from pose3d_runtime.boxes import Detect, box_iou, find_people
from pose3d_runtime.detector import PersonDetector, default_detector_path
from pose3d_runtime.model import ModelError
from pose3d_runtime.folder import find_in_images
from pose3d_runtime.pipeline import Estimator
from pose3d_runtime.sources import ImageError, open_capture, read_image

FOUND_IOU = 0.5
MAX_PEOPLE = 10  # pose3d-run's default --max-people
SOURCES = ("labelled", "detector", "tracking")
VIDEO_MATCH_LEVELS = 12.0  # mean absolute difference (0-255) above which a video is not the labelled footage


@dataclass
class Predictions:
    """One box source's answers on N frames (NaN where it found nobody or does not apply)."""

    source: str
    joints_2d: np.ndarray  # (N, J, 2) frame pixels
    joints_3d: np.ndarray  # (N, J, 3) root-relative camera frame, mm
    box: np.ndarray  # (N, 3) square person box
    applies: np.ndarray  # (N,) bool: the source was run on this frame
    iou: np.ndarray  # (N,) IoU of its box with the labelled box (0 where none)

    @classmethod
    def empty(cls, source: str, n: int, J: int) -> "Predictions":
        nan = np.nan
        return cls(source, np.full((n, J, 2), nan), np.full((n, J, 3), nan), np.full((n, 3), nan),
                   np.zeros(n, bool), np.zeros(n))

    @property
    def found(self) -> np.ndarray:
        """(N,) a box on the labelled person."""
        return self.iou >= FOUND_IOU

    def set(self, i: int, joints_2d: np.ndarray, joints_3d: np.ndarray, box: np.ndarray, label_box: np.ndarray) -> None:
        self.joints_2d[i], self.joints_3d[i], self.box[i] = joints_2d, joints_3d, box
        self.iou[i] = box_iou(np.asarray(box, np.float64), label_box)


@dataclass
class RealRun:
    frames: list[RealFrame]  # the frames that were read
    predictions: dict[str, Predictions]
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def labelled_box(frame: RealFrame, margin: float) -> np.ndarray:
    """(3,) the square person box around the label's joint box, as the training crops were cut."""
    x, y, w, h = frame.bbox_xywh
    return square_box(np.array([[x, y], [x + w, y + h]]), margin)


def _read(frame: RealFrame) -> np.ndarray:
    image = read_image(frame.path)
    H, W = image.shape[:2]
    if (W, H) != frame.size_wh:
        raise ImageError(f"the image is {W}x{H} but the label says {frame.size_wh[0]}x{frame.size_wh[1]}")
    return image


def best_match(boxes: list[np.ndarray], label_box: np.ndarray) -> tuple[int, float]:
    """The index of the box overlapping ``label_box`` most, and that IoU ((-1, 0.0) for none)."""
    ious = [box_iou(np.asarray(b, np.float64), label_box) for b in boxes]
    return (int(np.argmax(ious)), float(max(ious))) if ious else (-1, 0.0)


def open_detector(estimator: Estimator, detector: PersonDetector | Path | None) -> tuple[PersonDetector | None, str | None]:
    """The detector to score (given, its file, or the shipped one) and, where there is none, why."""
    if detector is not None and not isinstance(detector, (str, Path)):
        return detector, None
    if detector is None and not default_detector_path().is_file():
        return None, f"detector and tracking not scored: no person detector is installed ({default_detector_path()})"
    try:
        return PersonDetector(detector, margin=estimator.margin, device="cpu"), None
    except ModelError as e:
        return None, f"detector and tracking not scored: {e}"


def run_real(estimator: Estimator, data: RealSet, videos: dict[str, Path] | None = None,
             work_dir: Path | None = None, progress: Callable[[str], None] | None = None,
             detector: PersonDetector | Path | None = None) -> RealRun:
    """Every box source on every readable frame of ``data`` (see the module docstring). ``videos``:
    ``source/view`` -> the video file of that stream, for the tracking source; ``work_dir`` keeps the
    tracking run's own outputs (annotated video, JSON Lines); ``detector``: a ``PersonDetector`` or
    its ONNX file (None: the shipped one, where installed)."""
    say = progress or (lambda _msg: None)
    margin = estimator.margin
    detector, no_detector = open_detector(estimator, detector)
    notes = [no_detector] if no_detector else []
    frames, skipped = [], list(data.skipped)
    for f in data.frames:
        if not f.path.is_file():
            skipped.append({"file": f.file, "reason": "frame file missing"})
        else:
            frames.append(f)
    J = len(estimator.info.joint_names)
    preds = {s: Predictions.empty(s, len(frames), J) for s in SOURCES}
    detect = None if detector is None else find_people(detector, scores_poses(estimator), MAX_PEOPLE,
                                                       margin=margin)
    if detect is not None:
        notes.append(finder_note(estimator, detect))
    kept = []
    for i, f in enumerate(frames):
        try:
            image = _read(f)
        except ImageError as e:
            skipped.append({"file": f.file, "reason": str(e)})
            continue
        kept.append(i)
        label_box = labelled_box(f, margin)
        pose = estimator.estimate([image], [label_box])[0]
        preds["labelled"].applies[i] = True
        preds["labelled"].set(i, pose.joints_2d_px, pose.joints_3d_mm, label_box, label_box)
        if detect is not None:
            preds["detector"].applies[i] = True
            people = find_in_frame(estimator, detect, image)
            k, _ = best_match([p.box for _, p in people], label_box)
            if k >= 0:
                pose = people[k][1]
                preds["detector"].set(i, pose.joints_2d_px, pose.joints_3d_mm, pose.box, label_box)
        if (i + 1) % 20 == 0:
            say(f"{i + 1}/{len(frames)} frames")
    keep = np.asarray(kept, dtype=np.int64)
    frames = [frames[i] for i in kept]
    for p in preds.values():
        for name in ("joints_2d", "joints_3d", "box", "applies", "iou"):
            setattr(p, name, getattr(p, name)[keep])
    run = RealRun(frames, preds, skipped, notes)
    for stream, video in (videos or {}).items():
        _track(estimator, detector, run, stream, Path(video), work_dir, say)
    return run


def scores_poses(estimator: Estimator) -> bool:
    """Whether the pose model scores its poses (the detector then proposes, ``pose3d_runtime.boxes``)."""
    return bool(getattr(estimator.model, "has_person", False))


def finder_note(estimator: Estimator, detect: Detect) -> str:
    """What decides who the finder and tracking rows report, in words: the pose model's score (which
    one, at which threshold) or the detector's own."""
    kind = getattr(estimator.model, "score_kind", None)
    if not detect.verify:
        return "finder and tracking: the model scores no pose; the detector's own threshold decides who is reported"
    note = f"finder and tracking: the detector proposes and {kind or 'the pose score'} >= {detect.min_score:g} verifies"
    if kind == "the mean joint confidence":
        note += (" (this model has no person head: the threshold is set for a head's probability, so these rows"
                 " are not comparable with a model that has one)")
    return note


def find_in_frame(estimator: Estimator, boxes, image: np.ndarray) -> list:
    """The people ``pose3d-run`` reports in one image with the box source ``boxes``, as its folder
    mode finds them (``pose3d_runtime.folder.find_in_images``; (target, pose) pairs)."""
    return find_in_images(estimator, boxes, [image], [boxes.boxes(image)], [estimator.intrinsics(image.shape)])[0]


def _check_video(video: Path, frames: list[RealFrame]) -> str | None:
    """Why ``video`` is not the footage of ``frames`` (None: it is). Compares the first labelled
    frame with the video's frame of that index."""
    first = min(frames, key=lambda f: f.frame)
    try:
        cap = open_capture(str(video))
    except OSError as e:
        return str(e)
    try:
        W, H = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if (W, H) != first.size_wh:
            return f"its frames are {W}x{H}, the labelled ones {first.size_wh[0]}x{first.size_wh[1]}"
        for _ in range(first.frame + 1):
            ok, image = cap.read()
            if not ok:
                return f"it ends before frame {first.frame}"
    finally:
        cap.release()
    diff = float(np.abs(image.astype(np.float32) - _read(first).astype(np.float32)).mean())
    if diff > VIDEO_MATCH_LEVELS:
        return f"its frame {first.frame} differs from {first.file} by {diff:.1f} levels on average"
    return None


def _track(estimator: Estimator, detector: PersonDetector | None, run: RealRun, stream: str, video: Path,
           work_dir: Path | None, say: Callable[[str], None]) -> None:
    from pose3d_runtime.stream import run_stream

    rows = [i for i, f in enumerate(run.frames) if f.stream == stream]
    if not rows:
        run.notes.append(f"tracking: no labelled frames of {stream}; video {video} not used")
        return
    problem = _check_video(video, [run.frames[i] for i in rows])
    if problem is not None:
        run.notes.append(f"tracking: {video} is not the footage of {stream} ({problem}); not used")
        return
    if detector is None:
        return  # the note that no detector is installed is made once, in run_real
    say(f"tracking through {video}")
    name = stream.replace("/", "_")
    with tempfile.TemporaryDirectory() as tmp:
        out = work_dir if work_dir is not None else Path(tmp)
        boxes = find_people(detector, scores_poses(estimator), MAX_PEOPLE, stream=True, margin=estimator.margin)
        report = run_stream(estimator, open_capture(str(video)), out, name, boxes, live=False, display=False)
        records = {}
        with open(out / f"{name}.jsonl") as fh:
            for line in fh:
                rec = json.loads(line)
                records[int(rec["frame"])] = rec
    if report.ended_by != "end of stream":
        run.notes.append(f"tracking through {video} ended early: {report.ended_by}")
    p = run.predictions["tracking"]
    for i in rows:
        f = run.frames[i]
        p.applies[i] = True
        rec = records.get(f.frame)
        people = rec.get("people", []) if rec is not None and rec["status"] == "ok" else []
        label_box = labelled_box(f, estimator.margin)
        k, _ = best_match([np.array(q["box"]) for q in people], label_box)
        if k >= 0:
            q = people[k]
            p.set(i, np.array(q["joints_2d_px"]), np.array(q["joints_3d_mm"]), np.array(q["box"]), label_box)
