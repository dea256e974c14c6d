"""``pose3d-run --video FILE`` and ``--webcam N``: the live loop.

Each frame: find the person (HOG on the first frame and whenever the track is lost, else the box
following the previous frame's predicted joints, checked against HOG every half second: see
``detect.Tracker``), crop, run the model, optionally smooth (One Euro),
write a JSON Lines record, and show the annotated frame with an FPS counter (or, with
``display=False``, write it to an annotated video). The loop ends when the source ends or fails
(truncated video, unplugged camera), on 'q'/Esc in the window, or on Ctrl-C; what was done is saved:
the JSON Lines file is flushed per frame, and ``summary.json`` and ``poses.npz`` are written last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from pose3d_runtime.detect import Candidate, Tracker
from pose3d_runtime.draw import annotate
from pose3d_runtime.outputs import JsonLines, VideoSink, write_aggregate, write_json
from pose3d_runtime.pipeline import Estimator, check_box_in_image, full_image_box, no_person_record
from pose3d_runtime.smoothing import OneEuroFilter
from pose3d_runtime.sources import Frame, stream_fps, stream_frames

TRACK_MIN_SCORE = 0.3  # below this the track is dropped and the next frame detected afresh
RETRY_EVERY = 5  # while nobody is found, detect on every 5th frame (HOG takes ~3-4 frame periods at 640x480)


@dataclass
class StreamReport:
    frames: int = 0
    with_person: int = 0
    detections: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ended_by: str = "end of stream"

    def as_dict(self) -> dict[str, Any]:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        return {"frames": self.frames, "frames_with_person": self.with_person, "detector_runs": self.detections,
                "seconds": round(self.seconds, 2),
                "frames_per_second": round(self.frames / self.seconds, 2) if self.seconds > 0 else None,
                "latency_ms_median": round(float(np.median(lat)), 2), "latency_ms_p95": round(float(np.percentile(lat, 95)), 2),
                "ended_by": self.ended_by}


def run_stream(
    estimator: Estimator, cap: cv2.VideoCapture, out: Path, name: str, live: bool, display: bool = True,
    smooth: bool = False, bbox: np.ndarray | None = None, full_image: bool = False, max_frames: int | None = None,
    on_frame: Callable[[], Any] | None = None,
) -> StreamReport:
    info = estimator.info
    report = StreamReport()
    tracker = Tracker(estimator.detector, estimator.margin, TRACK_MIN_SCORE, retry_every=RETRY_EVERY)
    filters = (OneEuroFilter(), OneEuroFilter()) if smooth else None
    fps_in = stream_fps(cap)
    writer = None if display else VideoSink(out / f"{name}.annotated.mp4", fps_in)
    records: list[tuple[str, dict[str, Any]]] = []
    out.mkdir(parents=True, exist_ok=True)
    shown_fps = 0.0
    start = time.perf_counter()
    with JsonLines(out / f"{name}.jsonl") as lines:
        try:
            for frame in stream_frames(cap, live=live, max_frames=max_frames):
                record, picture_args = _one_frame(estimator, tracker, frame, bbox, full_image, filters, report)
                lines.write(record)
                records.append((f"{name}:{frame.index}", record))
                report.latencies_ms.append(1000.0 * (time.perf_counter() - frame.read_at))
                report.frames += 1
                elapsed = time.perf_counter() - start
                shown_fps = report.frames / elapsed if elapsed > 0 else 0.0
                joints, pose3d, box, reprojected = picture_args
                picture = annotate(frame.image, joints, pose3d, box, info.joint_parents, info.joint_names,
                                   f"{shown_fps:5.1f} fps  {record['status']}", reprojected)
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
                                             "smoothing": "one-euro" if smooth else None, **report.as_dict()})
    return report


def _one_frame(estimator: Estimator, tracker: Tracker, frame: Frame, bbox, full_image: bool, filters, report: StreamReport):
    """The record for one frame and what to draw on it: (joints_2d, pose_3d, box, reprojected 3D)."""
    model_id = estimator.info.model_id
    if full_image:
        candidates = [Candidate(full_image_box(frame.image.shape), "full_image")]
    elif bbox is not None:
        check_box_in_image(bbox, frame.image.shape)
        candidates = [Candidate(bbox, "given")]
    else:
        candidates = tracker.candidates(frame.image)
        report.detections += any(c.source == "detected" for c in candidates)
    base = {"frame": frame.index, "time_s": round(frame.time_s, 4)}
    if not candidates:
        if filters:
            for f in filters:
                f.reset()
        return {**base, **no_person_record(model_id)}, (None, None, None, None)
    poses = estimator.estimate([frame.image] * len(candidates), [c.box for c in candidates])
    best = tracker.choose(candidates, [p.score for p in poses])
    pose, chosen = poses[best], candidates[best]
    if chosen.source in ("tracked", "detected"):
        tracker.update(pose.joints_2d_px, pose.score, frame.image.shape, chosen.box)
    if filters:
        pose.joints_3d_mm = filters[0](pose.joints_3d_mm, frame.time_s)
        pose.joints_2d_px = filters[1](pose.joints_2d_px, frame.time_s)
    report.with_person += 1
    return {**base, **pose.record(chosen.source, chosen.detector_score, model_id)}, (
        pose.joints_2d_px, pose.joints_3d_mm, pose.box, pose.reprojected(frame.image.shape))
