"""Static int8 quantisation of an exported pose graph: calibrated once, so a crop's result does not
depend on the other crops of its batch.

Why static: dynamic quantisation (onnxruntime's ``quantize_dynamic``) computes each activation's
scale from the batch it is running, so the same crop gave a pose that moved by up to 4.3 px / 3.1 mm
with the batch it shared. Here every scale is fixed at export time from calibration crops, and the
int8 graph computes the same thing for a crop whatever else is in the batch (``tests/test_quantize.py``).

Calibration crops are rendered the way ``pose3d-eval`` renders an ONNX model's synthetic test crops
(the model's own input contract, its training bodies, its seed) but from a *training-side* split
("val" by default, or "train"), never the test split the export verifies on, and never real photos.

The format is QDQ (QuantizeLinear/DequantizeLinear pairs around the quantised operators), weights
int8 per output channel, activations uint8 per tensor. ``TAILS`` names what is quantised: the whole
graph, or only the convolutions (the soft-argmax, confidences and the lifter MLP stay float).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# onnxruntime.quantization imports onnx (a training extra), like torch: both are imported where used,
# so that the command line can load this module's settings and name the missing extra.

PRECISION_KEY = "precision"  # metadata key: "fp32", or a description of the int8 scheme
CALIBRATION_SPLITS = ("val", "train")
# What to quantise: "conv" leaves the soft-argmax / confidence / lifter tail (and every non-Conv
# operator) in float; "all" lets onnxruntime quantise every operator it supports (Gemm included).
# Measured on the shipped model (64 held-out crops, mean deviation from fp32): conv 3.7 mm / 0.18 px,
# 19.9 MB; all 28.0 mm / 1.05 px, 7.1 MB; Conv + the lifter's Gemms 24.7 mm / 0.18 px (the lifter is
# what int8 hurts, also with its first and last layers kept float: 21.2 mm). On a direct CNN regressor
# (runs/cmp_anny/direct.pt) too: conv 2.5 mm / 0.21 px but 61.0 MB of 61.6 (its fully connected
# layers are the file); all 22.4 mm / 6.1 px, 15.5 MB. "conv" is the default for every kind.
TAILS = {"conv": ["Conv"], "all": None}
# Activation ranges from the 99.999th percentile of each tensor's calibration histogram rather than
# its extremes: on the shipped model (64 held-out crops) mean deviation from fp32 3.7 mm against 5.2
# mm with MinMax; entropy gave the MinMax figure.
PERCENTILE = 99.999
DEFAULT_CALIBRATION = 300
# The int8 graph against PyTorch, mean over joints and crops. Its worst joint is not bounded: a joint
# whose heatmap has two similar peaks can swing by several pixels under int8 rounding (shipped model,
# 64 test crops: worst 74 mm / 6.2 px, mean 3.7 mm / 0.18 px), so the mean is what says the
# quantisation went wrong (uncalibrated ranges, a quantised tail: mean 28.6 mm, 1.0 px).
INT8_TOLERANCE_MM = 10.0
INT8_TOLERANCE_PX = 0.5


def calibration_crops(contract, seed: int, bodies: str, split: str, count: int) -> np.ndarray:
    """(count, 3, S, S) float32 normalised calibration crops of ``split`` (``CALIBRATION_SPLITS``),
    rendered as pose3d-eval renders an ONNX model's synthetic crops: the model's crop geometry,
    training bodies and seed."""
    if split not in CALIBRATION_SPLITS:
        raise ValueError(f"calibration split must be one of {CALIBRATION_SPLITS} (never the test split the "
                         f"export is verified on), got {split!r}")
    data = rendered_crops(contract, seed, bodies, split, count)
    return data["x"]


def rendered_crops(contract, seed: int, bodies: str, split: str, count: int) -> dict[str, np.ndarray]:
    """Rendered synthetic crops of ``split``: ``x`` (count, 3, S, S) float32 normalised with the
    contract's mean and std, ``image`` uint8, ``pose_rel`` the true poses in mm."""
    import torch

    from pose3d.data.synthetic import SynthConfig, SyntheticPoses
    from pose3d.models.codec import ImageCodec

    ds = SyntheticPoses(SynthConfig(split=split, seed=seed, length=count, crop=contract.crop_spec(), bodies=bodies))
    data = ds.render_all()
    with torch.no_grad():
        data["x"] = ImageCodec.of(contract).encode(torch.from_numpy(data["image"])).numpy().astype(np.float32)
    return data


def crop_reader(x: np.ndarray, input_name: str = "image", batch: int = 1):
    """An onnxruntime ``CalibrationDataReader`` over normalised crops, ``batch`` at a time (1 by
    default: the histogram calibrators need every batch the same size)."""
    from onnxruntime.quantization import CalibrationDataReader

    class CropReader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches: Iterator[np.ndarray] = iter([x[i:i + batch] for i in range(0, len(x), batch)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            item = next(self._batches, None)
            return None if item is None else {input_name: np.ascontiguousarray(item)}

    return CropReader()


def quantize_int8(fp32: str | Path, out: str | Path, calibration: np.ndarray, tail: str = "conv") -> Path:
    """Write ``out``: ``fp32`` (an exported pose graph) statically quantised to int8 (QDQ,
    per-channel weights), calibrated on ``calibration`` ((N, 3, S, S) normalised crops); the
    metadata of ``fp32`` is kept and ``precision`` added."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if tail not in TAILS:
        raise ValueError(f"tail must be one of {tuple(TAILS)}, got {tail!r}")
    fp32, out = Path(fp32), Path(out)
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # onnxruntime's advice and progress lines
    try:  # the histogram calibrator prints its progress to stdout: keep the CLI's table clean
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            prepared = Path(tmp) / "prepared.onnx"
            # Shape inference and graph optimisation first, as onnxruntime recommends (it folds the
            # constant shape arithmetic); on the shipped model the result is as accurate without it.
            quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
            quantize_static(
                str(prepared), str(out), crop_reader(calibration),
                quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                op_types_to_quantize=TAILS[tail], calibrate_method=CalibrationMethod.Percentile,
                extra_options={"CalibPercentile": PERCENTILE},
            )
    finally:
        root.setLevel(level)
    copy_metadata(fp32, out, {PRECISION_KEY: precision_label(tail, len(calibration))})
    return out


def precision_label(tail: str, crops: int) -> str:
    """The ``precision`` metadata value of an int8 file: what was quantised and how it was calibrated."""
    what = ("convolutions only, every other operator (soft-argmax, confidences, lifter, fully connected layers) "
            "in float" if tail == "conv" else "every supported operator")
    return (f"int8 static (QDQ, per-channel int8 weights, uint8 activations; {what}; ranges at the {PERCENTILE}th "
            f"percentile of {crops} rendered calibration crops)")


def copy_metadata(src: Path, dst: Path, extra: dict[str, str]) -> None:
    """The metadata of ``src`` (input contract, outputs, config...) plus ``extra``, into ``dst``."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props} | extra
    model = onnx.load(str(dst))
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, str(dst))
