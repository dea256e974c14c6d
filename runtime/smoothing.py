"""Temporal smoothing of per-frame joints: the One Euro filter (Casiez, Roussel and Vogel, CHI 2012).

A low-pass filter whose cut-off rises with the signal's speed: steady joints are smoothed strongly
(less jitter), fast ones lightly (little lag). ``min_cutoff`` (Hz) sets the smoothing at rest,
``beta`` how quickly it relaxes with speed. Works on arrays of any shape, element-wise.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.01, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be > 0 and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """The filtered value of ``x`` observed at time ``t`` (seconds, increasing)."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t or x.shape != self._x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()


class PoseSmoother:
    """One Euro filters per track: each person's 3D and 2D joints smoothed on their own, the filters
    of a track that left forgotten (a new person never inherits an old one's state)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.01) -> None:
        self.min_cutoff, self.beta = min_cutoff, beta
        self._filters: dict[int, tuple[OneEuroFilter, OneEuroFilter]] = {}

    def __call__(self, track_id: int, joints_3d: np.ndarray, joints_2d: np.ndarray,
                 t: float) -> tuple[np.ndarray, np.ndarray]:
        """The smoothed (3D, 2D) joints of track ``track_id`` observed at time ``t`` (seconds)."""
        if track_id not in self._filters:
            self._filters[track_id] = (OneEuroFilter(self.min_cutoff, self.beta), OneEuroFilter(self.min_cutoff, self.beta))
        f3, f2 = self._filters[track_id]
        return f3(joints_3d, t), f2(joints_2d, t)

    def keep(self, track_ids: set[int] | list[int]) -> None:
        """Forget every track but these."""
        self._filters = {k: v for k, v in self._filters.items() if k in set(track_ids)}
