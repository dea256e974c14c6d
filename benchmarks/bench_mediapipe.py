"""MediaPipe Pose's video loop on a clip: the reference for pose3d's streaming loop (issue #14).

    /work/mp-venv/bin/python benchmarks/bench_mediapipe.py CLIP.mp4 [--max-frames N]

Runs in its own virtual environment, never the project's (MediaPipe pins NumPy < 2 and its own
OpenCV); ``bench.py --mediapipe-python PYTHON`` runs it as a subprocess on the same 640 x 480 clip
as pose3d's loop, in the same run. Set that environment up with

    python -m venv /work/mp-venv
    /work/mp-venv/bin/pip install mediapipe==0.10.21 opencv-python-headless 'numpy<2'

The loop is a plain MediaPipe webcam loop: read a frame (OpenCV), BGR -> RGB, ``Pose.process`` (the
legacy solution, ``static_image_mode=False``, ``model_complexity=1``: MediaPipe's own detector runs
when it has lost the person, its landmark model tracks otherwise; one person at most). Latency is a
frame's time from being read to its landmarks (as pose3d's loop counts from when it takes a frame);
frames/s is frames over the loop's wall time, decoding included. Nothing is drawn or written, which
favours MediaPipe against pose3d's loop (annotated video and JSON Lines). Prints one JSON object.
Imports nothing of pose3d.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", help="a video file (the benchmark's 640 x 480 clip)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--model-complexity", type=int, default=1, choices=(0, 1, 2))
    args = parser.parse_args()

    import cv2
    import mediapipe as mp
    import numpy as np

    cap = cv2.VideoCapture(args.clip)
    if not cap.isOpened():
        sys.exit(f"cannot open {args.clip}")
    latencies, found = [], 0
    size = None
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=args.model_complexity) as pose:
        start = time.perf_counter()
        while args.max_frames is None or len(latencies) < args.max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            t = time.perf_counter()
            result = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            latencies.append(1000.0 * (time.perf_counter() - t))
            found += result.pose_landmarks is not None
            size = size or f"{frame.shape[1]} x {frame.shape[0]}"
        seconds = time.perf_counter() - start
    cap.release()
    if not latencies:
        sys.exit(f"no frames read from {args.clip}")
    lat = np.array(latencies)
    print(json.dumps({
        "engine": f"MediaPipe Pose {mp.__version__} (legacy solutions.pose, model_complexity={args.model_complexity})",
        "mediapipe": mp.__version__, "opencv": cv2.__version__, "numpy": np.__version__,
        "frame_size": size, "frames": len(latencies), "frames_with_person": int(found), "people": int(found),
        "seconds": round(seconds, 3), "frames_per_second": round(len(latencies) / seconds, 2),
        "latency_ms_median": round(float(np.median(lat)), 2), "latency_ms_p95": round(float(np.percentile(lat, 95)), 2),
    }))


if __name__ == "__main__":
    main()
