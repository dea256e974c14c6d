"""A contact sheet of synthetic renders beside real photos, for judging the renderer by eye.

    python tools/renders_beside_real.py ../shared/realval -o docs/renders_beside_real.jpg \
        [--backgrounds OUT_DIR/backgrounds] [--model MODEL.onnx]

Row 1: real frames of a realval folder, cut around the labelled person the way the model's crops
are cut (``pose3d.crop``); rows 2-3: skinned Anny people (``bodies="anny"``), on background photos
when given; row 4: the capsule mannequins the first default model was trained on. Every tile is a
network input as the model's input contract cuts it (``--model``, default the shipped one: 128 x 128),
shown at 224 x 224. The real frames are shown, never used for anything else.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from pose3d.crop import CropSpec, box_crop_affine, square_box
from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d_runtime.model import PoseModel, default_model_path

TILE = 224
PER_ROW = 6


def real_tiles(root: Path, crop: CropSpec) -> list[np.ndarray]:
    images = json.loads((root / "labels.json").read_text())["images"]
    picks = np.linspace(0, len(images) - 1, PER_ROW).astype(int)  # spread over the set, not chosen
    tiles = []
    for i in picks:
        im = images[i]
        x, y, w, h = im["bbox_xywh_px"]
        box = square_box(np.array([[x, y], [x + w, y + h]]), crop.margin)
        A = box_crop_affine(box, crop)
        frame = cv2.imread(str(root / im["file"]))
        tiles.append(cv2.warpAffine(frame, A, (crop.input_size, crop.input_size), flags=cv2.INTER_AREA))
    return tiles


def render_tiles(bodies: str, start: int, count: int, backgrounds: str | None, crop: CropSpec) -> list[np.ndarray]:
    ds = SyntheticPoses(SynthConfig(split="test", seed=1, crop=crop, bodies=bodies, background_dir=backgrounds))
    batch = ds.render_batch(range(start, start + count))
    return [np.ascontiguousarray(img.transpose(1, 2, 0)[..., ::-1]) for img in batch["image"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("realval", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--backgrounds", default=None, help="folder of background photos")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model whose input contract cuts the tiles "
                        "(default: the shipped one)")
    args = parser.parse_args()
    crop = PoseModel(args.model or default_model_path(), device="cpu").info.contract.crop_spec()
    rows = [real_tiles(args.realval, crop), render_tiles("anny", 0, PER_ROW, args.backgrounds, crop),
            render_tiles("anny", PER_ROW, PER_ROW, args.backgrounds, crop),
            render_tiles("capsules", 0, PER_ROW, None, crop)]
    labels = ["real (realval)", "anny", "anny", "capsules"]
    out = []
    for label, row in zip(labels, rows):
        strip = np.concatenate([cv2.resize(t, (TILE, TILE), interpolation=cv2.INTER_LINEAR) for t in row], axis=1)
        cv2.putText(strip, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(strip, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        out.append(strip)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), np.concatenate(out, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
