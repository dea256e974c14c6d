"""The runtime's fused preprocessing: decoded frame + crop box -> normalised network input, in one pass.

For every output pixel, ``crop_normalise`` maps it back into the frame through the crop's inverse
transform (``pose3d.crop``: a scale and a shift, so the taps of each row and column are computed
once), samples the frame bilinearly (constant ``border`` outside it: one pixel value, or one per
output channel, so that a border of ``255 * mean`` normalises to exactly 0),
converts BGR to RGB, scales to 0..1 and normalises with the model's mean and std, writing the
channels-first float32 batch the ONNX graph takes. One kernel replaces OpenCV's warpAffine + colour
conversion + NumPy normalisation + transpose; the tests check it against that chain.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

# Folders detect on worker threads while the main thread crops for the model: both launch the parallel
# kernel. Numba's workqueue threading layer (where neither TBB nor OpenMP is installed, as on many
# macOS installs) aborts the process on concurrent launches; the kernel already uses every core, so
# one launch at a time costs nothing.
_KERNEL_LOCK = threading.Lock()



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


@numba.njit(cache=True, fastmath=True, parallel=True)
def _crop_normalise(frame, affines, out, scale, offset, border, bgr):
    """Axis-aligned crops (the only kind pose3d.crop makes): separable bilinear sampling with the
    taps of every row and column computed once; output rows run in parallel. Output pixel i maps
    back to frame position (i - t) / s."""
    H, W = frame.shape[0], frame.shape[1]
    B, S, T = out.shape[0], out.shape[2], out.shape[3]  # rows, columns
    xs = np.empty((B, T), np.int64)
    ys = np.empty((B, S), np.int64)
    fxs = np.empty((B, T), np.float32)
    fys = np.empty((B, S), np.float32)
    vx = np.empty((B, T), np.int64)
    vy = np.empty((B, S), np.int64)
    x_inside = np.empty(B, np.bool_)  # every column's two taps inside the frame
    for b in range(B):
        _taps(T, 1.0 / affines[b, 0, 0], -affines[b, 0, 2] / affines[b, 0, 0], W, xs[b], fxs[b], vx[b])
        _taps(S, 1.0 / affines[b, 1, 1], -affines[b, 1, 2] / affines[b, 1, 1], H, ys[b], fys[b], vy[b])
        x_inside[b] = (vx[b] == 3).all()
    for row in numba.prange(B * S):
        b, y = row // S, row % S
        y0, fy, oky = ys[b, y], fys[b, y], vy[b, y]
        if x_inside[b] and oky == 3:  # the common case: channel by channel, contiguous output rows
            top = frame[y0]
            bottom = frame[y0 + 1]
            for c in range(3):
                ch = 2 - c if bgr else c
                dst = out[b, c, y]
                for x in range(T):
                    x0, fx = xs[b, x], fxs[b, x]
                    t = top[x0, ch] + fx * (np.float32(top[x0 + 1, ch]) - top[x0, ch])
                    u = bottom[x0, ch] + fx * (np.float32(bottom[x0 + 1, ch]) - bottom[x0, ch])
                    dst[x] = (t + fy * (u - t)) * scale[c] + offset[c]
            continue
        for x in range(T):
            x0, fx, okx = xs[b, x], fxs[b, x], vx[b, x]
            w00 = (1 - fx) * (1 - fy)
            w01 = fx * (1 - fy)
            w10 = (1 - fx) * fy
            w11 = fx * fy
            for c in range(3):
                ch = 2 - c if bgr else c
                t00 = frame[y0, x0, ch] if (okx & 1) and (oky & 1) else border[c]
                t01 = frame[y0, x0 + 1, ch] if (okx & 2) and (oky & 1) else border[c]
                t10 = frame[y0 + 1, x0, ch] if (okx & 1) and (oky & 2) else border[c]
                t11 = frame[y0 + 1, x0 + 1, ch] if (okx & 2) and (oky & 2) else border[c]
                out[b, c, y, x] = (w00 * t00 + w01 * t01 + w10 * t10 + w11 * t11) * scale[c] + offset[c]


def crop_normalise(
    frame: np.ndarray,
    affines: np.ndarray,
    size: int | tuple[int, int],
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    bgr: bool = True,
    border: float | tuple[float, float, float] = 0.0,
) -> np.ndarray:
    """(H, W, 3) uint8 frame and (B, 2, 3) crop affines (frame pixels -> crop pixels) ->
    (B, 3, size, size) float32 normalised RGB crops; a ``size`` of (height, width) gives
    (B, 3, height, width). ``border``: the pixel value (0..255) outside the frame, one for all
    channels or one per output (RGB) channel."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
    affines = np.asarray(affines, dtype=np.float64).reshape(-1, 2, 3)
    if (affines[:, 0, 1] != 0).any() or (affines[:, 1, 0] != 0).any():
        raise ValueError("crop_normalise takes axis-aligned crops (scale and shift), as pose3d.crop makes")
    rows, cols = (size, size) if np.isscalar(size) else size
    out = np.empty((affines.shape[0], 3, int(rows), int(cols)), dtype=np.float32)
    std_arr = np.asarray(std, dtype=np.float32)
    scale = (1.0 / (255.0 * std_arr)).astype(np.float32)
    offset = (-np.asarray(mean, dtype=np.float32) / std_arr).astype(np.float32)
    border_rgb = np.broadcast_to(np.asarray(border, dtype=np.float32), (3,)).copy()
    with _KERNEL_LOCK:
        _crop_normalise(np.ascontiguousarray(frame), affines, out, scale, offset, border_rgb, bgr)
    return out


def crop_normalise_reference(
    frame: np.ndarray, affines: np.ndarray, size: int | tuple[int, int], mean, std, bgr: bool = True,
    border: float | tuple[float, float, float] = 0.0,
) -> np.ndarray:
    """The same with OpenCV and NumPy, one step at a time: the reference the kernel is tested and
    benchmarked against."""
    import cv2

    rows, cols = (size, size) if np.isscalar(size) else size
    out = []
    rgb = np.broadcast_to(np.asarray(border, dtype=np.float64), (3,))
    value = tuple(float(v) for v in (rgb[::-1] if bgr else rgb))  # in the frame's channel order
    for A in np.asarray(affines, dtype=np.float64).reshape(-1, 2, 3):
        crop = cv2.warpAffine(frame, A, (int(cols), int(rows)), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=value)  # uint8: a border value is rounded to a whole level
        if bgr:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        x = (crop.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        out.append(x.transpose(2, 0, 1))
    return np.stack(out)
