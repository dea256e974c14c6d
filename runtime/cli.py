"""pose3d-run: 3D poses of every person in a folder of images, a video, or a webcam, with the shipped
models or yours.

    pose3d-run photos/ -o results/               # every image under photos/, resumable
    pose3d-run --video clip.mp4 --no-display     # JSON Lines + annotated video, people tracked
    pose3d-run --webcam                          # live window with FPS; q or Esc to stop
    pose3d-run photos/ --model my.onnx --detector det.onnx --device cpu --threads 2

The box policy is chosen here, once (``choose_boxes``): ``--bbox`` (a given box), ``--full-image``
(each input is a person crop), else the person detector (``--detector``, default the shipped
``runtime/models/pose3d-detector.onnx``): every person in folders, tracked people in streams (with a
pose model that scores its poses, the detector proposes and the pose score verifies:
``pose3d_runtime.boxes``). When no
detector is installed and none is given, the run says so on stderr and treats each whole image as
one person crop, as ``--full-image`` does (records say ``box_source: "full_image"``); a ``--detector``
file that is missing or not a detector is an error (exit status 1).

Exit status: see EXIT_STATUS (also shown by --help).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from pose3d_runtime.boxes import MIN_POSE_SCORE, MIN_SIZE
from pose3d_runtime.model import DEVICES, ModelError, PoseModel


EXIT_STATUS = """\b
Exit status:
  0  everything was read (images without a person included; a stream that ended for any reason)
  1  some file or folder could not be read (listed in OUT/errors.json), or the model, video or camera
     could not be opened
  2  bad arguments, or an output folder that cannot be written"""

FOLDER_ONLY = ("overwrite", "no_annotate", "batch_size")
STREAM_ONLY = ("no_display", "smooth", "max_frames")
DETECTOR_ONLY = ("detector_path", "max_people", "min_score", "min_size", "detector_size")
MAX_PEOPLE = 10


def _focal(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    from pose3d_runtime.boxes import MAX_PIXELS

    if value is not None and not (math.isfinite(value) and 1.0 <= value <= MAX_PIXELS):
        raise click.BadParameter(f"takes a focal length in pixels from 1 to {MAX_PIXELS:,}, got {value}")
    return value


def _check_mode(ctx: click.Context, folder_mode: bool) -> None:
    """Options of the other mode are refused, not silently ignored."""
    wrong = STREAM_ONLY if folder_mode else FOLDER_ONLY
    given = [n for n in wrong if ctx.get_parameter_source(n) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)]
    if given:
        names = ", ".join("--" + n.replace("_", "-") for n in given)
        where = "--video and --webcam" if folder_mode else "a FOLDER or IMAGE"
        raise click.UsageError(f"{names} only {'apply' if len(given) > 1 else 'applies'} to {where}")


def _given(ctx: click.Context, names: tuple[str, ...]) -> list[str]:
    return ["--" + n.replace("_path", "").replace("_", "-") for n in names
            if ctx.get_parameter_source(n) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)]


def choose_boxes(ctx: click.Context, estimator, folder_mode: bool, bbox: str | None, full_image: bool,
                 detector_path: Path | None, max_people: int, min_score: float | None, min_size: float, device: str,
                 threads: int | None, detector_size: int | None = None):
    """The run's box source (``pose3d_runtime.boxes``), from the options (see the module docstring)."""
    from pose3d_runtime.boxes import FixedBox, FullImage, find_people, parse_bbox
    from pose3d_runtime.detector import PersonDetector, default_detector_path

    if bbox is not None or full_image:
        given = _given(ctx, DETECTOR_ONLY)
        if given:
            raise click.UsageError(f"{', '.join(given)} only {'apply' if len(given) > 1 else 'applies'} with a detector, not with "
                                   f"{'--bbox' if bbox is not None else '--full-image'}")
        if full_image:
            return FullImage()
        try:
            return FixedBox(parse_bbox(bbox, estimator.margin))
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--bbox") from None
    if detector_path is None and not default_detector_path().is_file():
        click.echo(f"no person detector is installed ({default_detector_path()}): each whole image is taken as "
                   "one person crop, as with --full-image; pass --detector FILE, or --bbox X,Y,W,H", err=True)
        return FullImage()
    try:
        detector = PersonDetector(detector_path, margin=estimator.margin, device=device, threads=threads,
                                  frame_size=detector_size)
    except ModelError as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--detector-size") from None
    click.echo(f"detector {detector.describe()}", err=True)
    return find_people(detector, estimator.model.has_person, max_people, min_score, stream=not folder_mode,
                       margin=estimator.margin, min_size=min_size)


