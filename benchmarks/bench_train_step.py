"""Training-step throughput of the paper's CNN on this CPU: fp32 or bf16 autocast, NCHW or channels_last.

    python benchmarks/bench_train_step.py

One forward + backward + Adam step of the structured model's CNN (latent regression) at batch 64,
each variant timed after a warm-up step, all in one run so the ratios compare like with like.
pose3d-train's defaults (bf16 only where the CPU has bf16 matrix units, channels_last on) follow
from this measurement.
"""

from __future__ import annotations

import time

import torch

from pose3d.models.prior import PoseAutoencoder
from pose3d.models.stack import StructuredPoseNet


def main() -> None:
    torch.manual_seed(0)
    model = StructuredPoseNet(PoseAutoencoder())
    opt = torch.optim.Adam(model.cnn.parameters(), 1e-4)
    x = torch.randn(64, 3, 112, 112)
    target = torch.randn(64, 2000)
    results = {}
    for bf16, channels_last in ((False, False), (False, True), (True, False), (True, True)):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(memory_format=fmt)
        xx = x.contiguous(memory_format=fmt)

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                code, _ = model.cnn(xx)
                loss = ((code.float() - target) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        t = time.perf_counter()
        for _ in range(5):
            step()
        results[(bf16, channels_last)] = 64 * 5 / (time.perf_counter() - t)
    base = results[(False, False)]
    print("| precision | layout | images/s | vs fp32 NCHW |")
    print("|---|---|---|---|")
    for (bf16, cl), ips in results.items():
        print(f"| {'bf16 autocast' if bf16 else 'fp32'} | {'channels_last' if cl else 'NCHW'} | {ips:.0f} | {ips / base:.2f}x |")


if __name__ == "__main__":
    main()
