"""pose3d-eval: score a checkpoint on the synthetic test split or on a prepared Human3.6M set, per activity.

    pose3d-eval runs/default/finetune.pt                # MPJPE, P-MPJPE, N-MPJPE, PCK3D, AUC
    pose3d-eval runs/default/finetune.pt --flip --report
    pose3d-eval runs/h36m/finetune.pt --data prepared/h36m   # Protocol 1 (MPJPE) and 2 (P-MPJPE) per action
    pose3d-eval runs/h36m/prior.pt --data prepared/h36m      # the prior alone: denoising, per action
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from pose3d.data.posebank import SPLITS


@click.command(help="Evaluate a trained image model (latent, finetune or direct checkpoint), or a prior on Human3.6M.")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A prepared Human3.6M set (pose3d-prepare h36m): evaluate on its test subjects.")
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True, help="Synthetic split.")
@click.option("--samples", type=click.IntRange(1, 10_000_000), default=None,
              help="How many samples (synthetic default 2000; Human3.6M default: every prepared test frame).")
@click.option("--seed", type=int, default=None, help="Seed of the rendered set (default: the checkpoint's).")
@click.option("--flip", is_flag=True, help="Average with the prediction on the mirrored crop.")
@click.option("--report", is_flag=True, help="Also save a picture of the best and worst predictions.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the tables (default: beside the checkpoint).")
def main(checkpoint: Path, data: Path | None, split: str, samples: int | None, seed: int | None, flip: bool, report: bool,
         out_dir: Path | None) -> None:
    from pose3d.evaluate import evaluate, predict
    from pose3d.train.checkpoint import load_model

    try:
        model, config, info = load_model(checkpoint)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    if info["kind"] == "prior" and data is None:
        raise click.ClickException(f"{checkpoint} holds the pose prior alone; evaluate an image model (latent, finetune, direct)")
    seed = config.seed if seed is None else seed
    what = f"{checkpoint} ({info['kind']}, stage {info['stage']}, step {info['step']})"
    record: dict[str, Any] = {"checkpoint": str(checkpoint), "kind": info["kind"], "stage": info["stage"], "step": info["step"],
                              "flip": flip}
    if data is None:
        from pose3d.data.synthetic import SynthConfig, SyntheticPoses

        samples = 2000 if samples is None else samples
        ds = SyntheticPoses(SynthConfig(split=split, seed=seed, length=samples, crop=SynthConfig().crop))
        batch = ds.render_all()
        names = ds.bank.activity_names
        result = evaluate(model, batch, names, flip=flip)
        tag = f"{checkpoint.stem}_{split}{'_flip' if flip else ''}"
        header = (f"{what} on {samples} synthetic {split} crops (seed {seed})"
                  f"{', flip test-time augmentation' if flip else ''}; mm, PCK3D/AUC in %")
        record |= {"split": split, "samples": samples, "seed": seed}
    else:
        names, batch, result, tag, header, extra = _h36m(model, config, info, data, samples, flip, what, checkpoint.stem)
        record |= extra
    out_dir = checkpoint.parent if out_dir is None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = header + "\n\n" + result.table.to_markdown()
    click.echo(markdown)
    (out_dir / f"{tag}.md").write_text(markdown + "\n")
    (out_dir / f"{tag}.json").write_text(json.dumps({**record, **result.table.to_dict()}, indent=1))
    if report and "image" in batch:
        from pose3d.viz.report import evaluation_report

        _, joints = predict(model, batch["image"], flip=flip)
        labels = [f"{names[a]}" for a in batch["activity"]]
        path = evaluation_report(out_dir / f"{tag}.png", batch["image"], joints, result.pred, result.gt,
                                 result.values["MPJPE"], labels)
        click.echo(f"wrote {path}")


def _h36m(model, config, info, data: Path, samples: int | None, flip: bool, what: str, stem: str):
    """Evaluate on the test subjects of a prepared Human3.6M set: (names, batch, result, tag, header, record)."""
    import numpy as np

    from pose3d.data.h36m.dataset import PreparedH36M
    from pose3d.data.h36m.names import ACTIONS
    from pose3d.data.h36m.store import PreparedSetError
    from pose3d.evaluate import evaluate, evaluate_prior

    try:
        ds = PreparedH36M(data)
        rows = ds.rows("test")
        if len(rows) == 0:
            raise PreparedSetError(f"{data} has no test samples ({ds.split.describe()})")
        if samples is not None and samples < len(rows):
            rows = rows[np.linspace(0, len(rows) - 1, samples).astype(np.int64)]
        prior = info["kind"] == "prior"
        batch = ds.samples(rows, config.cnn.input_size, images=not prior)
    except PreparedSetError as e:
        raise click.ClickException(str(e)) from None
    present = set(ds.subject[rows].tolist())
    subjects = " ".join(name for i, name in enumerate(ds.subject_names) if i in present)
    record = {"data": str(data), "layout": ds.manifest["options"]["layout"], "protocol_split": ds.split.to_dict(),
              "samples": int(len(rows))}
    frames = f"{len(rows)} test frames of {subjects} ({ds.split.describe()})"
    if prior:
        result, noisy = evaluate_prior(model, batch["pose_rel"], batch["activity"], ACTIONS, config.prior.noise_mm)
        header = (f"{what}: the pose prior denoising Human3.6M poses, {frames}; input noise {config.prior.noise_mm:g} mm "
                  f"(MPJPE of the noisy input {noisy:.1f} mm); mm")
        record |= {"noise_mm": config.prior.noise_mm, "noisy_input_mpjpe": noisy}
        return ACTIONS, batch, result, f"{stem}_h36m", header, record
    result = evaluate(model, batch, ACTIONS, flip=flip)
    mean = result.table.mean_over_groups
    header = (f"{what} on Human3.6M, {frames}{', flip test-time augmentation' if flip else ''}; mean over actions: "
              f"Protocol 1 (MPJPE) {mean['MPJPE']:.1f} mm, Protocol 2 (P-MPJPE) {mean['P-MPJPE']:.1f} mm; "
              f"mm, PCK3D/AUC in %")
    return ACTIONS, batch, result, f"{stem}_h36m{'_flip' if flip else ''}", header, record
