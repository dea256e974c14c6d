"""pose3d-eval: score a model on real labelled photos, on the synthetic test split, or on a prepared
Human3.6M set, always beside trivial baselines computed by the same code.

    pose3d-eval --real ../shared/realval                      # the shipped ONNX model on real photos
    pose3d-eval runs/default/finetune.pt --real ../shared/realval \
        --video sports2d_demo/cam01=../shared/media/sports2d/demo.mp4
    pose3d-eval runs/default/finetune.pt                      # synthetic test split: MPJPE, P-MPJPE, ...
    pose3d-eval runs/default/finetune.pt --flip --report
    pose3d-eval runs/h36m/finetune.pt --data prepared/h36m    # Protocol 1 (MPJPE) and 2 (P-MPJPE) per action
    pose3d-eval runs/h36m/prior.pt --data prepared/h36m       # the prior alone: denoising, per action
"""

from __future__ import annotations


import json
from pathlib import Path
from typing import Any

import click

from pose3d.data.posebank import SPLITS


def _videos(items: tuple[str, ...]) -> dict[str, Path]:
    out = {}
    for item in items:
        stream, sep, path = item.partition("=")
        if not sep or "/" not in stream or not path:
            raise click.BadParameter(f"takes SOURCE/VIEW=FILE (e.g. sports2d_demo/cam01=demo.mp4), got {item!r}",
                                     param_hint="--video")
        if not Path(path).is_file():
            raise click.BadParameter(f"{path}: no such file", param_hint="--video")
        out[stream] = Path(path)
    return out


@click.command(help="Evaluate a model beside trivial baselines: on real labelled photos (--real; an exported "
                    ".onnx file or a checkpoint, default the shipped model), on the synthetic test split, or on a "
                    "prepared Human3.6M set (--data; a checkpoint, or a prior).")
@click.argument("model", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--real", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder of labelled real photos in the realval format (labels.json + frames): 2D PCK, 3D "
                   "P-MPJPE, person finding, with the labelled box, the runtime's detector and tracking.")
@click.option("--video", "videos", multiple=True, metavar="SOURCE/VIEW=FILE",
              help="With --real: the video of one labelled stream, to score the runtime's tracking path on it "
                   "(repeatable).")
@click.option("--detector", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --real: the person detector (ONNX) for the detector and tracking rows (default: the shipped one).")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A prepared Human3.6M set (pose3d-prepare h36m): evaluate on its test subjects.")
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True, help="Synthetic split.")
@click.option("--samples", type=click.IntRange(1, 10_000_000), default=None,
              help="How many samples (synthetic default 2000; Human3.6M default: every prepared test frame).")
@click.option("--seed", type=int, default=None, help="Seed of the rendered set (default: the checkpoint's).")
@click.option("--bodies", type=click.Choice(["capsules", "anny"]), default=None,
              help="Synthetic people of the split (default: what the model was trained on).")