def _display_available() -> bool:
    return sys.platform in ("win32", "darwin") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@click.command(help="Estimate 3D human poses in images, a video or a webcam stream (see README).",
               epilog=EXIT_STATUS)
@click.argument("input_path", metavar="[FOLDER|IMAGE]", required=False,
                type=click.Path(exists=True, path_type=Path))
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A video file.")
@click.option("--webcam", type=int, is_flag=False, flag_value=0, default=None, metavar="[N]",
              help="Camera index (0 when given without a number).")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("pose3d-out"),
              show_default=True, help="Output folder.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="An ONNX file from pose3d-export (default: the model shipped with the package).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="auto: CUDA when onnxruntime can use it, else CPU.")
@click.option("--threads", type=click.IntRange(1), default=None, help="Model threads (default: onnxruntime's).")
@click.option("--batch-size", type=click.IntRange(1, 1024), default=16, show_default=True, help="Images per model call.")
@click.option("--bbox", default=None, metavar="X,Y,W,H", help="The person's box in pixels, skipping detection.")
@click.option("--full-image", is_flag=True, help="Each input is already a person crop.")
@click.option("--detector", "detector_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A person detector ONNX file (default: the one shipped with the package, where installed).")
@click.option("--max-people", type=click.IntRange(1, 100), default=MAX_PEOPLE, show_default=True,
              help="At most this many people per image or frame.")
@click.option("--min-score", type=click.FloatRange(0.0, 1.0), default=None, metavar="X",
              help=f"Report people whose pose scores at least X (default {MIN_POSE_SCORE:g}), where the model scores its poses; "
                   "else people the detector scores at least X (default: the detector's own threshold).")
@click.option("--detector-size", type=click.IntRange(32, 4096), default=None, metavar="S",
              help="Feed the detector each frame in about S x S pixels at its aspect (default: the file's, 384 for the "
                   "shipped one; a multiple of 32): larger finds smaller people, at more time a frame.")
@click.option("--min-size", type=click.FloatRange(0.0, 1.0), default=MIN_SIZE, show_default=True, metavar="F",
              help="Report people whose joints span at least this share of the image's shorter side (0: any size).")
@click.option("--focal", type=float, default=None, metavar="PIXELS", callback=_focal,
              help="The camera's focal length, for placing the pose in depth (default: the image's longer side).")
