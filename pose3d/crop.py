"""The person crop: one geometry shared by the synthetic renderer, the real-data readers and the runtime.

A crop is a square box in full-frame pixels, (cx, cy, side), mapped onto an ``out x out`` image by an
affine transform. Pixel centres sit at integer coordinates in both images (OpenCV's convention), so
``warp_affine`` with the matrix from ``box_to_affine`` cuts exactly the box.

The paper's recipe: a square box around the projected joints with a margin, resized to 128 x 128; the
network sees random 112 x 112 sub-crops in training and the central one in evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CropSpec:
    """How a person crop is cut. Sizes in pixels; margin and jitter relative to the box side."""

    size: int = 128  # the square image the box is resized to
    input_size: int = 112  # the network's input: a sub-crop of ``size``
    margin: float = 0.2  # box side = (1 + 2 * margin) * the joints' larger extent
    jitter_scale: float = 0.1  # training: side *= U(1 - j, 1 + j)
    jitter_shift: float = 0.05  # training: centre += U(-j, j) * side, per axis

    def __post_init__(self) -> None:
        if not 0 < self.input_size <= self.size:
            raise ValueError(f"input_size must be in 1..size ({self.size}), got {self.input_size}")


def square_box(uv: np.ndarray, margin: float) -> np.ndarray:
    """(..., J, 2) pixel joints -> (..., 3) square boxes (cx, cy, side) around them with a margin."""
    lo, hi = uv.min(axis=-2), uv.max(axis=-2)
    centre = 0.5 * (lo + hi)
    side = (hi - lo).max(axis=-1) * (1.0 + 2.0 * margin)
    return np.concatenate([centre, np.maximum(side, 1.0)[..., None]], axis=-1)


def jitter_box(box: np.ndarray, rng: np.random.Generator, scale: float, shift: float) -> np.ndarray:
    """Random scale and shift of (..., 3) boxes, for training."""
    box = np.array(box, dtype=np.float64, copy=True)
    side = box[..., 2] * rng.uniform(1.0 - scale, 1.0 + scale, size=box.shape[:-1])
    box[..., :2] += rng.uniform(-shift, shift, size=box.shape[:-1] + (2,)) * box[..., 2:3]
    box[..., 2] = side
    return box


def box_to_affine(box: np.ndarray, out_size: int) -> np.ndarray:
    """(..., 3) boxes -> (..., 2, 3) affine matrices from full-frame pixels to ``out_size`` crop pixels."""
    box = np.asarray(box, dtype=np.float64)
    s = out_size / box[..., 2]
    A = np.zeros(box.shape[:-1] + (2, 3))
    A[..., 0, 0] = s
    A[..., 1, 1] = s
    # Box edge (c - side / 2) maps to crop edge -0.5: pixel centres stay at integers in both.
    A[..., 0, 2] = -(box[..., 0] - 0.5 * box[..., 2]) * s - 0.5
    A[..., 1, 2] = -(box[..., 1] - 0.5 * box[..., 2]) * s - 0.5
    return A


def shift_affine(A: np.ndarray, dx: np.ndarray | float, dy: np.ndarray | float) -> np.ndarray:
    """Affine matrices followed by a translation of the output by (-dx, -dy): cutting a sub-crop
    whose top-left pixel is (dx, dy)."""
    A = np.array(A, dtype=np.float64, copy=True)
    A[..., 0, 2] -= dx
    A[..., 1, 2] -= dy
    return A


def apply_affine(A: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(..., 2, 3) affine matrices applied to (..., N, 2) points."""
    return np.matmul(uv, np.swapaxes(A[..., :2], -1, -2)) + A[..., None, :, 2]  # matmul: einsum is 10x slower here


def invert_affine(A: np.ndarray) -> np.ndarray:
    """Inverse of (..., 2, 3) affine matrices."""
    M = np.linalg.inv(A[..., :2])
    t = -np.einsum("...ij,...j->...i", M, A[..., 2])
    return np.concatenate([M, t[..., None]], axis=-1)


def subcrop_offset(rng: np.random.Generator | None, size: int, input_size: int) -> tuple[int, int]:
    """Top-left of the input_size sub-crop inside a size crop: random in training (rng given), central
    otherwise."""
    room = size - input_size
    if rng is None:
        return room // 2, room // 2
    return int(rng.integers(0, room + 1)), int(rng.integers(0, room + 1))


def box_crop_affine(box: np.ndarray, spec: CropSpec, rng: np.random.Generator | None = None) -> np.ndarray:
    """(..., 3) square person boxes -> (..., 2, 3) affines onto the network's input_size crop: the box
    resized to ``spec.size``, then a random sub-crop when ``rng`` is given, else the central one."""
    dx, dy = subcrop_offset(rng, spec.size, spec.input_size)
    return shift_affine(box_to_affine(box, spec.size), dx, dy)


def person_crop_affine(
    uv: np.ndarray, spec: CropSpec, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The whole recipe for one person: (J, 2) full-frame joints -> (2, 3) affine onto the network's
    input_size crop (jittered box and random sub-crop when ``rng`` is given, else centred)."""
    box = square_box(uv, spec.margin)
    if rng is not None:
        box = jitter_box(box, rng, spec.jitter_scale, spec.jitter_shift)
    return box_crop_affine(box, spec, rng)


def frame_box(width: int, height: int) -> np.ndarray:
    """(3,) the square box (cx, cy, side) that holds a whole ``width`` x ``height`` frame, centred: its
    edges are the frame's pixel edges (-0.5 and W - 0.5) along the longer side. ``box_to_affine`` of it
    letterboxes the frame into a square (the person detector's input)."""
    return np.array([(width - 1) / 2.0, (height - 1) / 2.0, float(max(width, height))])


def fit_shape(width: int, height: int, size: int, multiple: int) -> tuple[int, int]:
    """The (out_width, out_height) a fully convolutional network takes a ``width`` x ``height`` frame
    at: about ``size`` x ``size`` pixels in all, the frame's aspect kept, each side a multiple of
    ``multiple`` (at least one; at most 4 x ``size``). A 16:9 frame at size 256, multiple 32 becomes
    352 x 192: people 1.33 x larger than in the 256 x 256 square letterbox, for as many pixels."""
    scale = size / np.sqrt(float(width) * float(height))
    most = max(1, 4 * size // multiple)  # in multiples

    def side(n: float) -> int:
        return int(min(max(round(n * scale / multiple), 1), most) * multiple)

    return side(width), side(height)


def letterbox_affine(width: int, height: int, out_width: int, out_height: int) -> np.ndarray:
    """(2, 3) affine from a ``width`` x ``height`` frame onto an ``out_width`` x ``out_height`` image:
    the frame scaled to fit, aspect kept, centred (pixel centres at integers in both). For a square
    output it equals ``box_to_affine(frame_box(width, height), out)``."""
    s = min(out_width / width, out_height / height)
    return np.array([[s, 0.0, 0.5 * (out_width - 1) - s * 0.5 * (width - 1)],
                     [0.0, s, 0.5 * (out_height - 1) - s * 0.5 * (height - 1)]])