@click.option("--flip", is_flag=True, help="Average with the prediction on the mirrored crop.")
@click.option("--report", is_flag=True, help="Also save a picture of the best and worst predictions.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the tables (default: beside the checkpoint; with --real, ./pose3d-realval-<model>).")
def main(model: Path | None, real: Path | None, videos: tuple[str, ...], detector: Path | None, data: Path | None, split: str,
         samples: int | None, seed: int | None, bodies: str | None, flip: bool, report: bool, out_dir: Path | None) -> None:
    if real is not None:
        if data is not None:
            raise click.UsageError("--real and --data are two different evaluations: give one")
        return _real(model, real, _videos(videos), out_dir, detector)
    if videos or detector is not None:
        raise click.UsageError("--video and --detector need --real")
    if model is None or model.suffix == ".onnx":
        if data is not None or flip or report:
            raise click.UsageError("--data, --flip and --report take a training checkpoint; an exported model (or "
                                   "the shipped one) is scored on the synthetic split or with --real")
        return _synthetic_onnx(model, split, samples, seed, bodies, out_dir)
    checkpoint = model
    from pose3d.cli.extras import require

    require("torch", "pose3d-eval", "to run a checkpoint")
    if report:
        require("matplotlib", "pose3d-eval", "for --report")
    from pose3d.baselines import synthetic_mean_pose
    from pose3d.evaluate import baseline_evaluations, comparison_markdown, evaluate, predict
    from pose3d.models.codec import ImageCodec
    from pose3d.train.checkpoint import POSE_KINDS, load_model

    try:
        model_, config, info = load_model(checkpoint, kinds=("prior", *POSE_KINDS))
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    if info["kind"] == "prior" and data is None:
        raise click.ClickException(f"{checkpoint} holds the pose prior alone; evaluate an image model (latent, finetune, direct, heatmap, hmlatent, hmfinetune)")
    seed = config.seed if seed is None else seed
    codec = ImageCodec.of(config.input)
    what = f"{checkpoint} ({info['kind']}, stage {info['stage']}, step {info['step']})"
    record: dict[str, Any] = {"checkpoint": str(checkpoint), "kind": info["kind"], "stage": info["stage"], "step": info["step"],
                              "flip": flip}
    if data is None:
        from pose3d.data.synthetic import SynthConfig, SyntheticPoses

        samples = 2000 if samples is None else samples
        bodies = bodies or config.bodies
        ds = SyntheticPoses(SynthConfig(split=split, seed=seed, length=samples, crop=config.input.crop_spec(), bodies=bodies))
        batch = ds.render_all()
        names = ds.bank.activity_names
        result = evaluate(model_, batch, names, flip=flip, image_codec=codec)
        baselines = baseline_evaluations(synthetic_mean_pose(seed=seed, bodies=bodies), batch, names)
        tag = f"{checkpoint.stem}_{split}{'' if bodies == 'capsules' else '_' + bodies}{'_flip' if flip else ''}"
        header = (f"{what} on {samples} synthetic {split} crops of {bodies} people (seed {seed})"
                  f"{', flip test-time augmentation' if flip else ''}; mm, PCK3D/AUC in %")
        record |= {"split": split, "samples": samples, "seed": seed, "bodies": bodies}
    else:
        names, batch, result, tag, header, extra, baselines = _h36m(model_, config, info, data, samples, flip, what,
                                                                   checkpoint.stem)
        record |= extra
    out_dir = checkpoint.parent if out_dir is None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = header + "\n\n" + result.table.to_markdown()
    if baselines:
        markdown += ("\n\nBeside trivial baselines (same samples, same code):\n\n"
                     + comparison_markdown({"model": result.table, **{k: v.table for k, v in baselines.items()}}))
    click.echo(markdown)
    (out_dir / f"{tag}.md").write_text(markdown + "\n")
    record["baselines"] = {k: v.table.to_dict() for k, v in baselines.items()}
    (out_dir / f"{tag}.json").write_text(json.dumps({**record, **result.table.to_dict()}, indent=1))
    if report and "image" in batch:
        from pose3d.viz.report import evaluation_report

        _, joints = predict(model_, batch["image"], flip=flip, image_codec=codec)
        labels = [f"{names[a]}" for a in batch["activity"]]
        path = evaluation_report(out_dir / f"{tag}.png", batch["image"], joints, result.pred, result.gt,
                                 result.values["MPJPE"], labels)
        click.echo(f"wrote {path}")


def _synthetic_onnx(model: Path | None, split: str, samples: int | None, seed: int | None, bodies: str | None,
                    out_dir: Path | None) -> None:
    """An exported model (default: the shipped one) on the synthetic split, through the runtime's
    onnxruntime path, beside the baselines."""
    from pose3d.baselines import synthetic_mean_pose
    from pose3d.data.synthetic import SynthConfig, SyntheticPoses
    from pose3d.evaluate import baseline_evaluations, comparison_markdown, score_poses
    from pose3d.realval.evaluate import open_model
    from pose3d_runtime.model import ModelError
    from pose3d_runtime.pipeline import run_on_crops

    try:
        net = open_model(model)
    except ModelError as e:
        raise click.ClickException(str(e)) from None
    if seed is None:
        seed = int(net.info.training_config.get("seed", 0))
    bodies = bodies or str(net.info.training_config.get("bodies", "capsules"))  # what it was trained on
    samples = 2000 if samples is None else samples
    ds = SyntheticPoses(SynthConfig(split=split, seed=seed, length=samples, crop=net.info.crop, bodies=bodies))
    batch = ds.render_all()
    names = ds.bank.activity_names
    result = score_poses(run_on_crops(net, batch["image"])[0], batch, names)
    baselines = baseline_evaluations(synthetic_mean_pose(seed=seed, bodies=bodies), batch, names)
    name = Path(net.info.model_id.split(":")[0]).stem
    header = f"{net.describe()} on {samples} synthetic {split} crops of {bodies} people (seed {seed}); mm, PCK3D/AUC in %"
    markdown = (header + "\n\n" + result.table.to_markdown() + "\n\nBeside trivial baselines (same samples, same code):\n\n"
                + comparison_markdown({"model": result.table, **{k: v.table for k, v in baselines.items()}}))
    click.echo(markdown)
    out_dir = Path(f"pose3d-eval-{name}") if out_dir is None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{name}_{split}{'' if bodies == 'capsules' else '_' + bodies}"
    (out_dir / f"{tag}.md").write_text(markdown + "\n")
    record = {"model": net.info.model_id, "split": split, "samples": samples, "seed": seed, "bodies": bodies,
              "baselines": {k: v.table.to_dict() for k, v in baselines.items()}, **result.table.to_dict()}
    (out_dir / f"{tag}.json").write_text(json.dumps(record, indent=1))


