"""Training batches made ahead of the training step by worker processes (setting ``workers``).

A stage's batch is a pure function of its step (``pose3d.train.data``: fixed by (seed, step)), so
worker processes can render steps s+1, s+2, ... while the model trains on step s, and the weights do
not depend on how many workers there are: ``Feed(make, workers)(step)`` returns ``make(step)``,
whatever ``workers`` is. With no workers the batch is made in the training process, when asked for.

Rendering is the training's bottleneck on a GPU machine (a training step of the 2D-evidence model
takes milliseconds there, rendering its crops about a second per core), and on a CPU the workers
and the training step share the same cores: keep ``workers`` 0 on a 2-core machine.

The first batch after a (re)start is made in the training process itself: that compiles the
renderer's numba functions once, before the workers are forked, so each worker inherits them
instead of compiling its own.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

AHEAD = 2  # batches each worker prepares ahead


class _Steps(Dataset):
    """Item ``s`` is the whole batch of step ``s``."""

    def __init__(self, make: Callable[[int], Any]) -> None:
        self.make = make

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> Any:
        return self.make(step)


def fork_safe_numba() -> None:
    """Make numba's parallel loops (the renderer's) safe in forked workers: GNU OpenMP, numba's usual
    threading layer on Linux, aborts a forked child that uses it ("fork() called from a process
    already using GNU OpenMP"); tbb and numba's own workqueue do not. Call it before the first
    parallel loop runs; RuntimeError if an unsafe layer already runs."""
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel loop has run yet: the layer is still to be chosen
        numba.config.THREADING_LAYER = "forksafe"
        return
    if layer == "omp":
        raise RuntimeError("this process already rendered on numba's OpenMP threading layer, which cannot fork "
                           "data workers: start training with workers before rendering anything, set "
                           "NUMBA_THREADING_LAYER=forksafe, or use workers=0")


def _one_thread(_: int) -> None:
    """Workers render with one thread each: the machine's cores are shared out by the worker count.
    That includes NumPy's BLAS, whose pool otherwise starts a thread per core in every worker: on a
    16-core GPU machine, 15 workers rendered 551 crops/s with their own BLAS pools and 2,973 with
    one BLAS thread each (measured, same run)."""
    import numba
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    threadpool_limits(limits=1)


def _no_opencv_pool() -> None:
    """One OpenCV thread in the training process before it forks, so each worker inherits that
    setting: the workers share out the cores, and a forked child must not resize OpenCV's pool
    itself (``cv2.setNumThreads`` in a worker waited forever on the parent's pool threads). The
    training process renders little itself once the workers run."""
    try:
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(1)


class Feed:
    """``feed(step)`` -> ``make(step)``, made ahead by ``workers`` processes when there are any.
    Steps are expected in order; asking for another step restarts the workers from it."""

    def __init__(self, make: Callable[[int], Any], workers: int = 0, pin_memory: bool = False) -> None:
        self.make, self.workers, self.pin_memory = make, workers, pin_memory
        if workers:
            fork_safe_numba()
        self._batches: Iterator[Any] | None = None
        self._next = -1

    def __call__(self, step: int) -> Any:
        if self.workers == 0:
            return self.make(step)
        if self._batches is None or step != self._next:
            self.close()
            batch = self.make(step)  # in this process: compiles the renderer before the workers fork
            _no_opencv_pool()
            self._batches = iter(DataLoader(
                _Steps(self.make), batch_size=None, sampler=range(step + 1, 2**62), num_workers=self.workers,
                pin_memory=self.pin_memory, prefetch_factor=AHEAD, worker_init_fn=_one_thread,
                multiprocessing_context="fork",
                # Its own generator: the loader draws the workers' seed from it, not from the global
                # one that the training step reseeds and its dropout draws from.
                generator=torch.Generator().manual_seed(0)))
            self._next = step + 1
            return batch
        self._next += 1
        return next(self._batches)

    def close(self) -> None:
        """Stop the workers (they are also stopped when the feed is garbage collected)."""
        batches, self._batches = self._batches, None
        shutdown = getattr(batches, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
