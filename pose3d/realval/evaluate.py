"""The whole real-photo evaluation of one model: read the labelled folder, run every box source,
score them beside the baselines, write ``realval.json``, ``realval.md`` and ``realval_sheet.jpg``.

``open_model`` takes an exported ONNX file (run by the runtime's onnxruntime path) or a training
checkpoint (run in PyTorch behind the same interface, ``pose3d_export.checkpoint_model``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pose3d.baselines import synthetic_mean_pose, synthetic_training_labels
from pose3d.realval.labels import read_realval
from pose3d.realval.predict import run_real
from pose3d.realval.report import score_run, to_markdown
from pose3d.realval.sheet import contact_sheet
from pose3d_runtime.pipeline import Estimator


@dataclass(frozen=True)
class RealReport:
    result: dict
    markdown: str
    paths: list[Path]


def open_model(path: Path | None, device: str = "cpu"):
    """A model with the runtime's interface: ``path`` an .onnx export or a .pt checkpoint (None: the
    shipped default)."""
    if path is not None and path.suffix == ".pt":
        from pose3d_export.checkpoint_model import CheckpointModel

        return CheckpointModel(path)
    from pose3d_runtime.model import PoseModel

    return PoseModel(path, device=device)


def evaluate_real(model, root: Path, out_dir: Path, videos: dict[str, Path] | None = None,
                  progress: Callable[[str], None] | None = None, detector: Path | None = None) -> RealReport:
    """Score ``model`` on the realval folder ``root``; ``detector``: the person detector's ONNX file
    for the detector and tracking rows (default: the shipped one)."""
    data = read_realval(root)
    estimator = Estimator(model)
    crop = model.info.crop
    tracking_dir = out_dir / "tracking" if videos else None
    run = run_real(estimator, data, videos, tracking_dir, progress, detector=detector)
    # The baselines: what the model's own synthetic training data averages to.
    bodies = str(model.info.training_config.get("bodies", "capsules"))
    train = synthetic_training_labels(crop, bodies=bodies)
    mean_2d = train["joints_2d"].astype("float64").mean(axis=0)
    result = score_run(run, mean_2d, synthetic_mean_pose(train, bodies=bodies), crop, data.label_noise_pck)
    result = {"model": model.describe(), "data": str(root), **result}
    title = f"Real-photo evaluation of {model.info.model_id} on {root}"
    markdown = to_markdown(result, title)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "realval.json", out_dir / "realval.md"]
    paths[0].write_text(json.dumps(result, indent=1))
    paths[1].write_text(markdown)
    sheet = contact_sheet(out_dir / "realval_sheet.jpg", run, result, crop.margin)
    if sheet is not None:
        paths.append(sheet)
    return RealReport(result, markdown, paths)
