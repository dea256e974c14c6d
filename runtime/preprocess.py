"""The runtime's fused preprocessing: decoded frame + crop box -> normalised network input, in one pass.

For every output pixel, ``crop_normalise`` maps it back into the frame through the crop's inverse
transform (``pose3d.crop``: a scale and a shift, so the taps of each row and column are computed
once), samples the frame bilinearly (constant ``border`` outside it),
converts BGR to RGB, scales to 0..1 and normalises with the model's mean and std, writing the
channels-first float32 batch the ONNX graph takes. One kernel replaces OpenCV's warpAffine + colour
conversion + NumPy normalisation + transpose; the tests check it against that chain.
"""

from __future__ import annotations

import numba
import numpy as np

from pose3d.crop import invert_affine


@numba.njit(cache=True)
def _taps(n: int, a: float, b: float, limit: int, index: np.ndarray, weight: np.ndarray, valid: np.ndarray) -> None:
    """For output positions 0..n-1 mapped to a * i + b: the left tap, its right-hand weight, and
    whether each of the two taps lies inside 0..limit-1 (bit 0 left, bit 1 right)."""
    for i in range(n):
        p = a * i + b
        j = int(np.floor(p))
        index[i] = j
        weight[i] = p - j
        valid[i] = (1 if 0 <= j < limit else 0) | (2 if 0 <= j + 1 < limit else 0)


@numba.njit(cache=True, fastmath=True)
def _crop_normalise(frame, inv, out, scale, offset, border, bgr):
    """Axis-aligned crops (the only kind pose3d.crop makes): separable bilinear sampling with
    per-row and per-column taps computed once."""
    H, W = frame.shape[0], frame.shape[1]
    S = out.shape[2]
    xs = np.empty(S, np.int64)
    ys = np.empty(S, np.int64)
    fxs = np.empty(S, np.float32)
    fys = np.empty(S, np.float32)
    vx = np.empty(S, np.int64)
    vy = np.empty(S, np.int64)
    chans = np.array([2, 1, 0]) if bgr else np.array([0, 1, 2])
    for b in range(out.shape[0]):
        _taps(S, inv[b, 0, 0], inv[b, 0, 2], W, xs, fxs, vx)
        _taps(S, inv[b, 1, 1], inv[b, 1, 2], H, ys, fys, vy)
        for y in range(S):
            y0, fy, oky = ys[y], fys[y], vy[y]
            for x in range(S):
                x0, fx, okx = xs[x], fxs[x], vx[x]
                w00 = (1 - fx) * (1 - fy)
                w01 = fx * (1 - fy)
                w10 = (1 - fx) * fy
                w11 = fx * fy
                if okx == 3 and oky == 3:  # the common case: all four taps inside the frame
                    for c in range(3):
                        ch = chans[c]
                        acc = (w00 * frame[y0, x0, ch] + w01 * frame[y0, x0 + 1, ch]
                               + w10 * frame[y0 + 1, x0, ch] + w11 * frame[y0 + 1, x0 + 1, ch])
                        out[b, c, y, x] = acc * scale[c] + offset[c]
                else:
                    for c in range(3):
                        ch = chans[c]
                        t00 = frame[y0, x0, ch] if (okx & 1) and (oky & 1) else border
                        t01 = frame[y0, x0 + 1, ch] if (okx & 2) and (oky & 1) else border
                        t10 = frame[y0 + 1, x0, ch] if (okx & 1) and (oky & 2) else border
                        t11 = frame[y0 + 1, x0 + 1, ch] if (okx & 2) and (oky & 2) else border
                        out[b, c, y, x] = (w00 * t00 + w01 * t01 + w10 * t10 + w11 * t11) * scale[c] + offset[c]


def crop_normalise(
    frame: np.ndarray,
    affines: np.ndarray,
    size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    bgr: bool = True,
    border: float = 0.0,
) -> np.ndarray:
    """(H, W, 3) uint8 frame and (B, 2, 3) crop affines (frame pixels -> crop pixels) ->
    (B, 3, size, size) float32 normalised RGB crops."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
    affines = np.asarray(affines, dtype=np.float64).reshape(-1, 2, 3)
    if np.abs(affines[:, [0, 1], [1, 0]]).max(initial=0.0) > 1e-12:
        raise ValueError("crop_normalise takes axis-aligned crops (scale and shift), as pose3d.crop makes")
    out = np.empty((affines.shape[0], 3, size, size), dtype=np.float32)
    std_arr = np.asarray(std, dtype=np.float32)
    scale = (1.0 / (255.0 * std_arr)).astype(np.float32)
    offset = (-np.asarray(mean, dtype=np.float32) / std_arr).astype(np.float32)
    _crop_normalise(np.ascontiguousarray(frame), invert_affine(affines), out, scale, offset, np.float32(border), bgr)
    return out


def crop_normalise_reference(
    frame: np.ndarray, affines: np.ndarray, size: int, mean, std, bgr: bool = True, border: float = 0.0
) -> np.ndarray:
    """The same with OpenCV and NumPy, one step at a time: the reference the kernel is tested and
    benchmarked against."""
    import cv2

    out = []
    for A in np.asarray(affines, dtype=np.float64).reshape(-1, 2, 3):
        crop = cv2.warpAffine(frame, A, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=(border, border, border))
        if bgr:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        x = (crop.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        out.append(x.transpose(2, 0, 1))
    return np.stack(out)
