"""Write examples/synthetic/: whole frames of skinned people from the renderer's test split, with truth.

The first ``--count`` test samples (seed 7) whose person 0 is wholly inside the frame, as in a photo
of someone, scaled to 960 pixels on the long side; ``truth.json`` holds person 0's true pose (root-
relative camera-frame joints in mm, pixel joints in the scaled image, activity). The pose bank's test
clips are never trained on.

    python tools/make_synthetic_examples.py -o examples/synthetic
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from pose3d.data.synthetic import SynthConfig, SyntheticPoses

LONG_SIDE = 960


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    ds = SyntheticPoses(SynthConfig(split="test", seed=args.seed, bodies="anny"))
    names = ds.bank.activity_names
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("synthetic_test_*.jpg"):
        old.unlink()
    truth, i = [], 0
    while len(truth) < args.count:
        s = ds.render_full_frames([i])
        image = s["image"][0].transpose(1, 2, 0)  # RGB
        H, W = image.shape[:2]
        uv = s["joints_2d"][0].astype(np.float64)
        if (uv >= 0).all() and (uv[:, 0] <= W - 1).all() and (uv[:, 1] <= H - 1).all():
            scale = LONG_SIDE / max(W, H)
            size = (round(W * scale), round(H * scale))
            name = f"synthetic_test_{i:03d}.jpg"
            cv2.imwrite(str(args.out / name), cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                                                        cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            # Pixel centres at integers in both images: u' = (u + 0.5) * scale - 0.5.
            truth.append({"joints_3d_mm": np.round(s["pose_rel"][0], 1).tolist(),
                          "joints_2d_px": np.round((uv + 0.5) * scale - 0.5, 2).tolist(),
                          "activity": names[int(s["activity"][0])], "file": name})
        i += 1
    note = ("True poses of the synthetic examples (skinned people, test split, seed "
            f"{args.seed}): joints_3d_mm root-relative in the camera frame, joints_2d_px in the scaled image")
    images = {t.pop("file"): t for t in truth}
    (args.out / "truth.json").write_text(json.dumps({"note": note, "images": images}, indent=1))
    print(f"wrote {len(truth)} examples to {args.out} (looked at {i} samples)")


if __name__ == "__main__":
    main()
