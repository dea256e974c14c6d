"""The builders of the method's stages and its baseline (``pose3d.train.names`` says which is which).

(a) ``prior``: the denoising autoencoder on poses seen from random cameras;
(b) ``latent``: the CNN regresses the prior's latent code of each training pose;
(c) ``finetune``: the CNN and the prior's decoder, stacked, trained end to end on the 3D pose;
``direct``: the same CNN regressing the pose directly, with the budget of (b) and (c) together;
``heatmap``: the 2D-evidence model (``pose3d.models.heatmap``): joint heatmaps decoded by soft-argmax
(L1 on the 2D joints), lifted to the 3D pose (squared error), trained end to end;
``hmlatent``, ``hmfinetune``: (b) and (c) for the 2D-evidence model, whose lifter then regresses the
prior's latent code, decoded by the prior's decoder.
Every image stage also trains the small 2D-joint head (``loss_2d_weight``). The person head and the
detector have their own modules (``pose3d.train.person``, ``pose3d.train.detector``).

Each builder takes the run's ``Context`` (``pose3d.train.run``) and its ``StageSpec``, and reads the
training data only through ``pose3d.train.data.TrainingData``: synthetic or Human3.6M alike.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pose3d.evaluate import evaluate, summary_line
from pose3d.metrics import mpjpe
from pose3d.models.codec import PoseCodec
from pose3d.models.heatmap import HeatmapPoseNet
from pose3d.models.prior import PoseAutoencoder
from pose3d.models.stack import DirectPoseNet, StructuredPoseNet
from pose3d.train.checkpoint import load_model
from pose3d.train.lifter import start_lifter
from pose3d.train.loop import Stage, step_seed
from pose3d.train.names import StageSpec

if TYPE_CHECKING:
    from pose3d.train.run import Context

POSE = PoseCodec()
Batch = dict[str, torch.Tensor]


# -- (a) the pose prior ---------------------------------------------------------------------------


def prior_stage(ctx: "Context", spec: StageSpec) -> Stage:
    cfg = ctx.config
    model = ctx.device.prepare(PoseAutoencoder(cfg.prior))
    batch = cfg.prior_stage.batch_size
    noise = cfg.prior.noise_mm / POSE.scale_mm
    val_clean = ctx.data.prior_poses("val", 0, 2000)
    val_noisy = val_clean + noise * torch.randn(val_clean.shape, generator=torch.Generator().manual_seed(cfg.seed))
    val_clean, val_noisy = ctx.device.to((val_clean, val_noisy))

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        # The whole global batch and its noise are fixed by the step, whatever the number of processes.
        clean = ctx.data.prior_poses("train", step, batch)
        gen = torch.Generator().manual_seed(step_seed(cfg.seed, "prior-noise", step))
        noisy = (clean + noise * torch.randn(clean.shape, generator=gen))[offset : offset + size]
        noisy, clean = ctx.device.to((noisy, clean[offset : offset + size]))
        value = F.mse_loss(m(noisy), clean)
        if cfg.prior.contractive > 0:
            value = value + cfg.prior.contractive * model.contractive_penalty(noisy)
        return value, {}

    @torch.no_grad()
    def validate(m: nn.Module) -> dict[str, float]:
        m.eval()
        err = lambda a, b: float(mpjpe(POSE.decode(a), POSE.decode(b)).mean())  # noqa: E731
        noisy_err = err(val_noisy, val_clean)
        denoised_err = err(m(val_noisy), val_clean)
        return {"reconstruction_mm": err(m(val_clean), val_clean), "noisy_input_mm": noisy_err,
                "denoised_mm": denoised_err, "denoising_gain": 1.0 - denoised_err / noisy_err}

    return Stage(spec.name, spec.kind, model, list(model.parameters()), loss, validate)


# -- (b), (c), the baseline and the 2D-evidence model: the image stages ---------------------------


def image_batch(ctx: "Context", spec: StageSpec, step: int, offset: int, size: int) -> Batch:
    """This process's part of step ``step``'s training crops (made ahead by the run's data workers,
    if any), on the device and in its layout."""
    make = partial(ctx.data.images, batch_size=ctx.config.stage(spec.name).batch_size, offset=offset, size=size)
    batch = ctx.device.to(ctx.feed(("images", spec.name, offset, size), make)(step))
    return {**batch, "x": ctx.device.layout(batch["x"])}


def pose_validation(ctx: "Context") -> Callable[[nn.Module], dict[str, float]]:
    """Every metric of ``pose3d.evaluate`` on the fixed validation samples, mean over activities; for
    2D-evidence models trained with ``background_confidence``, also the pose score (mean joint
    confidence) on the validation crops and on their background twins (medians, and the AUC)."""

    def validate(m: nn.Module) -> dict[str, float]:
        result = evaluate(m, ctx.data.val_samples(), ctx.data.activity_names, image_codec=ctx.data.image_codec)
        line = summary_line(result.table)
        if ctx.config.background_confidence > 0:
            line.update(score_separation(ctx, m))
        return line

    return validate


@torch.no_grad()
def score_separation(ctx: "Context", m: nn.Module, chunk: int = 64) -> dict[str, float]:
    from pose3d.train.person import auc

    def scores(images: np.ndarray) -> np.ndarray:
        out = []
        for lo in range(0, len(images), chunk):
            x = ctx.device.to(ctx.data.image_codec.encode(torch.from_numpy(images[lo:lo + chunk])))
            with ctx.device.autocast():
                confidence = m(ctx.device.layout(x)).confidence
            if confidence is None:  # a model without joint confidences
                return np.zeros(0)
            out.append(confidence.float().mean(-1).cpu().numpy())
        return np.concatenate(out)

    m.eval()
    person, background = scores(ctx.data.val_samples()["image"]), scores(ctx.data.val_backgrounds())
    if not len(person):
        return {}
    return {"score_person_median": float(np.median(person)), "score_background_median": float(np.median(background)),
            "score_auc": auc(person, background)}


def image_stage(ctx: "Context", spec: StageSpec, model: nn.Module, parameters: Sequence[nn.Parameter],
                target: Callable[[Batch], torch.Tensor], output: str) -> Stage:
    """An image stage: the model's output ``output`` ("pose" or "code") regresses ``target(batch)``."""
    cfg = ctx.config
    model = ctx.device.prepare(model)

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = image_batch(ctx, spec, step, offset, size)
        with ctx.device.autocast():
            out = m(batch["x"])
        main = F.mse_loss(getattr(out, output).float(), target(batch))
        loss_2d = F.mse_loss(out.joints_2d.float(), batch["joints"])
        with torch.no_grad():
            err = float(mpjpe(POSE.decode(out.pose.float()), POSE.decode(batch["pose"])).mean())
        return main + cfg.loss_2d_weight * loss_2d, {"main": main.item(), "loss_2d": loss_2d.item(), "train_mpjpe_mm": err}

    return Stage(spec.name, spec.kind, model, list(parameters), loss, pose_validation(ctx))


