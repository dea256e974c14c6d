"""pose3d-posebank: build, inspect and draw the pose bank.

    pose3d-posebank build --mocap ../shared/mocap      # rebuild the bank shipped in the package
    pose3d-posebank summary                            # what is in it, and its checks
    pose3d-posebank sheet -o posebank.png              # a contact sheet of poses per activity
    pose3d-posebank plot 123 -o pose.png               # one pose in 3D
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click
import numpy as np

from pose3d.data.posebank import DEFAULT_BANK, PoseBank, load_posebank


def _load(bank_path: Path | None) -> PoseBank:
    try:
        return load_posebank(bank_path)
    except (ValueError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from None


def _print_checks(bank: PoseBank) -> bool:
    from pose3d.data.posebank_check import check_bank

    ok = True
    for check in check_bank(bank):
        click.echo(f"  [{'ok' if check.passed else 'FAILED'}] {check.name}: {check.detail}")
        ok &= check.passed
    return ok


bank_option = click.option(
    "--bank", "bank_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="A pose bank file (default: the one shipped in the package).",
)


@click.group(help="Build, inspect and draw the pose bank (real motion capture on Human3.6M-like bodies).")
def main() -> None:
    pass


@main.command(help="Convert motion capture (BVH and CMU exp-map text) into a pose bank file.")
@click.option("--mocap", "mocap_root", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of mocap collections, e.g. ../shared/mocap.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the bank (default: the package's own bank file).")
@click.option("--min-change-mm", type=click.FloatRange(min=0.0), default=None,
              help="Keep a frame when its MPJPE to the last kept frame is at least this (default 10).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the body-size sampling.")
def build(mocap_root: Path, output: Path | None, min_change_mm: float | None, seed: int) -> None:
    from tqdm import tqdm

    from pose3d.data.posebank_build import DEFAULT_MIN_CHANGE_MM, build_posebank
    from pose3d.mocap import MocapError

    if output is None:
        output = Path(str(resources.files("pose3d").joinpath(DEFAULT_BANK)))
    bar = tqdm(unit="clip", desc="mocap", file=sys.stderr)

    def progress(clip):  # noqa: ANN001
        bar.set_postfix_str(clip.clip_id)
        bar.update(1)

    try:
        bank, report = build_posebank(
            mocap_root, DEFAULT_MIN_CHANGE_MM if min_change_mm is None else min_change_mm, seed, progress
        )
    except MocapError as e:
        raise click.ClickException(str(e)) from None
    finally:
        bar.close()
    bank.save(output)
    size_mb = output.stat().st_size / 1e6
    click.echo(
        f"read {report.clips_read} clips ({report.frames_read} frames); kept {len(bank)} poses "
        f"(min change {bank.meta['min_change_mm']} mm) -> {output} ({size_mb:.1f} MB)"
    )
    if report.skipped:
        click.echo(f"skipped {len(report.skipped)}:")
        for path, why in report.skipped.items():
            click.echo(f"  {why if why.startswith(path) else f'{path}: {why}'}")
    click.echo(bank.summary())
    click.echo("checks:")
    if not _print_checks(bank):
        raise click.ClickException("the bank was written but failed a check (see above)")


@main.command(help="Print what the bank holds (poses per activity and split) and its checks.")
@bank_option
def summary(bank_path: Path | None) -> None:
    bank = _load(bank_path)
    click.echo(f"{len(bank)} poses from {len(bank.clip_names)} clips; {bank.meta.get('frame', '')}")
    click.echo(bank.summary())
    click.echo("checks:")
    if not _print_checks(bank):
        sys.exit(1)


@main.command(help="Draw a contact sheet: a row of random poses for each activity.")
@bank_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("posebank.png"),
              show_default=True)
@click.option("--per-activity", type=click.IntRange(1, 20), default=6, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def sheet(bank_path: Path | None, output: Path, per_activity: int, seed: int) -> None:
    from pose3d.cli.extras import require

    require("matplotlib", "pose3d-posebank sheet")
    from pose3d.viz.skeleton3d import contact_sheet

    bank = _load(bank_path)
    rng = np.random.default_rng(seed)
    rows = []
    for name in bank.activity_names:
        sub = bank.select(activity=name)
        pick = rng.choice(len(sub), size=min(per_activity, len(sub)), replace=False)
        rows.append((f"{name}\n({len(sub)})", sub.poses[np.sort(pick)]))
    contact_sheet(rows, output)
    click.echo(f"wrote {output}")


@main.command(help="Draw one pose of the bank in 3D.")
@bank_option
@click.argument("index", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("pose.png"),
              show_default=True)
def plot(bank_path: Path | None, index: int, output: Path) -> None:
    from pose3d.cli.extras import require

    require("matplotlib", "pose3d-posebank plot")
    from pose3d.viz.skeleton3d import plot_pose

    bank = _load(bank_path)
    if not -len(bank) <= index < len(bank):
        raise click.BadParameter(f"the bank has {len(bank)} poses", param_hint="INDEX")
    clip = int(bank.clip[index])
    title = f"{bank.clip_names[clip]} frame {int(bank.frame[index])} ({bank.activity_names[bank.clip_activity[clip]]})"
    plot_pose(bank.poses[index], output, title=title)
    click.echo(f"wrote {output}")
