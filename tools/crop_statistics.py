"""Image statistics of real crops beside training renders: brightness, contrast and sharpness.

    python tools/crop_statistics.py ../shared/realval --backgrounds photos/backgrounds --textures photos/textures

Real frames of a realval folder are cut around the labelled person by the model's input contract
(``--model``, default the shipped one); the renders are the first ``--renders`` training crops of
skinned people (``bodies="anny"``) on the given photos, cut the same way. Per crop, in grey levels:
mean (brightness), standard deviation (contrast) and the variance of the Laplacian (sharpness);
the medians are printed. The real frames are measured, never used for anything else.
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


def real_crops(root: Path, crop: CropSpec) -> list[np.ndarray]:
    """BGR crops of every labelled person in a realval folder."""
    out = []
    for im in json.loads((root / "labels.json").read_text())["images"]:
        x, y, w, h = im["bbox_xywh_px"]
        A = box_crop_affine(square_box(np.array([[x, y], [x + w, y + h]]), crop.margin), crop)
        out.append(cv2.warpAffine(cv2.imread(str(root / im["file"])), A, (crop.input_size,) * 2, flags=cv2.INTER_AREA))
    return out


def rendered_crops(crop: CropSpec, count: int, backgrounds: str | None, textures: str | None) -> list[np.ndarray]:
    """BGR training crops of skinned people."""
    ds = SyntheticPoses(SynthConfig(split="train", seed=0, crop=crop, bodies="anny", background_dir=backgrounds,
                                    texture_dir=textures))
    return [np.ascontiguousarray(i.transpose(1, 2, 0)[..., ::-1]) for i in ds.render_batch(range(count))["image"]]


def medians(crops: list[np.ndarray]) -> tuple[float, float, float]:
    """Median (brightness, contrast, sharpness) over ``crops``."""
    grey = [cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in crops]
    return (float(np.median([g.mean() for g in grey])), float(np.median([g.std() for g in grey])),
            float(np.median([cv2.Laplacian(g, cv2.CV_64F).var() for g in grey])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("realval", type=Path)
    parser.add_argument("--backgrounds", default=None, help="folder of background photos")
    parser.add_argument("--textures", default=None, help="folder of texture photos")
    parser.add_argument("--renders", type=int, default=256, help="how many training crops to render")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model whose input contract cuts the crops")
    args = parser.parse_args()
    crop = PoseModel(args.model or default_model_path(), device="cpu").info.contract.crop_spec()
    rows = (("real (labelled box)", real_crops(args.realval, crop)),
            ("training renders", rendered_crops(crop, args.renders, args.backgrounds, args.textures)))
    print(f"{crop.input_size} px crops | crops | brightness | contrast | sharpness (Laplacian variance)")
    for name, crops in rows:
        b, c, s = medians(crops)
        print(f"{name} | {len(crops)} | {b:.0f} | {c:.0f} | {s:.0f}")


if __name__ == "__main__":
    main()
