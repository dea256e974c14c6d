"""Turn a Human3.6M distribution into a prepared set: crops, labels, manifest.

For every unit (recording x camera) of the chosen subjects: keep every n-th frame (n by the subject's
side of the split), move the world poses into the camera's frame, project them with the camera's
lens distortion, take the square person box around the projected joints (or the annotation's box)
and cut the ``CropSpec.size`` crop with the same geometry as everywhere else (``pose3d.crop``); then
write the unit as one chunk (``store``). Bad input is recorded per file and the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from pose3d.crop import CropSpec, box_to_affine, square_box
from pose3d.data.h36m import store
from pose3d.data.h36m.layout import detect_layout, find_units
from pose3d.data.h36m.protocols import Split
from pose3d.data.h36m.source import Problem, SourceError, Unit, UnitData


@dataclass
class Report:
    """What a prepare run did."""

    layout: str
    written: list[str] = field(default_factory=list)  # chunk ids written by this run
    skipped: list[str] = field(default_factory=list)  # finished chunks found from an earlier run
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manifest: dict | None = None
    samples: int = 0  # samples (crops or poses) written by this run


def cut_crop(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) frame and (3,) box -> (size, size, 3) crop; outside the frame is black."""
    A = box_to_affine(box, size)
    return cv2.warpAffine(image, A, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def read_unit(unit: Unit, data: UnitData, spec: CropSpec, problems: list[Problem]) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """Crops and labels of one unit's kept frames (bad frames dropped and recorded)."""
    cam = data.camera
    pose_cam = cam.world_to_camera(data.pose_world)  # (K, 17, 3)
    if (pose_cam[..., 2] <= 0).any():
        raise SourceError(unit.files[0], "mismatch", f"joints behind camera {unit.key.camera}: the calibration does not fit")
    uv = cam.project_camera(pose_cam)  # (K, 17, 2), with the lens distortion
    boxes = data.boxes if data.boxes is not None else square_box(uv, spec.margin)
    keep = np.ones(len(data.frames), dtype=bool)
    crops = None
    if data.images is not None:
        crops = np.zeros((len(data.frames), spec.size, spec.size, 3), dtype=np.uint8)
        seen = np.zeros(len(data.frames), dtype=bool)
        for row, image in data.images:
            seen[row] = True
            if isinstance(image, Problem):
                problems.append(image)
                keep[row] = False
            else:
                crops[row] = cut_crop(image, boxes[row], spec.size)
        keep &= seen
        crops = crops[keep]
    labels = {"frame": data.frames[keep], "pose_world": data.pose_world[keep], "pose_cam": pose_cam[keep],
              "joints_2d": uv[keep], "box": boxes[keep]}
    return crops, labels


def prepare(
    root: Path,
    out: Path,
    split: Split,
    layout: str = "auto",
    subjects: Sequence[str] | None = None,
    spec: CropSpec = CropSpec(),
    progress: bool = True,
    max_units: int | None = None,
) -> Report:
    """Prepare ``subjects`` (default: both sides of ``split``) of the tree at ``root`` into ``out``.

    Resumes a run interrupted in ``out`` (finished chunks are kept); with ``max_units``, stops after
    writing that many chunks without finishing (for tests of resumption). Raises LayoutError and
    store.PreparedSetError for problems with the whole run; everything else goes into the report.
    """
    root, out = Path(root), Path(out)
    layout = detect_layout(root) if layout == "auto" else layout
    subjects = tuple(split.subjects if subjects is None else subjects)
    outside = [s for s in subjects if s not in split.subjects]
    if outside:
        raise store.PreparedSetError(f"subject(s) {', '.join(outside)} are in neither side of {split.describe()}")
    options = {"layout": layout, "root": str(root.resolve()), "split": split.to_dict(), "subjects": list(subjects),
               "crop_size": spec.size, "margin": spec.margin}
    store.start(out, options)
    units, problems, notes = find_units(layout, root, subjects, spec.margin)
    report = Report(layout, problems=list(problems), notes=list(notes))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(units), desc=f"h36m {layout}", unit="chunk", mininterval=1.0)
    for unit in units:
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(unit.key.chunk_id)
        cid = unit.key.chunk_id
        if store.is_done(out, cid):
            report.skipped.append(cid)
            continue
        if max_units is not None and len(report.written) >= max_units:
            if bar is not None:
                bar.close()
            return report
        _prepare_unit(unit, out, split, spec, report)
    if bar is not None:
        bar.close()
    report.problems = _unique(report.problems)
    report.manifest = store.finish(out, options, [p.to_dict() for p in report.problems], report.notes)
    return report


def _prepare_unit(unit: Unit, out: Path, split: Split, spec: CropSpec, report: Report) -> None:
    key = unit.key
    every = split.every(key.subject)
    problems: list[Problem] = []
    try:
        data = unit.load(every)
        crops, labels = read_unit(unit, data, spec, problems)
    except SourceError as e:
        report.problems.append(e.problem)
        return
    report.problems.extend(problems)
    if len(labels["frame"]) == 0:
        report.problems.append(Problem(unit.files[-1], "missing", "no usable frame"))
        return
    for note in data.notes:
        report.notes.append(f"{key.chunk_id}: {note}")
    meta = {"subject": key.subject, "action": key.action, "take": key.take, "camera": key.camera,
            "role": split.role(key.subject), "every": every, "files": list(unit.files),
            "camera_parameters": data.camera.to_dict(), "notes": data.notes}
    store.write_chunk(out, key.chunk_id, crops, labels, meta)
    report.written.append(key.chunk_id)
    report.samples += len(labels["frame"])


def _unique(problems: list[Problem]) -> list[Problem]:
    """The same broken file is met once per camera: report it once."""
    return list(dict.fromkeys(problems))
