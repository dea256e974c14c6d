"""pose3d-eval: score a checkpoint on the synthetic test split, per activity.

    pose3d-eval runs/default/finetune.pt                # MPJPE, P-MPJPE, N-MPJPE, PCK3D, AUC
    pose3d-eval runs/default/finetune.pt --flip --report
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from pose3d.data.posebank import SPLITS


@click.command(help="Evaluate a trained image model (latent, finetune or direct checkpoint).")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@click.option("--samples", type=click.IntRange(1, 1_000_000), default=2000, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed of the rendered set (default: the checkpoint's).")
@click.option("--flip", is_flag=True, help="Average with the prediction on the mirrored crop.")
@click.option("--report", is_flag=True, help="Also save a picture of the best and worst predictions.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the tables (default: beside the checkpoint).")
def main(checkpoint: Path, split: str, samples: int, seed: int | None, flip: bool, report: bool, out_dir: Path | None) -> None:
    from pose3d.data.synthetic import SynthConfig, SyntheticPoses
    from pose3d.evaluate import evaluate, predict
    from pose3d.train.checkpoint import load_model

    try:
        model, config, info = load_model(checkpoint)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    if info["kind"] == "prior":
        raise click.ClickException(f"{checkpoint} holds the pose prior alone; evaluate an image model (latent, finetune, direct)")
    seed = config.seed if seed is None else seed
    crop = SynthConfig().crop
    ds = SyntheticPoses(SynthConfig(split=split, seed=seed, length=samples, crop=crop))
    data = ds.render_all()
    names = ds.bank.activity_names
    result = evaluate(model, data, names, flip=flip)
    tag = f"{checkpoint.stem}_{split}{'_flip' if flip else ''}"
    out_dir = checkpoint.parent if out_dir is None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    header = (f"{checkpoint} ({info['kind']}, stage {info['stage']}, step {info['step']}) on {samples} synthetic "
              f"{split} crops (seed {seed}){', flip test-time augmentation' if flip else ''}; mm, PCK3D/AUC in %")
    markdown = header + "\n\n" + result.table.to_markdown()
    click.echo(markdown)
    (out_dir / f"{tag}.md").write_text(markdown + "\n")
    (out_dir / f"{tag}.json").write_text(json.dumps({
        "checkpoint": str(checkpoint), "kind": info["kind"], "stage": info["stage"], "step": info["step"],
        "split": split, "samples": samples, "seed": seed, "flip": flip, **result.table.to_dict(),
    }, indent=1))
    if report:
        from pose3d.viz.report import evaluation_report

        _, joints = predict(model, data["image"], flip=flip)
        labels = [f"{names[a]}" for a in data["activity"]]
        path = evaluation_report(out_dir / f"{tag}.png", data["image"], joints, result.pred, result.gt,
                                 result.values["MPJPE"], labels)
        click.echo(f"wrote {path}")
