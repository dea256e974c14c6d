"""Finding every person in a frame: the learned single-stage detector (an ONNX file of its own).

The file's contract (metadata key ``pose3d_detector``, JSON, ``format`` 1):

- input ``frame``: (B, 3, h, w) float32 RGB, ``(pixel / 255 - mean) / std``; the whole frame
  scaled to fit, aspect kept, centred (``pose3d.crop.letterbox_affine``), pixels outside the frame 0
  after normalisation (``preprocess``: the runtime's fused crop kernel with a
  border of ``255 * mean``). Where the file's input height and width are free and its metadata
  gives ``input_multiple``, (w, h) is ``pose3d.crop.fit_shape(W, H, S, input_multiple)``: the
  frame's own aspect in about S x S pixels (a 16:9 frame at S = 256: 352 x 192); otherwise the
  S x S square (a 16:9 frame then fills 256 x 144 of it, people 0.75 x as large);
- outputs, on a grid of stride 4 (h/4 x w/4 cells): ``centre`` (B, 1, h/4, w/4), the probability
  that a person's box centre falls in the cell; ``size`` (B, 2, h/4, w/4), the box's width and
  height in input pixels; ``offset`` (B, 2, h/4, w/4), the centre inside its cell in cells (0..1):
  the centre of column i is at input pixel ``stride * (i + offset_x) - 0.5`` (rows likewise);
- the box is the extent of the person's 17 joints (x0, y0, x1, y1); the pose crop around it is the
  square ``pose3d.crop.square_box`` makes of its corners, with the pose model's margin.

``pose3d.detection.decode`` turns the maps into boxes (3 x 3 peaks, threshold, suppression; shared
with training's validation). ``PersonDetector`` maps them back to frame pixels through the
letterbox's inverse. No person is an empty list, not an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.crop import apply_affine, fit_shape, invert_affine, letterbox_affine, square_box
from pose3d.detection import MAX_PEOPLE, SUPPRESS_IOU, decode, local_peaks, suppress  # noqa: F401 - re-exported
from pose3d_runtime.model import ModelError, open_session, sha256
from pose3d_runtime.preprocess import crop_normalise

DEFAULT_DETECTOR_NAME = "pose3d-detector.onnx"
METADATA_KEY = "pose3d_detector"
FORMAT = 1
OUTPUTS = ("centre", "size", "offset")
MAX_SIDE = 100_000  # frames larger than this (in pixels, either side) are refused


def default_detector_path() -> Path:
    """Where the shipped detector lives (``runtime/models/``), whether or not it is installed."""
    return Path(str(resources.files("pose3d_runtime") / "models" / DEFAULT_DETECTOR_NAME))


NOT_INSTALLED = ("no person detector is installed ({path}): pass --detector FILE (an ONNX detector from "
                 "pose3d-export), --bbox X,Y,W,H (the person's box) or --full-image (inputs that are person crops)")


@dataclass(frozen=True)
class Detection:
    """One person found in a frame, in frame pixels."""

    extent: np.ndarray  # (4,) x0, y0, x1, y1: the person's 17 joints' extent
    box: np.ndarray  # (3,) cx, cy, side: the square pose crop around it (with the pose model's margin)
    score: float  # the detector's centre probability, 0..1


@dataclass(frozen=True)
class DetectorInfo:
    """What the runtime reads from a detector's metadata."""

    input_size: int
    stride: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    score_threshold: float
    model_id: str
    version: str
    metrics: dict[str, Any]
    input_multiple: int | None = None  # the sides an any-shape input takes are multiples of this

    @classmethod
    def from_metadata(cls, meta: dict[str, str], path: Path) -> "DetectorInfo":
        if METADATA_KEY not in meta:
            hint = (": it is a pose model (give it as --model)" if "joint_names" in meta
                    else f" (no '{METADATA_KEY}' metadata)")
            raise ModelError(f"{path}: not a pose3d person detector{hint}")
        try:
            spec = json.loads(meta[METADATA_KEY])
            fmt = int(spec["format"])
        except (KeyError, ValueError, TypeError) as e:
            raise ModelError(f"{path}: malformed '{METADATA_KEY}' metadata ({type(e).__name__}: {e})") from None
        if fmt != FORMAT:
            raise ModelError(f"{path}: detector format {fmt}; this runtime reads format {FORMAT} (update pose3d)")
        try:
            info = cls(input_size=int(spec["input_size"]), stride=int(spec["stride"]),
                       mean=tuple(float(v) for v in spec["mean"]), std=tuple(float(v) for v in spec["std"]),
                       score_threshold=float(spec["score_threshold"]), model_id=f"{path.name}:{sha256(path)[:12]}",
                       version=meta.get("pose3d_version", "?"), metrics=json.loads(meta.get("metrics", "{}")),
                       input_multiple=int(spec["input_multiple"]) if "input_multiple" in spec else None)
        except (KeyError, ValueError, TypeError) as e:
            raise ModelError(f"{path}: malformed '{METADATA_KEY}' metadata ({type(e).__name__}: {e})") from None
        if (len(info.mean) != 3 or len(info.std) != 3 or min(info.std) <= 0 or info.stride <= 0
                or info.input_size <= 0 or info.input_size % info.stride
                or (info.input_multiple is not None and (info.input_multiple <= 0 or info.input_multiple % info.stride))):
            raise ModelError(f"{path}: inconsistent '{METADATA_KEY}' metadata: {spec}")
        return info


