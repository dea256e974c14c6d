"""Measure how fast this machine renders training crops with N processes, and print the step count
that fills a time budget: python plan.py WORKERS BATCH SECONDS SETTING..."""
import multiprocessing as mp
import sys
import time

from pose3d.train.config import load_config
from pose3d.train.data import training_data

workers, batch, end = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])  # end: epoch seconds
cfg = load_config(overrides=sys.argv[4:])
from pose3d.train.feed import fork_safe_numba
fork_safe_numba()
data = training_data(cfg)
t = time.perf_counter(); data.images(0, 8, 0, 8); print(f"first batch (numba compile) {time.perf_counter()-t:.1f} s", file=sys.stderr)


def one(step):
    import torch
    torch.set_num_threads(1)
    import numba; numba.set_num_threads(1)
    data.images(step, batch, 0, batch)
    return batch


import cv2; cv2.setNumThreads(1)
with mp.get_context("fork").Pool(workers) as pool:
    pool.map(one, range(1, 1 + workers))  # warm
    t = time.perf_counter()
    n = sum(pool.map(one, range(100, 100 + 3 * workers)))
    rate = n / (time.perf_counter() - t)
seconds = end - time.time()
steps = max(int(rate * 0.85 * seconds / batch), 100)
print(f"{workers} processes render {rate:.0f} crops/s; {seconds:.0f} s -> {steps} steps of {batch}", file=sys.stderr)
print(steps)
