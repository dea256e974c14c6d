"""Rendering a batch of skinned-people crops against one training step of the 2D-evidence network on
it, both on one thread, interleaved in the same run (the ratio is what matters on a shared machine).

Run: ``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/bench_render_vs_step.py`` (about a minute).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from pose3d.contract import InputContract
from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.models.codec import ImageCodec
from pose3d.models.heatmap import HeatmapPoseNet

BATCH, ROUNDS = 32, 8


def main() -> None:
    torch.set_num_threads(1)
    contract = InputContract(crop_size=128, input_size=128)
    data = SyntheticPoses(SynthConfig(split="train", bodies="anny", crop=contract.crop_spec()))
    model = HeatmapPoseNet().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters())
    codec = ImageCodec.of(contract)
    data.render_batch(range(BATCH))  # compile the kernels
    render, step = [], []
    for r in range(ROUNDS):
        t = time.perf_counter()
        batch = data.render_batch(range(1000 + BATCH * r, 1000 + BATCH * (r + 1)))
        render.append(time.perf_counter() - t)
        x = codec.encode(torch.from_numpy(batch["image"])).contiguous(memory_format=torch.channels_last)
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        loss = out.pose.float().pow(2).mean() + out.joints_2d.float().abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step.append(time.perf_counter() - t)
    r, s = float(np.median(render[1:])), float(np.median(step[1:]))
    print(f"batch {BATCH} at 128 px, one thread: render {r * 1000:.0f} ms ({BATCH / r:.0f} crops/s), "
          f"training step {s * 1000:.0f} ms; render / step = {r / s:.3f}")


if __name__ == "__main__":
    main()