def check_frame(frame: np.ndarray) -> None:
    """ValueError with the reason for a frame the detector cannot take."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"the detector takes (H, W, 3) uint8 BGR frames, got {got}")
    H, W = frame.shape[:2]
    if H == 0 or W == 0:
        raise ValueError(f"empty frame ({W} x {H} pixels)")
    if max(H, W) > MAX_SIDE:
        raise ValueError(f"frame too large ({W} x {H} pixels; at most {MAX_SIDE:,} a side)")


class PersonDetector:
    """Every person in a frame, from a detector ONNX file (``path``; None: the shipped one).

    ``margin``: the pose model's crop margin, for the square pose boxes. ``frame_size``: feed frames in
    about this many pixels squared instead of the file's ``input_size`` (files that take any height
    and width only; larger finds smaller people and costs more). Raises ModelError when the file is
    missing (the message says what to pass instead), cannot be loaded, or is not a detector, and
    ValueError for a ``frame_size`` the file cannot take.
    """

    def __init__(self, path: str | Path | None = None, margin: float = 0.2, device: str = "auto",
                 threads: int | None = None, frame_size: int | None = None) -> None:
        self.path = Path(path) if path is not None else default_detector_path()
        if not self.path.is_file():
            if path is None:
                raise ModelError(NOT_INSTALLED.format(path=self.path))
            raise ModelError(f"detector file not found: {self.path}")
        self.margin = float(margin)
        self.session = open_session(self.path, device, threads)
        self.provider = self.session.get_providers()[0]
        self.info = DetectorInfo.from_metadata(dict(self.session.get_modelmeta().custom_metadata_map), self.path)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != ["frame"] or not set(OUTPUTS) <= set(outputs):
            raise ModelError(f"{self.path}: a detector takes 'frame' and gives {', '.join(OUTPUTS)}; "
                             f"this file takes {inputs} and gives {outputs}")
        self._border = tuple(255.0 * m for m in self.info.mean)  # normalises to 0
        free = not all(isinstance(d, int) for d in self.session.get_inputs()[0].shape[2:])
        # Frames at their own aspect where the graph takes any height and width and says their multiple.
        self.any_shape = free and self.info.input_multiple is not None
        self.frame_size = self.info.input_size if frame_size is None else int(frame_size)
        if frame_size is not None:
            if not self.any_shape:
                raise ValueError(f"{self.path.name} takes {self.info.input_size} x {self.info.input_size} squares only: "
                                 "its frame size cannot be changed")
            m = self.info.input_multiple
            if self.frame_size < m or self.frame_size % m:
                raise ValueError(f"the detector's frame size must be a positive multiple of {m}, got {frame_size}")

    def describe(self) -> str:
        return f"{self.info.model_id} on {self.provider.replace('ExecutionProvider', '')}"

    def input_shape(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(rows, columns) of the network input for a frame of ``shape`` (H, W, ...)."""
        H, W = shape[:2]
        S = self.frame_size
        if not self.any_shape:
            return S, S
        w, h = fit_shape(W, H, S, self.info.input_multiple)
        return h, w

    def preprocess(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 BGR frame -> (1, 3, h, w) float32 network input (``input_shape``)."""
        return self._input(frame)[0]

    def _input(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``preprocess``'s input and the letterbox affine it was cut with (frame pixels -> input)."""
        check_frame(frame)
        I = self.info
        H, W = frame.shape[:2]
        rows, cols = self.input_shape(frame.shape)
        A = letterbox_affine(W, H, cols, rows)
        return crop_normalise(frame, A[None], (rows, cols), I.mean, I.std, bgr=True, border=self._border), A

    def __call__(self, frame: np.ndarray, min_score: float | None = None,
                 max_people: int = MAX_PEOPLE) -> list[Detection]:
        """Every person in ``frame`` with a score of at least ``min_score`` (None: the detector's own
        threshold), best first, at most ``max_people``."""
        x, A = self._input(frame)
        centre, size, offset = self.session.run(list(OUTPUTS), {"frame": x})
        threshold = self.info.score_threshold if min_score is None else float(min_score)
        extents, scores = decode(centre[0], size[0], offset[0], self.info.stride, threshold, max_people)
        if len(scores) == 0:
            return []
        back = invert_affine(A)
        corners = apply_affine(back, extents.reshape(-1, 2, 2))  # (K, 2, 2): top-left, bottom-right
        boxes = square_box(corners, self.margin)
        return [Detection(corners[k].reshape(4), boxes[k], float(scores[k])) for k in range(len(scores))]