def latent_stage(ctx: "Context", spec: StageSpec) -> Stage:
    prior, _, _ = load_model(ctx.checkpoint("prior"))
    model = StructuredPoseNet(prior, ctx.config.cnn, ctx.config.input.input_size)
    for p in model.decoder.parameters():
        p.requires_grad_(False)

    @torch.no_grad()
    def code(batch: Batch) -> torch.Tensor:
        return model.decoder.encode(batch["pose"])

    return image_stage(ctx, spec, model, model.cnn.parameters(), code, output="code")


def finetune_stage(ctx: "Context", spec: StageSpec) -> Stage:
    model, _, _ = load_model(ctx.checkpoint("latent"))
    model.train()
    # The whole stack learns the pose; the prior's encoder takes no part in it.
    for n, p in model.named_parameters():
        p.requires_grad_(not n.startswith("decoder.encoder"))
    params = [p for p in model.parameters() if p.requires_grad]
    return image_stage(ctx, spec, model, params, lambda b: b["pose"], output="pose")


def direct_stage(ctx: "Context", spec: StageSpec) -> Stage:
    model = DirectPoseNet(ctx.config.prior.input_dim, ctx.config.cnn, ctx.config.input.input_size)
    return image_stage(ctx, spec, model, model.parameters(), lambda b: b["pose"], output="pose")


