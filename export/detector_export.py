"""Write a person-detector checkpoint as ONNX, with its metadata, verified against PyTorch.

The contract the runtime reads (opset 17, dynamic batch, height and width):
- input ``frame`` (B, 3, h, w) float32 RGB, ``(pixel / 255 - mean) / std``: the whole camera frame
  scaled to fit, aspect kept, centred (``pose3d.crop.letterbox_affine``), pixels outside the frame 0
  after normalisation. Trained on S x S squares, the network is fully convolutional: the runtime
  feeds a frame at its own aspect, ``pose3d.crop.fit_shape(W, H, S, input_multiple)``;
- outputs at stride 4, ``centre`` (B, 1, h/4, w/4) the probability that a person's box centre falls
  in the cell, ``size`` (B, 2, h/4, w/4) the box's width and height in input pixels, ``offset``
  (B, 2, h/4, w/4) the centre inside its cell in cells (0..1): centre x = 4 * (i + offset_x) - 0.5
  for column i, y alike with rows (``pose3d.models.detector``);
- metadata ``pose3d_detector`` (JSON: format, input size S (the frame size the runtime feeds, by
  default the training frames' side; ``frame_size``), input multiple, stride, normalisation,
  letterbox, box, the recommended score threshold: the best-F1 one of the last validation,
  ``recommended_threshold``), ``pose3d_version``, ``source_checkpoint``, ``step``, ``metrics`` and
  ``training_config`` (JSON).

Verification renders synthetic detector frames of the test split, runs the PyTorch model and the
ONNX file (onnxruntime, CPU) on them and on a non-square cut of them, and fails past a tolerance on
any output.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from pose3d import __version__
from pose3d.data.frames import DetectorFrames
from pose3d.data.synthetic import SynthConfig
from pose3d.models.codec import ImageCodec
from pose3d.models.detector import STRIDE, DetectorConfig, DetectorOutputs, input_multiple
from pose3d.train.checkpoint import load_model
from pose3d_export.onnx_export import OPSET, VerificationError, _config_dict, _session

METADATA_KEY = "pose3d_detector"
FORMAT = 1
INPUT = "frame"
OUTPUTS = ("centre", "size", "offset")
# Largest differences accepted between the graph and PyTorch: probability, pixels, cells.
TOLERANCE = {"centre": 1e-3, "size": 0.05, "offset": 1e-3}


@dataclass(frozen=True)
class DetectorCheck:
    path: Path
    size_mb: float
    frames: int
    max_error: dict[str, float]  # per output, against PyTorch


def recommended_threshold(info: dict[str, Any], config: DetectorConfig) -> float:
    """The score threshold of the best F1 on the validation frames (the last validation's
    ``f1_threshold``), else the config's ``score_threshold``."""
    value = info.get("metrics", {}).get("f1_threshold")
    return float(value) if isinstance(value, (int, float)) and 0.0 < value < 1.0 else config.score_threshold


def detector_metadata(checkpoint: Path, info: dict[str, Any], config_dict: dict[str, Any],
                      config: DetectorConfig, frame_size: int | None = None) -> dict[str, str]:
    codec = ImageCodec()
    contract = {"format": FORMAT, "input_size": frame_size or config.input_size, "input_multiple": input_multiple(config),
                "stride": STRIDE, "mean": list(codec.mean), "std": list(codec.std),
                "letterbox": "pose3d.crop.letterbox_affine",
                "box": "the 17 joints' extent in input pixels", "score_threshold": recommended_threshold(info, config)}
    return {
        METADATA_KEY: json.dumps(contract),
        "pose3d_version": __version__,
        "source_checkpoint": checkpoint.name,
        "step": str(info["step"]),
        "metrics": json.dumps(info.get("metrics", {})),
        "training_config": json.dumps(config_dict),
    }


def load_detector(checkpoint: Path):
    """The detector in ``checkpoint`` with its config and fields; ValueError saying what it holds otherwise."""
    model, config, info = load_model(checkpoint)
    if info["kind"] != "detector":
        raise ValueError(f"{checkpoint} holds a {info['kind']!r} model (stage {info['stage']}), not the person "
                         f"detector (OUT/detector.pt); export pose models with pose3d-export without --detector")
    return model, config, info


def export_detector(checkpoint: str | Path, output: str | Path, samples: int = 16,
                    frame_size: int | None = None) -> DetectorCheck:
    """Export the detector in ``checkpoint`` to ``output``, verified on ``samples`` rendered test frames;
    VerificationError when an output differs from PyTorch past ``TOLERANCE``. ``frame_size``: the
    side S the runtime fits frames into (about S x S pixels at the frame's aspect), a multiple of the
    network's ``input_multiple`` (ValueError otherwise); None: the training frames' side. The
    network is fully convolutional, so it takes frames larger than it was trained on: people then
    span more of its pixels."""
    checkpoint, output = Path(checkpoint), Path(output)
    model, config, info = load_detector(checkpoint)
    det = config.detector
    if frame_size is not None and frame_size % input_multiple(det):
        raise ValueError(f"--frame-size must be a multiple of {input_multiple(det)}, got {frame_size}")
    net = DetectorOutputs(model.to(memory_format=torch.contiguous_format)).eval()
    output.parent.mkdir(parents=True, exist_ok=True)
    S = det.input_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(net, (torch.zeros(1, 3, S, S),), str(output), input_names=[INPUT], output_names=list(OUTPUTS),
                          dynamic_axes={n: {0: "batch", 2: "height", 3: "width"} for n in (INPUT, *OUTPUTS)},
                          opset_version=OPSET, dynamo=False)
    graph = onnx.load(str(output))
    onnx.helper.set_model_props(graph, detector_metadata(checkpoint, info, json.loads(json.dumps(_config_dict(config))), det,
                                                         frame_size))
    onnx.save(graph, str(output))

    frames = DetectorFrames(SynthConfig(split="test", seed=config.seed, length=samples), S, config.detector_frames)
    square = ImageCodec().encode(torch.from_numpy(frames.render_batch(range(samples))["image"]))
    m = input_multiple(det)
    wide = square[..., : max(m, (S // 2) // m * m), :]  # a landscape cut: the graph takes any multiple of m
    session = _session(output)
    errors = {n: 0.0 for n in OUTPUTS}
    for x in (square, wide):
        with torch.no_grad():
            reference = [o.numpy() for o in net(x)]
        got = session.run(list(OUTPUTS), {INPUT: x.numpy()})
        for n, g, r in zip(OUTPUTS, got, reference):
            errors[n] = max(errors[n], float(np.abs(g - r).max()) if g.shape == r.shape else float("inf"))
    bad = {n: e for n, e in errors.items() if not e <= TOLERANCE[n]}
    if bad:
        raise VerificationError(f"{output}: ONNX differs from PyTorch on {samples} rendered frames: " + ", ".join(
            f"{n} by up to {e:.5g} (tolerance {TOLERANCE[n]:g})" for n, e in bad.items()))
    return DetectorCheck(output, output.stat().st_size / 1e6, samples, errors)
