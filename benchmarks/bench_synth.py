"""Benchmark the synthetic data engine: rendered training crops per second, per process.

    python benchmarks/bench_synth.py [--quick]

Every figure is set against references measured in the same run, on the same machine:
- the capsule mannequins (the first renderer) beside the skinned people (``bodies="anny"``);
- the real-data crop: cutting a 128 x 128 crop out of a decoded 1000 x 1000 frame (cv2.warpAffine),
  what the Human3.6M path costs per sample;
- one training step of the paper's CNN per image, estimated as 3 x 0.63 GFLOP (forward + backward)
  at the fp32 matrix-multiply rate measured now (NumPy/BLAS, all cores): the target is that rendering
  costs under a tenth of it.
Writes benchmarks/results/synth-<host>-<date>.json and .md and prints the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket

import cv2
import numpy as np

from common import RESULTS, best_of, cpu_model, matmul_gflops
from pose3d.crop import CropSpec
from pose3d.data.synthetic import SynthConfig, SyntheticPoses

CNN_GFLOP_PER_IMAGE = 0.63  # the paper's CNN, forward pass (measured for this project)


def render_seconds(crop: CropSpec, batch: int, repeats: int, bodies: str = "capsules") -> float:
    """Seconds per rendered training crop, rendering batches of ``batch`` in this process."""
    ds = SyntheticPoses(SynthConfig(split="train", seed=0, crop=crop, bodies=bodies))
    ds.render_batch(range(batch))  # compile the kernels, load the bank
    start = [batch]

    def render_once():
        ds.render_batch(range(start[0], start[0] + batch))
        start[0] += batch

    return best_of(render_once, repeats) / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about 20 s)")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    repeats = 3 if args.quick else 8
    synth128_s = render_seconds(CropSpec(size=128, input_size=128), args.batch, repeats)
    synth_s = render_seconds(CropSpec(), args.batch, repeats)
    anny128_s = render_seconds(CropSpec(size=128, input_size=128), args.batch, repeats, bodies="anny")
    anny_s = render_seconds(CropSpec(), args.batch, repeats, bodies="anny")

    frame = np.random.default_rng(0).integers(0, 256, size=(1000, 1000, 3), dtype=np.uint8)
    A = np.array([[0.3, 0.0, -100.0], [0.0, 0.3, -80.0]])
    real_s = best_of(lambda: [cv2.warpAffine(frame, A, (128, 128)) for _ in range(200)], repeats) / 200

    gflops = matmul_gflops()
    step_s = 3 * CNN_GFLOP_PER_IMAGE / gflops

    rows = [
        ("synthetic crop (render, 128 x 128, batch %d)" % args.batch, synth128_s),
        ("synthetic crop (render, 112 x 112 network input, batch %d)" % args.batch, synth_s),
        ("skinned Anny people, 1-4 per scene (render, 128 x 128, batch %d)" % args.batch, anny128_s),
        ("skinned Anny people, 1-4 per scene (render, 112 x 112, batch %d)" % args.batch, anny_s),
        ("real-data crop (warpAffine 1000^2 -> 128^2)", real_s),
        ("CNN training step per image (3 x 0.63 GFLOP at %.0f GFLOP/s)" % gflops, step_s),
    ]
    result = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "host": socket.gethostname(),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "numpy": np.__version__,
            "opencv": cv2.__version__,
        },
        "batch": args.batch,
        "synthetic_crops_128_per_s": 1.0 / synth128_s,
        "synthetic_crops_112_per_s": 1.0 / synth_s,
        "anny_crops_128_per_s": 1.0 / anny128_s,
        "anny_crops_112_per_s": 1.0 / anny_s,
        "anny_over_capsules_128": anny128_s / synth128_s,
        "real_crops_per_s": 1.0 / real_s,
        "fp32_matmul_gflops": gflops,
        "render_over_real_crop": synth_s / real_s,
        "render_over_training_step": synth_s / step_s,
    }
    lines = [
        f"Synthetic data engine, {result['date']}, {result['machine']['cores']} cores ({result['machine']['cpu']}), one process",
        "",
        "| what | ms per image | per second |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {1000 * s:.3f} | {1 / s:,.0f} |" for name, s in rows]
    lines += [
        "",
        f"Rendering a 128 x 128 crop: {1 / synth128_s:,.0f} crops/s with capsules, {1 / anny128_s:,.0f} with skinned "
        f"people ({anny128_s / synth128_s:.1f}x the capsules' time; target: at least 500). Rendering the 112 x 112 "
        f"network input costs {synth_s / real_s:.1f}x a real-data crop and {synth_s / step_s:.2f}x a CNN training step "
        f"per image with capsules, {anny_s / step_s:.2f}x with skinned people (target: under 0.1).",
    ]
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"synth-{socket.gethostname()}-{result['date']}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    stem.with_suffix(".md").write_text(table + "\n")
    print(f"\nwrote {stem}.json and .md")


if __name__ == "__main__":
    main()
