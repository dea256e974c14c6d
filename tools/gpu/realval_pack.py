"""A copy of a realval folder cut down to each labelled person, small enough to travel to a lent device
machine (whose upload limit the full-HD frames exceed): python realval_pack.py REALVAL OUT [QUALITY].

Each frame is cut to the labelled person's square box (as ``pose3d.realval.predict.labelled_box``
makes it, margin 0.2) and 4 px beyond it, clipped to the frame, and written as JPEG
(quality 95 by default); the 2D labels and boxes are moved by the cut's offset and ``image_size_wh``
updated. The labelled-box scores of a model are then those of the full set up to the re-encoding
(the crop sees the same pixels; the assumed camera changes only by a rotation, which P-MPJPE's
alignment removes). Not for the detector or tracking scores: the rest of the frame is gone.
Evaluation only, like realval itself.
"""
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from pose3d.crop import square_box

src, out = Path(sys.argv[1]), Path(sys.argv[2])
quality = int(sys.argv[3]) if len(sys.argv) > 3 else 95
labels = json.loads((src / "labels.json").read_text())
(out / "frames").mkdir(parents=True, exist_ok=True)
for name in ("stats.json",):
    if (src / name).is_file():
        (out / name).write_text((src / name).read_text())
for entry in labels["images"]:
    image = cv2.imread(str(src / entry["file"]))
    H, W = image.shape[:2]
    x, y, w, h = entry["bbox_xywh_px"]
    cx, cy, side = square_box(np.array([[x, y], [x + w, y + h]]), 0.2)
    half = 0.5 * side + 4.0  # the crop itself and 4 px beyond (bilinear sampling reads a pixel past its edge)
    x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    x1, y1 = min(W, int(np.ceil(cx + half))), min(H, int(np.ceil(cy + half)))
    cv2.imwrite(str(out / entry["file"]), image[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    entry["image_size_wh"] = [x1 - x0, y1 - y0]
    entry["bbox_xywh_px"] = [x - x0, y - y0, w, h]
    for key in ("joints_2d_px", "reprojected_2d_px"):
        if key in entry:
            entry[key] = (np.asarray(entry[key], dtype=float) - [x0, y0]).round(2).tolist()
(out / "labels.json").write_text(json.dumps(labels))
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
print(f"{len(labels['images'])} frames, {size / 2**20:.1f} MiB in {out}")
