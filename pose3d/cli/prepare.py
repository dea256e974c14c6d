"""pose3d-prepare: turn a Human3.6M distribution into a prepared set for training and evaluation.

    pose3d-prepare h36m --root /data/h36m --out prepared/h36m                 # layout detected, Protocol 1
    pose3d-prepare h36m --root /data/h36m --out prepared/seed --split seed    # train S1-S9, test S11
    pose3d-prepare h36m --root /data/h36m --out p --subjects S1 --subjects S9 --train-every 10

Interrupted runs resume where they stopped (run the same command again). Bad files are reported
with their names at the end; everything else is prepared.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from pose3d.data.h36m.layout import LAYOUTS, LayoutError
from pose3d.data.h36m.protocols import SPLITS, make_split


@click.group(help="Prepare datasets for pose3d-train --data and pose3d-eval --data.")
def main() -> None:
    pass


@main.command(help="Human3.6M in any of its three layouts (official CDF + mp4, JPEG + JSON, NumPy archive).")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="The folder holding the distribution.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Where to write the prepared set.")
@click.option("--layout", type=click.Choice(("auto",) + LAYOUTS), default="auto", show_default=True)
@click.option("--split", "split_name", type=click.Choice(tuple(SPLITS)), default="protocol1", show_default=True,
              help="protocol1: train S1 S5 S6 S7 S8, test S9 S11; seed: train S1 S5 S6 S7 S8 S9, test S11.")
@click.option("--train-subjects", multiple=True, metavar="S", help="Replace the split's training subjects (repeat the flag).")
@click.option("--test-subjects", multiple=True, metavar="S", help="Replace the split's test subjects (repeat the flag).")
@click.option("--subjects", multiple=True, metavar="S", help="Prepare only these subjects of the split (repeat the flag).")
@click.option("--train-every", type=click.IntRange(1), default=5, show_default=True, help="Keep every n-th training frame.")
@click.option("--test-every", type=click.IntRange(1), default=64, show_default=True, help="Keep every n-th test frame.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def h36m(root: Path, out: Path, layout: str, split_name: str, train_subjects: tuple[str, ...], test_subjects: tuple[str, ...],
         subjects: tuple[str, ...], train_every: int, test_every: int, quiet: bool) -> None:
    from pose3d.cli.extras import require
    from pose3d.data.h36m.names import subject_name
    from pose3d.data.h36m.official import is_official
    from pose3d.data.h36m.prepare import prepare
    from pose3d.data.h36m.store import PreparedSetError

    try:
        split = make_split(split_name, train_every, test_every, train_subjects or None, test_subjects or None)
        chosen = tuple(subject_name(s) for s in subjects) or None
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if layout == "official" or (layout == "auto" and is_official(root)):
        require("cdflib", "pose3d-prepare h36m", "to read the official release's CDF pose files")
    click.echo(f"Human3.6M from {root}: {split.describe()}", err=True)
    t0 = time.perf_counter()
    try:
        report = prepare(root, out, split, layout, chosen, progress=not quiet)
    except (LayoutError, PreparedSetError) as e:
        raise click.ClickException(str(e)) from None
    seconds = time.perf_counter() - t0
    manifest = report.manifest
    for message, chunks in _grouped(report.notes).items():
        click.echo(f"note: {message}" + (f" ({len(chunks)} chunks, e.g. {chunks[0]})" if chunks else ""))
    click.echo(f"layout {report.layout}; {split.describe()}")
    click.echo(f"wrote {len(report.written)} chunk(s), {report.samples} samples in {seconds:.1f} s; "
               f"kept {len(report.skipped)} finished chunk(s) from an earlier run")
    for name in ("subject", "action", "camera"):
        click.echo(f"per {name}: " + ", ".join(f"{k} {v}" for k, v in manifest["counts"][name].items()))
    click.echo(f"{manifest['total']} samples ({'crops and poses' if manifest['has_images'] else '3D poses only'}) "
               f"in {out}")
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s), those files were left out:", err=True)
        for p in report.problems:
            click.echo(f"  {p}", err=True)
    if manifest["total"] == 0:
        raise click.ClickException("nothing could be prepared (see the problems above)")


def _grouped(notes: list[str]) -> dict[str, list[str]]:
    """"<chunk id>: <message>" notes -> message -> chunk ids (plain notes keep an empty list)."""
    out: dict[str, list[str]] = {}
    for note in notes:
        head, sep, message = note.partition(": ")
        if sep and head.count(".") == 3:
            out.setdefault(message, []).append(head)
        else:
            out.setdefault(note, [])
    return out


if __name__ == "__main__":
    sys.exit(main())
