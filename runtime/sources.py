"""Where frames come from: image files (one by one, robustly) and video files or cameras (as streams).

``read_image`` returns an (H, W, 3) uint8 BGR frame for any image OpenCV decodes, honouring EXIF
orientation; grayscale is expanded to three channels, 16-bit and float images are scaled to 8 bits,
an alpha channel is dropped. What it cannot read raises ``ImageError`` with the reason.

``stream_frames`` reads a video or camera on a background thread (decoding overlaps the model) and
yields frames until the source ends or fails: a lost camera or a truncated video simply ends the
stream; the caller keeps what it has.
"""

from __future__ import annotations

import errno
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from pose3d.images import TRUNCATED_JPEG, is_jpeg, jpeg_complete

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
                              ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".sr", ".ras"})


class ImageError(ValueError):
    """An image file that cannot be used, with the reason."""


@dataclass
class Inputs:
    """What a folder holds: ``images`` to process, ``ignored`` files (no image extension, or not
    regular files), and ``unreadable`` (path, reason): folders that cannot be listed, broken
    symlinks, symlink loops."""

    images: list[Path] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


def list_inputs(root: Path, exclude: Iterable[Path] = ()) -> Inputs:
    """Every file under ``root``, recursively (symlinked folders followed, hidden files and folders
    skipped, folders in ``exclude`` left out: the output folder), each list in a deterministic order
    (sorted by relative path). A file root is an image."""
    if root.is_file():
        return Inputs(images=[root])
    found = Inputs()
    excluded = {os.path.realpath(p) for p in exclude}
    try:
        top = root.stat()
    except OSError as e:
        found.unreadable.append((root, f"cannot read this folder: {e.strerror or e}"))
        return found
    _walk(root, {(top.st_dev, top.st_ino)}, excluded, found)
    key = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    found.images.sort(key=key)
    found.ignored.sort(key=key)
    found.unreadable.sort(key=lambda item: key(item[0]))
    return found


def _walk(folder: Path, ancestors: set[tuple[int, int]], excluded: set[str], found: Inputs) -> None:
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if not e.name.startswith(".")]
    except OSError as e:
        found.unreadable.append((folder, f"cannot list this folder: {e.strerror or e}"))
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            st = os.stat(path)  # follows symlinks
        except OSError as e:
            if e.errno == errno.ELOOP:
                reason = "symlink loop"
            elif entry.is_symlink() and e.errno == errno.ENOENT:
                reason = f"broken symlink (to {os.readlink(path)}, which does not exist)"
            else:
                reason = f"cannot read: {e.strerror or e}"
            found.unreadable.append((path, reason))
            continue
        if stat.S_ISDIR(st.st_mode):
            if os.path.realpath(path) in excluded:
                continue
            if (st.st_dev, st.st_ino) in ancestors:
                found.unreadable.append((path, "symlink loop (leads back to a folder above it)"))
                continue
            _walk(path, ancestors | {(st.st_dev, st.st_ino)}, excluded, found)
        elif stat.S_ISREG(st.st_mode) and path.suffix.lower() in IMAGE_EXTENSIONS:
            found.images.append(path)
        else:
            found.ignored.append(path)


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
    if is_jpeg(data) and not jpeg_complete(data):
        raise ImageError(TRUNCATED_JPEG)
    # IMREAD_COLOR applies the EXIF orientation; ANYDEPTH keeps 16-bit data for an exact scaling.
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    except cv2.error as e:
        raise ImageError(decode_error_reason(e)) from None
    if image is None or image.size == 0:
        raise ImageError("not a decodable image")
    return to_bgr8(image)


def decode_error_reason(error: Exception) -> str:
    """What an OpenCV decoding error means, in words (OpenCV raises assertion texts)."""
    text = str(error)
    if "CV_IO_MAX_IMAGE_PIXELS" in text or "validateInputImageSize" in text:
        return ("image too large: its header declares more pixels than OpenCV decodes (2^30; the environment "
                "variable OPENCV_IO_MAX_IMAGE_PIXELS raises the limit), or the header is corrupt")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return f"OpenCV cannot decode it ({lines[-1].split('error: ')[-1][:200] if lines else type(error).__name__})"


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
