"""A contact sheet of real frames a person can look at: the best, median and worst frames of the model
given the labelled box (by mean torso-normalised 2D error), each cut around the person, with the
label drawn thin in white and the prediction in colour (the person's left blue, right red), and the
runtime detector's box in yellow where it found one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pose3d.realval.predict import RealRun, labelled_box
from pose3d.skeleton import H36M17
from pose3d_runtime.draw import draw_box, draw_skeleton, draw_thin
from pose3d_runtime.outputs import write_image
from pose3d_runtime.sources import read_image

TILE = 320


def _tile(run: RealRun, i: int, margin: float, caption: str) -> np.ndarray:
    f = run.frames[i]
    image = read_image(f.path)
    parents, names = H36M17.parents, H36M17.names
    cx, cy, side = labelled_box(f, margin)
    side *= 1.1
    line = max(2, round(side / TILE * 1.5))  # about 1.5 px on the tile
    draw_thin(image, f.joints_2d, parents, colour=(255, 255, 255), thickness=line)
    det = run.predictions["detector"]
    if np.isfinite(det.box[i]).all():
        draw_box(image, det.box[i])
    pred = run.predictions["labelled"].joints_2d[i]
    draw_skeleton(image, pred, parents, names, thickness=line)
    A = np.array([[TILE / side, 0, TILE / 2 - cx * TILE / side], [0, TILE / side, TILE / 2 - cy * TILE / side]])
    tile = cv2.warpAffine(image, A, (TILE, TILE), flags=cv2.INTER_AREA, borderValue=(40, 40, 40))
    for k, line in enumerate(caption.split("\n")):
        org = (6, 18 + 18 * k)
        cv2.putText(tile, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def contact_sheet(path: Path, run: RealRun, result: dict, margin: float, per_group: int = 4) -> Path | None:
    """Write the sheet (rows: best, median, worst) to ``path``; None when there are no frames."""
    frames = result["per_frame"]
    scored = [(r["mean_error_torso"], i) for i, r in enumerate(frames) if np.isfinite(r.get("mean_error_torso", np.inf))]
    if not scored:
        return None
    order = [i for _, i in sorted(scored)]
    n = min(per_group, len(order))
    mid = max(0, len(order) // 2 - n // 2)
    groups = [("best", order[:n]), ("median", order[mid:mid + n]), ("worst", order[::-1][:n])]
    rows = []
    for tag, picks in groups:
        tiles = []
        for i in picks:
            r = frames[i]
            pck = r.get("pck: model, the labelled box", float("nan"))
            p3 = f", {r['p_mpjpe']:.0f} mm" if "p_mpjpe" in r else ""
            caption = f"{tag}: {Path(r['file']).stem}\nPCK {pck:.2f}, err {r['mean_error_torso']:.2f} torso{p3}"
            tiles.append(_tile(run, i, margin, caption))
        while len(tiles) < per_group:
            tiles.append(np.full((TILE, TILE, 3), 40, np.uint8))
        rows.append(np.concatenate(tiles, axis=1))
    sheet = np.concatenate(rows, axis=0)
    legend = np.full((28, sheet.shape[1], 3), 24, np.uint8)
    cv2.putText(legend, "white: label   colour: model (labelled box; left blue, right red)   yellow: detector box",
                (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    write_image(path, np.concatenate([legend, sheet], axis=0))
    return path
