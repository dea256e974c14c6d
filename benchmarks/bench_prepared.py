"""Benchmark prepared Human3.6M sets: random-access read speed for training, and prepare speed.

    python benchmarks/bench_prepared.py [--quick]

Human3.6M cannot be downloaded, so both parts run on fabricated data in the documented layouts:
- read: a prepared set of random 128 x 128 crops in chunks of 500 (as ``pose3d-prepare`` writes them),
  read in random batches of 64 the way training reads them (``PreparedH36M.samples``: random rows,
  random 112 x 112 sub-crops, labels). References measured in the same run: the same rows fancy-indexed
  out of one in-memory array (the fastest a reader could be), and the same number of crops read in
  order, chunk by chunk. The files were just written, so they sit in the page cache, as a set that fits
  in RAM does during training.
- prepare: one official-layout recording at the real size (1000 x 1002 mp4, rendered person), prepared
  at the training stride (every 5th frame) and at the test stride (every 64th): seconds per decoded video
  frame and per crop, from which the README estimates time per subject.
Writes benchmarks/results/prepared-<host>-<date>.json and .md and prints the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import RESULTS, best_of, cpu_model
from pose3d.crop import CropSpec
from pose3d.data.h36m import PreparedH36M, make_split, prepare, store

BATCH = 64
CHUNK = 500


def fabricated_set(out: Path, chunks: int, size: int) -> PreparedH36M:
    """A finished prepared set of random crops and plausible labels, written by the real writer."""
    rng = np.random.default_rng(0)
    options = {"layout": "fabricated", "root": "", "split": make_split().to_dict(), "subjects": ["S1"],
               "crop_size": size, "margin": 0.2}
    store.start(out, options)
    for c in range(chunks):
        n = CHUNK
        labels = {"frame": np.arange(n) * 5, "pose_world": rng.normal(size=(n, 17, 3)) * 300,
                  "pose_cam": rng.normal(size=(n, 17, 3)) * 300 + [0, 0, 5000], "joints_2d": rng.uniform(300, 700, (n, 17, 2)),
                  "box": np.tile([500.0, 500.0, 600.0], (n, 1))}
        meta = {"subject": "S1", "action": "Walking", "take": c, "camera": "54138969", "role": "train"}
        store.write_chunk(out, f"S1.Walking.{c}.54138969", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), labels, meta)
    store.finish(out, options, [], [])
    return PreparedH36M(out)


def read_speed(out: Path, chunks: int, repeats: int) -> dict[str, float]:
    ds = fabricated_set(out, chunks, CropSpec().size)
    n = len(ds)
    rng = np.random.default_rng(1)
    batches = [rng.integers(0, n, BATCH) for _ in range(n // BATCH)]
    offsets = [ds.random_offsets(rng, BATCH, 112) for _ in batches]
    in_memory = ds.crops(np.arange(n))  # (N, 128, 128, 3), also warms the page cache

    def training_reads():
        for rows, offs in zip(batches, offsets):
            ds.samples(rows, 112, offs)

    def raw_random_reads():
        for rows in batches:
            ds.crops(rows)

    def sequential_reads():
        for lo in range(0, len(batches) * BATCH, BATCH):
            ds.crops(np.arange(lo, lo + BATCH))

    def in_memory_reads():
        for rows in batches:
            in_memory[rows]

    count = len(batches) * BATCH
    rate = {name: count / best_of(fn, repeats) for name, fn in (
        ("random_training_batches", training_reads), ("random_raw_crops", raw_random_reads),
        ("sequential_raw_crops", sequential_reads), ("in_memory_fancy_index", in_memory_reads))}
    return {**rate, "crops": n, "bytes_per_crop": int(in_memory[0].nbytes)}


def prepare_speed(work: Path, frames: int) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from h36m_fixtures import motion, render_frames, to_32, write_cdf, write_video

    from pose3d.camera import h36m_camera

    root = work / "official"
    (root / "S1" / "MyPoseFeatures" / "D3_Positions").mkdir(parents=True)
    (root / "S1" / "Videos").mkdir(parents=True)
    pose = motion("S1", "Directions 1", frames)
    write_cdf(root / "S1" / "MyPoseFeatures" / "D3_Positions" / "Walking 1.cdf", to_32(pose))
    camera = h36m_camera("S1", 1)
    write_video(root / "S1" / "Videos" / "Walking 1.54138969.mp4", render_frames(pose, camera, 0))
    out = {}
    for every in (5, 64):
        target = work / f"prepared-{every}"
        t = time.perf_counter()
        report = prepare(root, target, make_split(train_every=every), subjects=["S1"], progress=False)
        out[every] = (time.perf_counter() - t, report.samples)
    (t5, n5), (t64, n64) = out[5], out[64]
    per_crop = (t5 - t64) / max(n5 - n64, 1)
    per_frame = (t64 - n64 * per_crop) / frames
    return {"video_frames": frames, "seconds_every_5": t5, "crops_every_5": n5, "seconds_every_64": t64,
            "crops_every_64": n64, "seconds_per_decoded_frame": per_frame, "seconds_per_crop": per_crop}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller set and fewer repeats")
    args = parser.parse_args()
    chunks, repeats, frames = (4, 2, 100) if args.quick else (16, 5, 250)
    with tempfile.TemporaryDirectory(prefix="bench_prepared_") as tmp:
        read = read_speed(Path(tmp) / "set", chunks, repeats)
        shutil.rmtree(Path(tmp) / "set")
        prep = prepare_speed(Path(tmp), frames)
    result = {
        "date": dt.date.today().isoformat(),
        "machine": {"host": socket.gethostname(), "cpu": cpu_model(), "cores": os.cpu_count(), "numpy": np.__version__},
        "read": read,
        "read_random_over_in_memory": read["random_raw_crops"] / read["in_memory_fancy_index"],
        "training_batches_over_in_memory": read["random_training_batches"] / read["in_memory_fancy_index"],
        "training_batches_over_target": read["random_training_batches"] / 5000.0,
        "read_random_over_sequential": read["random_raw_crops"] / read["sequential_raw_crops"],
        "prepare": prep,
    }
    r = read
    lines = [
        f"Prepared Human3.6M sets, {result['date']}, {result['machine']['cores']} cores ({result['machine']['cpu']}), one process",
        "",
        f"Read ({r['crops']:,} crops of 128 x 128 x 3 uint8 = {r['bytes_per_crop']:,} bytes, {r['crops'] // CHUNK} chunks, "
        f"batches of {BATCH}, page cache warm):",
        "",
        "| what | crops per second |",
        "|---|---|",
        f"| training batches: random rows, random 112 sub-crop, labels (`PreparedH36M.samples`) | {r['random_training_batches']:,.0f} |",
        f"| random rows, whole stored crops (`PreparedH36M.crops`) | {r['random_raw_crops']:,.0f} |",
        f"| reference: the same number of crops read in order | {r['sequential_raw_crops']:,.0f} |",
        f"| reference: random rows fancy-indexed from one in-memory array | {r['in_memory_fancy_index']:,.0f} |",
        "",
        f"Random reads from the memory-mapped chunks run at {result['read_random_over_in_memory']:.2f}x the in-memory array "
        f"and {result['read_random_over_sequential']:.2f}x reading in order; whole training batches (sub-crop, channels-first "
        f"copy, labels) at {result['training_batches_over_in_memory']:.2f}x the in-memory array, "
        f"{result['training_batches_over_target']:.1f}x the target of 5,000 crops/s.",
        "",
        f"Prepare (official layout, one 1000 x 1002 mp4 of {prep['video_frames']} frames, mp4v): "
        f"every 5th frame {prep['seconds_every_5']:.2f} s for {prep['crops_every_5']} crops, every 64th "
        f"{prep['seconds_every_64']:.2f} s for {prep['crops_every_64']}; "
        f"{1000 * prep['seconds_per_decoded_frame']:.2f} ms per decoded frame, {1000 * prep['seconds_per_crop']:.2f} ms per crop "
        f"(projection, box, warpAffine, write).",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stem = f"prepared-{socket.gethostname()}-{result['date']}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{stem}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
