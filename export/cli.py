"""pose3d-export: a trained checkpoint to ONNX, verified against PyTorch.

    pose3d-export runs/default/finetune.pt -o model.onnx [--fp16] [--int8] [--person runs/default/person.pt]
    pose3d-export runs/hm_anny/heatmap.pt -o model.onnx --int8 --calibration 300   # + model.int8.onnx, static
    pose3d-export --detector runs/detector/detector.pt -o detector.onnx [--frame-size 384]
"""

from __future__ import annotations

from pathlib import Path

import click

from pose3d_export.quantize import CALIBRATION_SPLITS, DEFAULT_CALIBRATION, INT8_TOLERANCE_MM, INT8_TOLERANCE_PX, TAILS


@click.command(help="Export a trained image model (finetune or direct checkpoint) to ONNX and verify it.")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--samples", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="Rendered test crops to verify on.")
@click.option("--tolerance-mm", type=click.FloatRange(min=0), default=0.5, show_default=True)
@click.option("--fp16", is_flag=True, help="Also write a float16 variant (*.fp16.onnx).")
@click.option("--int8", is_flag=True,
              help="Also write a statically quantised int8 variant (*.int8.onnx: QDQ, per-channel weights, the "
                   "convolutions only, see --int8-ops), calibrated on rendered crops of --calibration-split, so a crop's result "
                   "does not depend on its batch; verified against PyTorch on the mean deviation.")
@click.option("--calibration", type=click.IntRange(1, 10_000), default=DEFAULT_CALIBRATION, show_default=True,
              help="With --int8: rendered crops to calibrate the activation ranges on.")
@click.option("--calibration-split", type=click.Choice(CALIBRATION_SPLITS), default="val", show_default=True,
              help="With --int8: the synthetic split of the calibration crops (never the test split verified on).")
@click.option("--int8-ops", type=click.Choice(tuple(TAILS)), default="conv", show_default=True,
              help="With --int8: quantise the convolutions only (the soft-argmax, confidences and fully connected "
                   "layers stay float), or every operator onnxruntime can (smaller, far less accurate).")
@click.option("--int8-tolerance-mm", type=click.FloatRange(min=0), default=INT8_TOLERANCE_MM, show_default=True,
              help="With --int8: fail if the int8 pose differs from PyTorch by more than this, mean over joints and crops.")
@click.option("--int8-tolerance-px", type=click.FloatRange(min=0), default=INT8_TOLERANCE_PX, show_default=True,
              help="With --int8: the same for the 2D joints.")
@click.option("--person", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A person-head checkpoint to add as the 'person' output (default: the one beside CHECKPOINT "
                   "when it is there: person.pt for the paper CNN, hmperson.pt for the 2D-evidence model).")
@click.option("--no-person", is_flag=True, help="Leave the person head out even if one is beside CHECKPOINT.")
@click.option("--detector", is_flag=True,
              help="CHECKPOINT is the person detector (pose3d-train --stage detector: OUT/detector.pt); "
                   "only --samples and --frame-size apply.")
@click.option("--frame-size", type=click.IntRange(32, 4096), default=None,
              help="With --detector: the runtime feeds a frame in about this many pixels squared, at its own aspect "
                   "(a multiple of the network's stride; default: the training frames' side, detector.input_size).")
def main(checkpoint: Path, output: Path, samples: int, tolerance_mm: float, fp16: bool, int8: bool, calibration: int,
         calibration_split: str, int8_ops: str, int8_tolerance_mm: float, int8_tolerance_px: float, person: Path | None,
         no_person: bool, detector: bool, frame_size: int | None) -> None:
    from pose3d.cli.extras import require_all

    if frame_size is not None and not detector:
        raise click.BadParameter("applies to the person detector only (with --detector)", param_hint="--frame-size")
    require_all(("torch", "onnx"), "pose3d-export")
    from pose3d.train.checkpoint import person_head_file, read_checkpoint
    from pose3d_export.onnx_export import VerificationError, export

    try:
        kind = read_checkpoint(checkpoint)["kind"]
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    if kind == "detector" and not detector:
        raise click.ClickException(f"{checkpoint} holds the person detector: export it with --detector")
    if detector:
        _export_detector(checkpoint, output, samples, frame_size)
        return

    if person is None and not no_person and person_head_file(checkpoint, kind).is_file():
        person = person_head_file(checkpoint, kind)
    if no_person:
        person = None
    if person is not None:
        click.echo(f"with the person head of {person}")
    try:
        checks = export(checkpoint, output, samples=samples, tolerance_mm=tolerance_mm, fp16=fp16, int8=int8,
                        person=person, calibration=calibration, calibration_split=calibration_split,
                        int8_tolerance_mm=int8_tolerance_mm, int8_tolerance_px=int8_tolerance_px, int8_ops=int8_ops)
    except (ValueError, VerificationError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"verified on {samples} rendered test crops against PyTorch:")
    click.echo("| variant | file | MB | max error vs PyTorch (mm) | (px) | mean error (mm) | (px) | (person prob.) "
               "| MPJPE vs truth (mm) | change (mm) | alone vs batch (mm) |")
    click.echo("|---|---|---|---|---|---|---|---|---|---|---|")
    for c in checks:
        click.echo(f"| {c.name} | {c.path} | {c.size_mb:.1f} | {c.max_pose_error_mm:.4f} | {c.max_joint2d_error_px:.4f} | "
                   f"{c.mean_pose_error_mm:.4f} | {c.mean_joint2d_error_px:.4f} | {c.max_person_error:.5f} | "
                   f"{c.mpjpe_vs_truth_mm:.1f} | {c.mpjpe_change_mm:+.2f} | {c.batch_dependence_mm:.5f} |")


def _export_detector(checkpoint: Path, output: Path, samples: int, frame_size: int | None) -> None:
    from pose3d_export.detector_export import VerificationError, export_detector

    try:
        check = export_detector(checkpoint, output, samples=samples, frame_size=frame_size)
    except (ValueError, VerificationError) as e:
        raise click.ClickException(str(e)) from None
    errors = ", ".join(f"{name} {value:.2g}" for name, value in check.max_error.items())
    click.echo(f"wrote {check.path} ({check.size_mb:.2f} MB); verified on {check.frames} rendered frames against "
               f"PyTorch, max differences: {errors}")
