"""Per-sample random numbers for batched, reproducible rendering.

Every sample of a batch gets its own row of uniforms, drawn from a generator seeded by
``(seed, sample index)``; the samplers read columns of that matrix and turn them into parameters for
the whole batch at once. A sample's pixels therefore depend only on the seed and its index, never on
which batch or worker rendered it, and the per-sample Python cost is one generator call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DRAWS_PER_SAMPLE = 512


class Draws:
    """A (B, K) matrix of uniforms in [0, 1), handed out column by column."""

    def __init__(self, u: np.ndarray) -> None:
        if u.ndim != 2:
            raise ValueError(f"draws must be a (B, K) matrix, got shape {u.shape}")
        self.u = u
        self.next = 0

    @classmethod
    def for_samples(cls, seed: int, indices: Sequence[int], k: int = DRAWS_PER_SAMPLE) -> "Draws":
        """Rows that depend only on (seed, sample index): a counter-based hash (SplitMix64) of
        (seed, index, column), vectorised over the whole batch."""
        idx = np.asarray(indices, dtype=np.uint64)[:, None]
        col = np.arange(k, dtype=np.uint64)[None, :]
        with np.errstate(over="ignore"):
            x = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) ^ (idx * np.uint64(k) + col)
            for _ in range(2):
                x = x + np.uint64(0x9E3779B97F4A7C15)
                x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
                x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
                x = x ^ (x >> np.uint64(31))
        return cls((x >> np.uint64(11)).astype(np.float64) * 2.0**-53)

    @classmethod
    def from_rng(cls, rng: np.random.Generator, batch: int, k: int = DRAWS_PER_SAMPLE) -> "Draws":
        return cls(rng.random((batch, k)))

    @property
    def batch(self) -> int:
        return self.u.shape[0]

    def take(self, n: int = 1) -> np.ndarray:
        """The next n columns, (B, n); raises if the rows are used up."""
        if self.next + n > self.u.shape[1]:
            raise RuntimeError(f"out of per-sample draws ({self.u.shape[1]}); raise DRAWS_PER_SAMPLE")
        out = self.u[:, self.next : self.next + n]
        self.next += n
        return out

    def uniform(self, lo: float | np.ndarray = 0.0, hi: float | np.ndarray = 1.0, n: int | None = None) -> np.ndarray:
        """(B,) or (B, n) uniforms in [lo, hi)."""
        u = self.take(1)[:, 0] if n is None else self.take(n)
        return lo + (np.asarray(hi) - lo) * u

    def integers(self, high: int) -> np.ndarray:
        """(B,) integers in [0, high)."""
        return np.minimum((self.take(1)[:, 0] * high).astype(np.int64), high - 1)

    def bernoulli(self, p: float) -> np.ndarray:
        """(B,) booleans, True with probability p."""
        return self.take(1)[:, 0] < p

    def choice(self, probabilities: Sequence[float]) -> np.ndarray:
        """(B,) indices drawn with the given probabilities."""
        cdf = np.cumsum(probabilities) / np.sum(probabilities)
        return np.minimum(np.searchsorted(cdf, self.take(1)[:, 0], side="right"), len(cdf) - 1)

    def seeds(self) -> np.ndarray:
        """(B,) 31-bit integer seeds, for per-pixel noise drawn inside compiled code."""
        return (self.take(1)[:, 0] * (2**31 - 1)).astype(np.int64)