def _real(model: Path | None, root: Path, videos: dict[str, Path], out_dir: Path | None, detector: Path | None) -> None:
    """``--real``: the whole real-photo evaluation (pose3d.realval) of an ONNX file or a checkpoint."""
    from pose3d.realval.evaluate import evaluate_real, open_model
    from pose3d.realval.labels import RealvalError
    from pose3d_runtime.model import ModelError

    if model is not None and model.suffix == ".pt":
        from pose3d.cli.extras import require

        require("torch", "pose3d-eval", "to run a checkpoint (an exported .onnx needs only the runtime)")
    try:
        net = open_model(model)
    except (ModelError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    out_dir = Path(f"pose3d-realval-{Path(net.info.model_id.split(':')[0]).stem}") if out_dir is None else out_dir
    try:
        rep = evaluate_real(net, root, out_dir, videos, progress=lambda m: click.echo(m, err=True), detector=detector)
    except (RealvalError, ModelError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(rep.markdown)
    for s in rep.result["skipped"]:
        click.echo(f"skipped {s['file']}: {s['reason']}", err=True)
    click.echo("wrote " + ", ".join(str(p) for p in rep.paths))


def _h36m(model, config, info, data: Path, samples: int | None, flip: bool, what: str, stem: str):
    """Evaluate on the test subjects of a prepared Human3.6M set: (names, batch, result, tag, header, record,
    baselines)."""
    import numpy as np

    from pose3d.data.h36m.dataset import PreparedH36M
    from pose3d.data.h36m.names import ACTIONS
    from pose3d.data.h36m.store import PreparedSetError
    from pose3d.evaluate import evaluate, evaluate_prior
    from pose3d.models.codec import ImageCodec

    try:
        ds = PreparedH36M(data)
        rows = ds.rows("test")
        if len(rows) == 0:
            raise PreparedSetError(f"{data} has no test samples ({ds.split.describe()})")
        if samples is not None and samples < len(rows):
            rows = rows[np.linspace(0, len(rows) - 1, samples).astype(np.int64)]
        prior = info["kind"] == "prior"
        batch = ds.samples(rows, config.input.input_size, images=not prior)
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
        return ACTIONS, batch, result, f"{stem}_h36m", header, record, {}
    result = evaluate(model, batch, ACTIONS, flip=flip, image_codec=ImageCodec.of(config.input))
    baselines = _h36m_baselines(ds, rows, batch, record)
    mean = result.table.mean_over_groups
    header = (f"{what} on Human3.6M, {frames}{', flip test-time augmentation' if flip else ''}; mean over actions: "
              f"Protocol 1 (MPJPE) {mean['MPJPE']:.1f} mm, Protocol 2 (P-MPJPE) {mean['P-MPJPE']:.1f} mm; "
              f"mm, PCK3D/AUC in %")
    return ACTIONS, batch, result, f"{stem}_h36m{'_flip' if flip else ''}", header, record, baselines


def _h36m_baselines(ds, test_rows, batch, record) -> dict:
    """The mean training pose of the prepared set's training subjects, in the camera frame and turned
    to each test pose's heading (where the bundled calibration knows the cameras)."""
    from pose3d.baselines import MeanPose
    from pose3d.data.h36m.names import ACTIONS
    from pose3d.evaluate import baseline_evaluations

    train = ds.rows("train")
    if len(train) == 0:
        record["baselines_note"] = "no training rows in the prepared set: no mean-pose baselines"
        return {}
    labels = ds.samples(train, images=False)
    R_train, R_test = ds.camera_rotations(train), ds.camera_rotations(test_rows)
    if R_train is None or R_test is None:
        record["baselines_note"] = "cameras not in the bundled calibration: no heading baseline"
        mean = MeanPose(labels["pose_rel"].astype("float64").mean(axis=0), labels["pose_rel"][0] * 0)
        return baseline_evaluations(mean, batch, ACTIONS)
    mean = MeanPose.fit(labels["pose_rel"], R_train)
    return baseline_evaluations(mean, {**batch, "R": R_test}, ACTIONS)


if __name__ == "__main__":
    main()
