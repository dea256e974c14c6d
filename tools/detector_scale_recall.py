"""A detector checkpoint's recall by the person's height in its input pixels, on synthetic frames.

    python tools/detector_scale_recall.py runs/det_small2/detector.pt [--frames 600]

Renders the first ``--frames`` detector frames of the val split (``pose3d.data.frames``) with people
from 0.06 to 1.0 of the frame's side (a third of the frames whole camera frames, no empty frames,
nothing painted in front of people, whatever the checkpoint trained on),
runs the checkpoint as validation does (``pose3d.train.detector.detect``, peaks down to 0.05), and
prints, per bin of the person's box height in input pixels, the share of people with a detection at
IoU >= 0.5 scoring at least 0.05 and 0.2. It says which people a detector input size leaves too small
(README, "Finding people, second round").
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from pose3d.data.frames import DetectorFrames
from pose3d.data.synthetic import SynthConfig
from pose3d.metrics import box_iou
from pose3d.train.checkpoint import load_model
from pose3d.train.detector import detect

EDGES = (0, 24, 32, 48, 64, 96, 128, 192, 400)
SCORES = (0.05, 0.2)


def best_scores(checkpoint: str, frames: int) -> np.ndarray:
    """(N, 2): each present person's box height (input pixels) and the best score of a detection on it."""
    model, cfg, _ = load_model(checkpoint, ("detector",))
    spec = replace(cfg.detector_frames, min_height=0.06, max_height=1.0, whole_frame_probability=0.3,
                   negative_probability=0.0, occluder_probability=0.0)  # the same frames for every checkpoint
    synth = SynthConfig(split="val", seed=cfg.seed, length=frames, background_dir=cfg.backgrounds,
                        texture_dir=cfg.textures, garment_patterns=cfg.garment_patterns)
    data = DetectorFrames(synth, cfg.detector.input_size, spec).render_all()
    found = detect(model.eval(), data["image"], min(SCORES), 20, cfg.detector.overlap_threshold)
    rows = []
    for (boxes, scores), truth, present in zip(found, data["boxes"], data["present"]):
        truth = truth[present]
        hit = box_iou(truth, boxes) >= 0.5 if len(boxes) else np.zeros((len(truth), 0), bool)
        best = np.where(hit, scores[None, :], 0.0).max(axis=1, initial=0.0)
        rows += list(zip(truth[:, 3] - truth[:, 1], best))
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a detector checkpoint (pose3d-train --stage detector: OUT/detector.pt)")
    parser.add_argument("--frames", type=int, default=600, help="val frames to render")
    args = parser.parse_args()
    rows = best_scores(args.checkpoint, args.frames)
    print("| person height (input px) | people | " + " | ".join(f"recall at {s}" for s in SCORES) + " |")
    print("|---|---|" + "---|" * len(SCORES))
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        m = (rows[:, 0] >= lo) & (rows[:, 0] < hi)
        if m.any():
            print(f"| {lo}-{hi} | {m.sum()} | " + " | ".join(f"{np.mean(rows[m, 1] >= s):.2f}" for s in SCORES) + " |")


if __name__ == "__main__":
    main()
