"""Where frames come from: image files (one by one, robustly) and video files or cameras (as streams).

``read_image`` returns an (H, W, 3) uint8 BGR frame for any image OpenCV decodes, honouring EXIF
orientation; grayscale is expanded to three channels, 16-bit and float images are scaled to 8 bits,
an alpha channel is dropped. What it cannot read raises ``ImageError`` with the reason.

``stream_frames`` reads a video or camera on a background thread (decoding overlaps the model) and
yields frames until the source ends or fails: a lost camera or a truncated video simply ends the
stream; the caller keeps what it has.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
                              ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".sr", ".ras"})


class ImageError(ValueError):
    """An image file that cannot be used, with the reason."""


def list_inputs(root: Path) -> tuple[list[Path], list[Path]]:
    """(images, ignored): every file under ``root`` (recursively, hidden files and folders skipped),
    in a deterministic order (sorted by relative path), split by extension. A file root is an image."""
    if root.is_file():
        return [root], []
    images, ignored = [], []
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        (images if path.suffix.lower() in IMAGE_EXTENSIONS else ignored).append(path)
    return images, ignored


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded image -> (H, W, 3) uint8 BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[..., :3])
    if image.shape[2] == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(image)


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 BGR, or raise ImageError saying why not."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as e:
        raise ImageError(f"cannot read: {e.strerror or e}") from None
    if data.size == 0:
        raise ImageError("empty file")
    if data[:2].tobytes() == b"\xff\xd8" and not _jpeg_complete(data):
        raise ImageError("truncated JPEG (no end-of-image marker)")
    # IMREAD_COLOR applies the EXIF orientation; ANYDEPTH keeps 16-bit data for an exact scaling.
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if image is None or image.size == 0:
        raise ImageError("not a decodable image")
    return to_bgr8(image)


def _jpeg_complete(data: np.ndarray) -> bool:
    tail = data[-1024:].tobytes().rstrip(b"\x00\r\n ")
    return tail.endswith(b"\xff\xd9")


@dataclass(frozen=True)
class Frame:
    index: int
    time_s: float  # position in the stream: from the frame rate for files, wall clock for cameras
    image: np.ndarray
    read_at: float  # time.perf_counter() when captured (live) or taken from the read-ahead queue (files)


def open_capture(source: str | int) -> cv2.VideoCapture:
    """A cv2.VideoCapture for a file path or a camera index; raises OSError if it does not open."""
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        what = f"camera {source}" if isinstance(source, int) else f"video {source}"
        raise OSError(f"cannot open {what}")
    return cap


def stream_frames(cap: cv2.VideoCapture, live: bool, max_frames: int | None = None, prefetch: int = 4) -> Iterator[Frame]:
    """Frames of an opened capture, read ahead on a thread; ends when the source does (or fails)."""
    fps = stream_fps(cap)
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    start = time.perf_counter()

    def reader() -> None:
        i = 0
        try:
            while not stop.is_set() and (max_frames is None or i < max_frames):
                ok, image = cap.read()
                if not ok or image is None:
                    break
                now = time.perf_counter()
                q.put(Frame(i, (now - start) if live else i / fps, to_bgr8(image), now))
                i += 1
        except Exception as e:  # noqa: BLE001 - a failing source ends the stream; say why
            q.put(e)
        finally:
            q.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is None:
                break
            if isinstance(item, Exception):
                raise OSError(f"reading the stream failed: {item}")
            if not live:  # a file is read ahead of time: latency counts from when the frame is taken
                item = Frame(item.index, item.time_s, item.image, time.perf_counter())
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
        cap.release()


def stream_fps(cap: cv2.VideoCapture) -> float:
    """The capture's frame rate (30 where it does not say)."""
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    return fps if 1.0 <= fps <= 1000.0 else 30.0
