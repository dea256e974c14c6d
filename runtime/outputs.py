"""Writing results so that an interrupted run loses nothing and leaves nothing half-written.

Per-image JSON and annotated images are written to a temporary name and renamed into place; JSON
Lines are flushed line by line; the aggregate NPZ is rebuilt from the per-image files at the end of
every run (so results of earlier runs are included).

A result record (per image, or per frame in JSON Lines; schema changed with several people per
image, ``people`` replacing the single person's fields at the top level):
``status`` ("ok": at least one person; "no_person": none found, a result and not a failure; files
that cannot be read get no record but a line in ``errors.json``), ``people`` (a list, best detector
score first in folders and by ``track_id`` in streams; empty when "no_person"), ``focal_px`` and
``principal_point_px`` (the frame's assumed pinhole camera: the longer side unless ``--focal``, and
the image centre ``((W - 1) / 2, (H - 1) / 2)``, pixel centres at integers), ``model``. Each person:
``joints_3d_mm`` (J x 3, camera frame: X right, Y down, Z forward, relative to the pelvis),
``joints_2d_px`` (J x 2, image pixels), ``box`` (cx, cy, side of the square crop box, pixels),
``extent`` (x0, y0, x1, y1: the joints' extent the detector found, or null), ``box_source``
(detected / tracked / given / full_image), ``detector_score`` (0..1, or null), ``score`` (0..1: the
model's person probability where it has a person head, as the shipped model does; else the agreement
of its 2D and 3D heads, pose3d_runtime.score), ``root_cam_mm`` (the pelvis placed in the camera
frame), ``track_id`` (streams: the person's identity across frames; null in folders).

Files are created with the permissions the umask gives (as ``open`` would), and JSON never holds
NaN or Infinity (not standard JSON): a record with one fails to write instead.
"""

from __future__ import annotations

import functools
import io
import json
import os
import queue
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np


class OutputError(OSError):
    """The output folder cannot be used; the message says why."""


def check_output_folder(out: Path) -> None:
    """Create ``out`` if needed and make sure files can be written there, or raise OutputError (so a
    run fails up front, not image by image)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out, prefix=".pose3d-write-check.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise OutputError(f"cannot write to the output folder {out}: {e.strerror or e}") from None


@functools.cache
def file_mode() -> int:
    """The mode ``open`` gives a new file under this process's umask (mkstemp's files are 0600)."""
    try:  # Linux states the umask; reading it avoids os.umask's set-and-restore, racy across threads
        status = Path("/proc/self/status").read_text()
        umask = int(re.search(r"^Umask:\s*([0-7]+)", status, re.M).group(1), 8)
    except (OSError, AttributeError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _atomic_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    _atomic_bytes(path, (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode())


def write_image(path: Path, image: np.ndarray, quality: int = 90) -> None:
    ok, buf = cv2.imencode(path.suffix or ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"cannot encode {path}")
    _atomic_bytes(path, buf.tobytes())


def read_json(path: Path) -> dict[str, Any] | None:
    """A finished result file's record, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def rounded(a: np.ndarray | None, digits: int = 2) -> list | None:
    return None if a is None else np.round(np.asarray(a, dtype=np.float64), digits).tolist()


class JsonLines:
    """Append-only JSON Lines, each line flushed as it is written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._f = open(path, "w")

    def write(self, obj: Any) -> None:
        self._f.write(json.dumps(obj, allow_nan=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "JsonLines":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_aggregate(path: Path, records: Iterable[tuple[str, dict[str, Any]]], joint_names: list[str]) -> int:
    """One NPZ with a row per person of every 'ok' record: names (N,) (the image or frame the person
    is in), person (N,) (the index in that record's ``people``), track_ids (N,) (-1 where none),
    joints_3d_mm (N, J, 3), joints_2d_px (N, J, 2), boxes (N, 3), scores (N,), joint_names (J,).
    Returns N."""
    names, index, tracks, p3, p2, boxes, scores = [], [], [], [], [], [], []
    for name, rec in records:
        if rec.get("status") != "ok":
            continue
        for k, person in enumerate(rec.get("people", [])):
            names.append(name)
            index.append(k)
            tracks.append(-1 if person.get("track_id") is None else int(person["track_id"]))
            p3.append(person["joints_3d_mm"])
            p2.append(person["joints_2d_px"])
            boxes.append(person["box"])
            scores.append(person["score"])
    J = len(joint_names)
    buf = io.BytesIO()
    np.savez_compressed(
        buf, names=np.array(names, dtype=str), joint_names=np.array(joint_names, dtype=str),
        person=np.array(index, dtype=np.int32), track_ids=np.array(tracks, dtype=np.int64),
        joints_3d_mm=np.array(p3, dtype=np.float32).reshape(-1, J, 3),
        joints_2d_px=np.array(p2, dtype=np.float32).reshape(-1, J, 2),
        boxes=np.array(boxes, dtype=np.float32).reshape(-1, 3), scores=np.array(scores, dtype=np.float32))
    _atomic_bytes(path, buf.getvalue())
    return len(names)


class VideoSink:
    """An annotated video written on a background thread (encoding overlaps the next frame's work);
    opened on the first frame, with that frame's size."""

    def __init__(self, path: Path, fps: float, queue_size: int = 8) -> None:
        self.path, self.fps = path, fps
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        writer = None
        while (image := self._queue.get()) is not None:
            if writer is None:
                H, W = image.shape[:2]
                writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (W, H))
            writer.write(image)
        if writer is not None:
            writer.release()

    def write(self, image: np.ndarray) -> None:
        self._queue.put(image)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
