"""``pose3d-run --video FILE`` and ``--webcam N``: the live loop.

Each frame: the box source gives the boxes (``pose3d_runtime.boxes``: with a detector, ``Track``
detects and keeps identities, ``pose3d_runtime.track``: every frame, once a second while every
``--max-people`` slot holds a followed person (``boxes.SETTLED_DETECT_EVERY``), every other frame
while a slot is free and the people reported are followed (``boxes.CALM_DETECT_EVERY``); else the
given box or the whole frame), the pose model runs on all of them in one batch and again on the detected and tracked boxes
refined onto their poses (``pipeline.refine``; a followed person's only where its pose needs it: with a
scoring model a followed person costs one crop a frame, ``pose3d_runtime.track``), the box source says who to report (with a scoring
pose model: the people whose pose scores at least ``--min-score``, one per person), each
person's joints are optionally smoothed (One Euro, per track), a JSON Lines record is written (every
person with a ``track_id``; schema in ``pose3d_runtime.outputs``), and the annotated frame is shown
with an FPS counter (or, with ``display=False``, written to an annotated video). The loop ends when
the source ends or fails (truncated video, unplugged camera), on 'q'/Esc in the window, or on Ctrl-C;
what was done is saved: the JSON Lines file is flushed per frame, and ``summary.json`` and
``poses.npz`` are written last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from pose3d_runtime.boxes import BoxSource, Track, with_track_id
from pose3d_runtime.draw import annotate
from pose3d_runtime.outputs import JsonLines, VideoSink, write_aggregate, write_json
from pose3d_runtime.pipeline import Estimator, drawn_people, frame_record, refine
from pose3d_runtime.smoothing import PoseSmoother
from pose3d_runtime.sources import Frame, stream_fps, stream_frames


@dataclass
class StreamReport:
    frames: int = 0
    with_person: int = 0
    detections: int = 0
    people: int = 0
    most_people: int = 0
    tracks: set[int] = field(default_factory=set)
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ended_by: str = "end of stream"

    def as_dict(self) -> dict[str, Any]:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        return {"frames": self.frames, "frames_with_person": self.with_person, "detector_runs": self.detections,
                "people": self.people, "most_people_in_a_frame": self.most_people, "tracks": len(self.tracks),
                "seconds": round(self.seconds, 2),
                "frames_per_second": round(self.frames / self.seconds, 2) if self.seconds > 0 else None,
                "latency_ms_median": round(float(np.median(lat)), 2), "latency_ms_p95": round(float(np.percentile(lat, 95)), 2),
                "ended_by": self.ended_by}


def run_stream(
    estimator: Estimator, cap: cv2.VideoCapture, out: Path, name: str, boxes: BoxSource, live: bool,
    display: bool = True, smooth: bool = False, max_frames: int | None = None,
    on_frame: Callable[[], Any] | None = None,
) -> StreamReport:
    info = estimator.info
    report = StreamReport()
    smoother = PoseSmoother() if smooth else None
    fps_in = stream_fps(cap)
    writer = None if display else VideoSink(out / f"{name}.annotated.mp4", fps_in)
    records: list[tuple[str, dict[str, Any]]] = []
    out.mkdir(parents=True, exist_ok=True)
    shown_fps = 0.0
    start = time.perf_counter()
    with JsonLines(out / f"{name}.jsonl") as lines:
        try:
            for frame in stream_frames(cap, live=live, max_frames=max_frames):
                record, people = _one_frame(estimator, boxes, frame, smoother, report)
                lines.write(record)
                records.append((f"{name}:{frame.index}", record))
                report.latencies_ms.append(1000.0 * (time.perf_counter() - frame.read_at))
                report.frames += 1
                elapsed = time.perf_counter() - start
                shown_fps = report.frames / elapsed if elapsed > 0 else 0.0
                picture = annotate(frame.image, drawn_people(people), info.joint_parents, info.joint_names,
                                   f"{shown_fps:5.1f} fps  {len(people)} {'person' if len(people) == 1 else 'people'}")
                if display:
                    cv2.imshow(f"pose3d - {name}", picture)
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        report.ended_by = "user"
                        break
                else:
                    writer.write(picture)
                if on_frame:
                    on_frame()
        except KeyboardInterrupt:
            report.ended_by = "interrupted"
        except OSError as e:
            report.ended_by = f"source failed: {e}"
        except Exception as e:  # noqa: BLE001 - end the stream, keep what was done, say why
            report.ended_by = f"error: {type(e).__name__}: {e}"
        finally:
            report.seconds = time.perf_counter() - start
            if report.ended_by == "end of stream" and max_frames is not None and report.frames >= max_frames:
                report.ended_by = f"max frames ({max_frames})"
            if writer is not None:
                writer.close()
            if display:
                cv2.destroyAllWindows()
    write_aggregate(out / f"{name}.poses.npz", records, list(info.joint_names))
    write_json(out / f"{name}.summary.json", {"source": name, "model": info.model_id, "provider": estimator.model.provider,
                                             "boxes": boxes.name, "smoothing": "one-euro" if smooth else None,
                                             **report.as_dict()})
    return report


def _one_frame(estimator: Estimator, boxes: BoxSource, frame: Frame, smoother: PoseSmoother | None,
               report: StreamReport):
    """The record for one frame and the people in it ((target, pose) pairs, each with a track id)."""
    camera = estimator.intrinsics(frame.image.shape)
    targets = boxes.boxes(frame.image)
    report.detections += isinstance(boxes, Track) and boxes.detected
    frames, cameras = [frame.image] * len(targets), [camera] * len(targets)
    targets, poses = refine(estimator, frames, targets, estimator.estimate(frames, [t.box for t in targets], cameras),
                            cameras)
    people = boxes.observe(frame.image.shape, targets, poses)
    if not isinstance(boxes, Track):  # one given box or the whole frame: the same person throughout
        people = [(with_track_id(t, 0), p) for t, p in people]
    if smoother is not None:
        for target, pose in people:
            pose.joints_3d_mm, pose.joints_2d_px = smoother(target.track_id, pose.joints_3d_mm, pose.joints_2d_px,
                                                            frame.time_s)
        smoother.keep({t.track_id for t, _ in people})
    report.with_person += bool(people)
    report.people += len(people)
    report.most_people = max(report.most_people, len(people))
    report.tracks.update(t.track_id for t, _ in people)
    record = {"frame": frame.index, "time_s": round(frame.time_s, 4), **frame_record(people, camera, estimator.info.model_id)}
    return record, people