@click.option("--overwrite", is_flag=True, help="Folders: redo images whose results exist.")
@click.option("--no-annotate", is_flag=True, help="No annotated images (folder mode).")
@click.option("--no-display", is_flag=True, help="Streams: write an annotated video instead of showing a window.")
@click.option("--smooth", is_flag=True, help="Streams: One Euro filter on the joints.")
@click.option("--max-frames", type=click.IntRange(1), default=None, help="Streams: stop after this many frames.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def main(ctx: click.Context, input_path: Path | None, video: Path | None, webcam: int | None, out: Path, model_path: Path | None,
         device: str, threads: int | None, batch_size: int, bbox: str | None, full_image: bool,
         detector_path: Path | None, max_people: int, min_score: float | None, detector_size: int | None,
         min_size: float, focal: float | None, overwrite: bool,
         no_annotate: bool, no_display: bool, smooth: bool, max_frames: int | None, quiet: bool) -> None:
    given = [x is not None for x in (input_path, video, webcam)]
    if sum(given) != 1:
        raise click.UsageError("give exactly one input: a FOLDER or IMAGE, --video FILE, or --webcam [N]")
    if bbox is not None and full_image:
        raise click.UsageError("--bbox and --full-image exclude each other")
    _check_mode(ctx, folder_mode=input_path is not None)
    try:
        model = PoseModel(model_path, device=device, threads=threads)
    except (ModelError, ValueError) as e:
        raise click.ClickException(str(e)) from None

    from pose3d_runtime.pipeline import Estimator

    estimator = Estimator(model, focal_px=focal)
    boxes = choose_boxes(ctx, estimator, input_path is not None, bbox, full_image, detector_path, max_people,
                         min_score, min_size, device, threads, detector_size)
    click.echo(f"model {model.describe()}", err=True)
    if input_path is not None:
        _folder(estimator, boxes, input_path, out, batch_size, overwrite, not no_annotate, quiet)
    else:
        _stream(estimator, boxes, video, webcam, out, no_display, smooth, max_frames)


def _folder(estimator, boxes, root: Path, out: Path, batch_size: int, overwrite: bool, annotate_images: bool,
            quiet: bool) -> None:
    from tqdm import tqdm

    from pose3d_runtime.folder import FolderError, run_folder
    from pose3d_runtime.outputs import OutputError

    bars: list = []  # made once the total is known: a bar made earlier prints a stray "0img" line

    def total(n: int) -> None:
        bars.append(tqdm(total=n, unit="img", disable=quiet, file=sys.stderr))

    try:
        report = run_folder(estimator, root, out, boxes, batch_size=batch_size, overwrite=overwrite,
                            annotate_images=annotate_images, progress=lambda n: bars[0].update(n), on_total=total)
    except FolderError as e:
        raise click.UsageError(str(e)) from None
    except OutputError as e:
        raise click.BadParameter(str(e), param_hint="-o/--out") from None
    finally:
        for bar in bars:
            bar.close()
    r = report.as_dict()
    click.echo(f"{r['processed']} processed ({r['people']} people; {r['no_person']} images without a person), "
               f"{r['skipped_already_done']} already "
               f"done, {r['failed']} failed, {r['ignored_not_images']} not images; {r['seconds']} s -> {out}")
    for e in report.failed:
        click.echo(f"  failed: {e['file']}: {e['error']}", err=True)
    if report.failed:
        click.echo(f"errors listed in {out / 'errors.json'}", err=True)
        sys.exit(1)


def _stream(estimator, boxes, video: Path | None, webcam: int | None, out: Path, no_display: bool, smooth: bool,
            max_frames: int | None) -> None:
    from pose3d_runtime.outputs import OutputError, check_output_folder
    from pose3d_runtime.sources import open_capture
    from pose3d_runtime.stream import run_stream

    display = not no_display
    if display and not _display_available():
        click.echo("no display found: writing the annotated video instead (--no-display)", err=True)
        display = False
    try:
        check_output_folder(out)
    except OutputError as e:
        raise click.BadParameter(str(e), param_hint="-o/--out") from None
    source: str | int = str(video) if video is not None else int(webcam)
    name = video.stem if video is not None else f"webcam{webcam}"
    try:
        cap = open_capture(source)
    except OSError as e:
        raise click.ClickException(str(e)) from None
    report = run_stream(estimator, cap, out, name, boxes, live=video is None, display=display, smooth=smooth,
                        max_frames=max_frames)
    r = report.as_dict()
    click.echo(f"{r['frames']} frames ({r['frames_with_person']} with a person, {r['tracks']} tracks), "
               f"{r['frames_per_second']} frames/s, "
               f"latency median {r['latency_ms_median']} ms, p95 {r['latency_ms_p95']} ms; ended: {r['ended_by']} -> {out}")


if __name__ == "__main__":
    main()