def heatmap_loss(ctx: "Context", spec: StageSpec, target: Callable[[Batch], torch.Tensor], output: str) -> Callable:
    """The 2D-evidence models' loss: L1 on the 2D joints plus the squared error of the model's output
    ``output`` ("pose" or the prior's "code") against ``target(batch)``."""
    half_side = ctx.config.input.input_size / 2  # -1..1 crop units -> pixels
    weight = ctx.config.background_confidence

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = image_batch(ctx, spec, step, offset, size)
        x, keep = batch["x"], None
        if weight > 0:  # background crops in the same pass: batch norm sees the mixture it will see at run time
            bg, keep = background_crops(ctx, spec, step, offset, size)
            x = torch.cat([x, bg])
        with ctx.device.autocast():
            out = m(x)
        if keep is not None:
            confidence = out.confidence[size:].float().mean(-1)
            out = type(out)(*(None if f is None else f[:size] for f in out))
        loss_2d = F.l1_loss(out.joints_2d.float(), batch["joints"])
        loss_3d = F.mse_loss(getattr(out, output).float(), target(batch))
        with torch.no_grad():
            err = float(mpjpe(POSE.decode(out.pose.float()), POSE.decode(batch["pose"])).mean())
            err_px = float((out.joints_2d.float() - batch["joints"]).norm(dim=-1).mean()) * half_side
        parts = {"loss_2d": loss_2d.item(), f"loss_{'3d' if output == 'pose' else output}": loss_3d.item(),
                 "train_mpjpe_mm": err, "train_2d_px": err_px}
        total = loss_2d + loss_3d
        if keep is not None:
            bg = (confidence * keep).sum() / keep.sum().clamp(min=1.0)
            total = total + weight * bg
            parts["background_confidence"] = bg.item()
        return total, parts

    return loss


BACKGROUND_SHARE = 4  # background_confidence: one background crop for every this many person crops
EMPTY_COVERAGE = 0.01  # a background crop showing more of a person than this share of its pixels is left out


def background_crops(ctx: "Context", spec: StageSpec, step: int, offset: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This step's background crops (the first quarter of the step's scenes, cropped beside the person),
    on the device and in its layout, and (B,) 1 where a crop shows no other person of the scene, else 0."""
    count = max(1, size // BACKGROUND_SHARE)
    bg = ctx.device.to(ctx.data.background_batch(step, ctx.config.stage(spec.name).batch_size, offset, count))
    return ctx.device.layout(bg["x"]), (bg["coverage"] <= EMPTY_COVERAGE).float()


def heatmap_stage(ctx: "Context", spec: StageSpec) -> Stage:
    cfg = ctx.config
    net = HeatmapPoseNet(cfg.prior.input_dim, cfg.heatmap)
    start_lifter(ctx, net.lifter)  # from lifter.pt (stage lifter) when the folder has it and this stage starts afresh
    model = ctx.device.prepare(net)
    return Stage(spec.name, spec.kind, model, list(model.parameters()),
                 heatmap_loss(ctx, spec, lambda b: b["pose"], "pose"), pose_validation(ctx))


# -- the structured 2D-evidence model: the paper's structure on top of 2D evidence ----------------


def hmlatent_stage(ctx: "Context", spec: StageSpec) -> Stage:
    """As (b), for the 2D-evidence model: heatmaps -> 2D joints -> lifter -> the prior's latent code
    of each training pose (the prior frozen; L1 on the 2D joints as in stage heatmap)."""
    prior, _, _ = load_model(ctx.checkpoint("prior"), kinds=("prior",))
    model = ctx.device.prepare(HeatmapPoseNet(ctx.config.prior.input_dim, ctx.config.heatmap, prior=prior))
    for p in model.decoder.parameters():
        p.requires_grad_(False)

    @torch.no_grad()
    def code(batch: Batch) -> torch.Tensor:
        return model.decoder.encode(batch["pose"])

    params = [p for p in model.parameters() if p.requires_grad]
    return Stage(spec.name, spec.kind, model, params, heatmap_loss(ctx, spec, code, "code"), pose_validation(ctx))


def hmfinetune_stage(ctx: "Context", spec: StageSpec) -> Stage:
    """As (c), for the 2D-evidence model: heatmap net, lifter and the prior's decoder end to end on
    the 3D pose (the prior's encoder takes no part)."""
    model, _, _ = load_model(ctx.checkpoint("hmlatent"), kinds=("heatmap_prior",))
    model = ctx.device.prepare(model.train())
    for n, p in model.named_parameters():
        p.requires_grad_(not n.startswith("decoder.encoder"))
    params = [p for p in model.parameters() if p.requires_grad]
    return Stage(spec.name, spec.kind, model, params, heatmap_loss(ctx, spec, lambda b: b["pose"], "pose"),
                 pose_validation(ctx))
