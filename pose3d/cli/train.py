"""pose3d-train: train the pose prior, the CNN and the fine-tuned stack (and the direct baseline).

    pose3d-train                                   # the method: prior, latent, finetune, then the person head
    pose3d-train --stage ablation                  # ... and the direct-regression baseline
    pose3d-train --stage latent --config my.toml --set latent_stage.steps=5000
    pose3d-train --data prepared/h36m --out runs/h36m  # on a prepared Human3.6M set
    pose3d-train --stage lifter --set bodies=anny --out runs/hm   # the 2D-evidence model's lifter, on labels
    pose3d-train --stage heatmap --set bodies=anny --out runs/hm  # ... then the whole model, lifter from lifter.pt
    torchrun --nproc_per_node 2 -m pose3d.cli.train --stage direct   # data parallel

Each stage writes <out_dir>/<stage>.pt and resumes from it when run again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from pose3d.train.names import SETS, STAGES

HELP = """Train the structured-prediction model in stages (listed in pose3d/train/names.py).

A bare run trains prior, latent, finetune and person with the defaults below: about 2 hours on a
2-core CPU (README, "Speed on this CPU"). For a first try, configs/quick.toml trains every stage in
a few minutes (a working pipeline, not a useful model). Each stage writes OUT/<stage>.pt and
resumes from it when the same command runs again (stage heatmap also starts its lifter from
OUT/lifter.pt, made by stage lifter, when there is one). A folder whose checkpoints were trained with
another architecture or input contract is refused (other settings, such as steps, may change).

Settings: --config FILE (TOML, tables for the dotted parts) and --set key=value, the last one winning.
"""


def _literal(value: object) -> str:
    """A default as --set takes it."""
    if value is None or isinstance(value, bool):
        return {None: "none", True: "true", False: "false"}[value]
    return repr(value)


class _TrainCommand(click.Command):
    """Lists every setting with its default and range after the options, generated from the config
    dataclasses when help is asked for (so it cannot drift from them)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Settings (default, what it takes)"):
            try:
                from pose3d.train.config import settings
            except ImportError:  # a runtime-only install: the config classes live beside the torch models
                formatter.write_text('listed once the training side is installed: pip install "pose3d[train]"')
            else:
                formatter.write_dl([(name, f"{_literal(default)}  ({what})") for name, default, what in settings()])
        super().format_epilog(ctx, formatter)


@click.command(cls=_TrainCommand, help=HELP)
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A TOML file of settings (see README).")
@click.option("--stage", type=click.Choice(STAGES + tuple(SETS)), default="all", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a setting, e.g. latent_stage.steps=500.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Output folder (out_dir).")
@click.option("--data", default=None, metavar="DIR",
              help="A prepared Human3.6M set (pose3d-prepare h36m) instead of the synthetic default.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--max-steps", type=click.IntRange(1), default=None,
              help="Stop after this many steps of this run (checkpointed); run the same command again to go on.")
def main(config_path: Path | None, stage: str, overrides: tuple[str, ...], out_dir: Path | None, data: str | None,
         quiet: bool, max_steps: int | None) -> None:
    from pose3d.cli.extras import require_all

    require_all(("torch", "matplotlib"), "pose3d-train")
    from pose3d.data.h36m.store import PreparedSetError
    from pose3d.train.config import load_config
    from pose3d.train.data import training_data
    from pose3d.train.loop import TrainingError
    from pose3d.train.names import REGISTRY
    from pose3d.train.run import run, select

    if out_dir is not None:
        overrides = overrides + (f"out_dir={out_dir}",)
    try:
        config = load_config(config_path, overrides)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--config/--set") from None
    if data is not None:
        config = replace(config, data=data)
    try:
        train_data = training_data(config)
        stages, left_out = select(stage, train_data)
        for name in left_out:  # a set leaves out what this data cannot feed, and says why
            spec = REGISTRY[name]
            reason = next(train_data.refusal(n, name) for n in spec.data if n not in train_data.offers)
            click.echo(f"leaving out stage {name!r}: {reason}", err=True)
        results = run(config, stages, progress=not quiet, max_steps=max_steps, data=train_data)
    except (FileNotFoundError, PreparedSetError, TrainingError, ValueError) as e:
        # ValueError: a bad checkpoint, data that cannot feed a stage, a run folder of another architecture
        raise click.ClickException(str(e)) from None
    for name, metrics in results.items():
        click.echo(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))


if __name__ == "__main__":
    main()
