"""Write a checkpoint as ONNX, with its metadata, verified against PyTorch; reduced-precision variants.

The graph: input ``image`` (B, 3, S, S) float32, normalised with the mean and std in the metadata;
outputs ``pose_mm`` (B, 17, 3) root-relative camera-frame joints in mm and ``joints_2d`` (B, 17, 2)
crop pixels, and with a person head ``person`` (B,), the probability that the crop holds a person.
The batch dimension is dynamic.

Verification renders synthetic test crops (real inputs, not noise; the model's own input contract
and training bodies, as pose3d-eval renders them), runs the original PyTorch model and the ONNX file
with onnxruntime's CPU provider, and fails past a tolerance. Variants: fp16 weights (half the file),
and int8 static quantisation (``pose3d_export.quantize``: calibrated on the val split, so a crop's
result does not depend on its batch), verified against PyTorch with its own, looser tolerance on the
mean deviation (``INT8_TOLERANCE_MM``, ``INT8_TOLERANCE_PX``). Every variant's result for a few crops
run one at a time is compared with the same crops run as one batch (``batch_dependence_mm``).
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
from pose3d.evaluate import predict
from pose3d.metrics import mpjpe
from pose3d.contract import METADATA_KEY, InputContract
from pose3d.models.codec import ImageCodec
from pose3d.skeleton import H36M17
from pose3d.train.checkpoint import HEATMAP_KINDS, POSE_KINDS, load_model
from pose3d_export.fold import inference_net
from pose3d_export.quantize import (DEFAULT_CALIBRATION, INT8_TOLERANCE_MM, INT8_TOLERANCE_PX, PRECISION_KEY,
                                    calibration_crops, copy_metadata, quantize_int8, rendered_crops)

OPSET = 17
TOLERANCE_PERSON = 1e-3  # person probability, fp32 graph against PyTorch
BATCH_CHECK = 8  # crops run one at a time and as one batch, per variant


class VerificationError(RuntimeError):
    """The exported graph disagrees with PyTorch beyond the tolerance."""


@dataclass(frozen=True)
class Check:
    name: str
    path: Path
    size_mb: float
    max_pose_error_mm: float  # against PyTorch, worst joint of any sample
    max_joint2d_error_px: float
    mpjpe_vs_truth_mm: float  # accuracy on the verification crops
    mpjpe_change_mm: float  # against the fp32 graph's accuracy
    max_person_error: float = 0.0  # person probability or joint confidences against PyTorch (0 without either)
    mean_pose_error_mm: float = 0.0  # against PyTorch, mean over joints and samples
    mean_joint2d_error_px: float = 0.0
    batch_dependence_mm: float = 0.0  # worst joint: crops run one at a time against the same crops as one batch


def metadata(checkpoint: Path, info: dict[str, Any], config_dict: dict[str, Any], contract: InputContract,
             person: dict[str, Any] | None = None) -> dict[str, str]:
    outputs = {
        "pose_mm": "joints (B, 17, 3) in mm, camera frame (X right, Y down, Z forward), relative to the pelvis",
        "joints_2d": "joints (B, 17, 2) in pixels of the input crop (pixel centres at integers)",
    }
    if person is not None:
        outputs["person"] = "(B,) probability that the crop holds a person (pose3d.models.person)"
    if info["kind"] in HEATMAP_KINDS:
        outputs["confidence"] = ("(B, 17) each joint's heatmap mass near its peak, 0..1 (pose3d.models.heatmap); "
                                 "their mean is the pose's score, not a calibrated probability")
    return {
        "pose3d_version": __version__,
        "source_checkpoint": checkpoint.name,
        "model_kind": info["kind"],
        "stage": str(info["stage"]),
        "step": str(info["step"]),
        # The input contract, verbatim (pose3d.contract): the crop geometry and normalisation the
        # model was trained with; the runtime parses it back into the same class.
        METADATA_KEY: contract.to_json(),
        "input_name": "image",
        "outputs": json.dumps(outputs),
        "joint_names": json.dumps(H36M17.names),
        "joint_parents": json.dumps(H36M17.parents),
        "training_config": json.dumps(config_dict),
        "metrics": json.dumps(info.get("metrics", {})),
        "person_head": json.dumps(person or {}),
        PRECISION_KEY: "fp32",
    }


def _session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # CPU explicitly: the CUDA provider of onnxruntime-gpu fails loudly where CUDA is missing.
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def export(
    checkpoint: str | Path,
    output: str | Path,
    samples: int = 64,
    tolerance_mm: float = 0.5,
    tolerance_px: float = 0.05,
    fp16: bool = False,
    int8: bool = False,
    person: str | Path | None = None,
    calibration: int = DEFAULT_CALIBRATION,
    calibration_split: str = "val",
    int8_tolerance_mm: float = INT8_TOLERANCE_MM,
    int8_tolerance_px: float = INT8_TOLERANCE_PX,
    int8_ops: str = "conv",
) -> list[Check]:
    """Export ``checkpoint`` to ``output`` (and ``*.fp16.onnx`` / ``*.int8.onnx``), verified; with
    ``person`` (a person-head checkpoint: stage person for the paper CNN, hmperson for the 2D-evidence
    model), the graph has a ``person`` output too, the person probability.
    The int8 variant is calibrated on ``calibration`` rendered crops of ``calibration_split`` and
    quantises ``int8_ops`` (``pose3d_export.quantize.TAILS``: "conv", the convolutions only, or "all").

    Raises VerificationError if the fp32 graph differs from PyTorch by more than the tolerances, or
    the int8 graph by more than its tolerances on the mean deviation; fp16 is measured, not bounded.
    """
    checkpoint, output = Path(checkpoint), Path(output)
    model, config, info = load_model(checkpoint)
    if info["kind"] not in POSE_KINDS:
        what = {"prior": "the pose prior alone", "person": "a person head alone"}.get(info["kind"], f"a {info['kind']} model")
        raise ValueError(f"{checkpoint} holds {what}; export a pose model (finetune, direct, heatmap or hmfinetune)"
                         + ("; a detector exports with --detector" if info["kind"] == "detector" else ""))
    head, person_meta = None, None
    if person is not None:
        head, _, person_info = load_model(person)
        if person_info["kind"] not in ("person", "heatmap_person"):
            raise ValueError(f"{person}: not a person-head checkpoint (it holds a {person_info['kind']} model)")
        person_meta = {"source_checkpoint": Path(person).name, "step": int(person_info["step"]),
                       "metrics": person_info.get("metrics", {})}
    contract = config.input
    net = inference_net(model, contract.input_size, person=head)
    size = contract.input_size
    output.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 3, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        names = list(net.output_names)
        torch.onnx.export(
            net, (dummy,), str(output), input_names=["image"], output_names=names,
            dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            opset_version=OPSET, dynamo=False,
        )
    meta = metadata(checkpoint, info, json.loads(json.dumps(_config_dict(config))), contract, person_meta)
    graph = onnx.load(str(output))
    onnx.helper.set_model_props(graph, meta)
    onnx.save(graph, str(output))

    # Real inputs: rendered test crops of the model's own kind of people, with their true poses.
    data = rendered_crops(contract, config.seed, config.bodies, "test", samples)
    codec = ImageCodec.of(contract)
    x = data["x"]
    ref_pose, ref_joints = predict(model, data["image"], image_codec=codec)
    with torch.no_grad():
        ref_extra = [t.numpy() for t in net(torch.from_numpy(x))[2:]]  # person probability or joint confidences
    truth = data["pose_rel"].astype(np.float64)

    checks = []
    base_mpjpe = None
    variants = [("fp32", output)]
    if fp16:
        variants.append(("fp16", _fp16(output)))
    if int8:
        crops = calibration_crops(contract, config.seed, config.bodies, calibration_split, calibration)
        variants.append(("int8", quantize_int8(output, output.with_suffix(".int8.onnx"), crops, int8_ops)))
    for name, path in variants:
        session = _session(path)
        pose, joints, *rest = session.run(None, {"image": x})
        person_err = max((float(np.abs(r - ref).max()) for r, ref in zip(rest, ref_extra)), default=0.0)
        dist_mm = np.linalg.norm(pose - ref_pose, axis=-1)
        dist_px = np.linalg.norm(joints - ref_joints, axis=-1)
        acc = float(mpjpe(pose.astype(np.float64), truth).mean())
        base_mpjpe = acc if base_mpjpe is None else base_mpjpe
        checks.append(Check(name, path, path.stat().st_size / 1e6, float(dist_mm.max()), float(dist_px.max()), acc,
                            acc - base_mpjpe, person_err, float(dist_mm.mean()), float(dist_px.mean()),
                            batch_dependence(session, x[:BATCH_CHECK])))
    first = checks[0]
    if (first.max_pose_error_mm > tolerance_mm or first.max_joint2d_error_px > tolerance_px
            or first.max_person_error > TOLERANCE_PERSON):
        raise VerificationError(
            f"{output}: ONNX differs from PyTorch by up to {first.max_pose_error_mm:.4f} mm, "
            f"{first.max_joint2d_error_px:.4f} px and {first.max_person_error:.5f} in person probability or confidence "
            f"(tolerance {tolerance_mm} mm, {tolerance_px} px, {TOLERANCE_PERSON})"
        )
    for c in checks:
        if c.name == "int8" and (c.mean_pose_error_mm > int8_tolerance_mm or c.mean_joint2d_error_px > int8_tolerance_px):
            raise VerificationError(
                f"{c.path}: the int8 graph differs from PyTorch by {c.mean_pose_error_mm:.2f} mm, "
                f"{c.mean_joint2d_error_px:.3f} px on average over {samples} test crops (tolerance "
                f"{int8_tolerance_mm} mm, {int8_tolerance_px} px: --int8-tolerance-mm, --int8-tolerance-px); "
                f"worst joint {c.max_pose_error_mm:.1f} mm, {c.max_joint2d_error_px:.2f} px")
    return checks


def batch_dependence(session, x: np.ndarray) -> float:
    """The worst joint's distance in mm between ``x``'s crops run one at a time and run as one batch:
    what another crop in the batch changes in a crop's pose (0 for a batch-independent graph, up to
    float summation order)."""
    together = session.run(None, {"image": x})[0]
    alone = np.concatenate([session.run(None, {"image": x[i:i + 1]})[0] for i in range(len(x))])
    return float(np.linalg.norm(alone - together, axis=-1).max())


def _config_dict(config) -> dict[str, Any]:
    from pose3d.train.config import config_to_dict

    return config_to_dict(config)


def _fp16(path: Path) -> Path:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    out = path.with_suffix(".fp16.onnx")
    # Keep the graph's inputs and outputs float32: callers need not change.
    onnx.save(convert_float_to_float16(onnx.load(str(path)), keep_io_types=True), str(out))
    copy_metadata(path, out, {PRECISION_KEY: "fp16"})
    return out

