"""Stage ``lifter``: the 2D-evidence model's lifter (``pose3d.models.heatmap.Lifter``) alone, trained on
label-only samples, and the start it gives stage ``heatmap``.

The lifter sees no pixels, so it can learn from labels alone: the true 2D joints of a training sample
(``TrainingData.labels``, no rendering, about 1,200 a second on 2 threads against about 500 rendered
crops) with simulated detector errors (``detection_noise``: per-sample jitter, a few outliers, a
confidence that falls with the error), regressing the 3D pose (squared error in PoseCodec units). A
lifter pretrained this way (``runs/lifter_anny``, the defaults) and swapped into the shipped model
lowered its real-photo P-MPJPE from 80.1 to 78.6 mm (into the one before: 87.1 to 85.0). Stage ``heatmap`` starts its lifter from ``lifter.pt`` when the run folder has one
(``start_lifter``); it does not need it.

Determinism: the samples of step s and their noise are fixed by (seed, s) for the whole global batch,
whatever the number of processes (each takes its slice), as in the other stages.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from pose3d.metrics import mpjpe
from pose3d.models.codec import PoseCodec
from pose3d.models.heatmap import Lifter
from pose3d.train.checkpoint import read_checkpoint
from pose3d.train.config import LifterNoise
from pose3d.train.device import model_device
from pose3d.train.folder import check_checkpoint
from pose3d.train.loop import Stage, step_seed
from pose3d.train.names import StageSpec

if TYPE_CHECKING:
    from pose3d.train.run import Context

POSE = PoseCodec()


def detection_noise(count: int, num_joints: int, noise: LifterNoise,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Simulated 2D-detector errors for ``count`` samples of ``num_joints`` joints, drawn from
    ``generator`` alone (not from the joints, so that a global batch's noise can be drawn whole and
    sliced between processes): ``shift`` (count, J, 2) to add to the true joints in -1..1 crop units,
    ``confidence`` (count, J) in 0..1 and ``outlier`` (count, J) bool.

    Each sample's joints move by a Gaussian of its own sigma ~ U(0, max_sigma); a joint is an outlier
    with probability ``outlier_fraction`` and then moves by a Gaussian of ``outlier_sigma`` instead.
    Confidence: confidence_base - confidence_slope * sigma + U(-jitter, jitter), times
    ``outlier_confidence`` for outliers, clipped to 0..1 (the heatmap net's confidence is the mass
    near its peak: lower where it is unsure)."""
    sigma = noise.max_sigma * torch.rand(count, 1, 1, generator=generator)
    jitter = sigma * torch.randn(count, num_joints, 2, generator=generator)
    outlier = torch.rand(count, num_joints, generator=generator) < noise.outlier_fraction
    far = noise.outlier_sigma * torch.randn(count, num_joints, 2, generator=generator)
    shift = torch.where(outlier[..., None], far, jitter)
    wobble = noise.confidence_jitter * (2.0 * torch.rand(count, num_joints, generator=generator) - 1.0)
    confidence = (noise.confidence_base - noise.confidence_slope * sigma[..., 0] + wobble).clamp(0.0, 1.0)
    confidence = torch.where(outlier, confidence * noise.outlier_confidence, confidence).clamp(0.0, 1.0)
    return shift, confidence, outlier


def simulate_detections(joints: torch.Tensor, noise: LifterNoise,
                        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, J, 2) true joints in crop units -> (noisy joints, confidence (B, J)), as a 2D detector
    might give them (``detection_noise``)."""
    shift, confidence, _ = detection_noise(joints.shape[0], joints.shape[1], noise, generator)
    return joints + shift.to(joints), confidence.to(joints)


def clean_confidence(joints: torch.Tensor, noise: LifterNoise) -> torch.Tensor:
    """(B, J) the confidence a noiseless detection gets in training (sigma 0, no jitter)."""
    return torch.full(joints.shape[:2], noise.confidence_base, dtype=joints.dtype, device=joints.device)


def lifter_stage(ctx: "Context", spec: StageSpec) -> Stage:
    cfg = ctx.config
    noise = cfg.lifter_noise
    joints_n = cfg.heatmap.num_joints
    batch = cfg.lifter_stage.batch_size
    model = ctx.device.prepare(Lifter(cfg.prior.input_dim, cfg.heatmap))

    # The fixed validation set: val-split labels, with noise drawn once from the seed.
    val = ctx.data.val_labels(cfg.lifter_val_samples)
    gen = torch.Generator().manual_seed(step_seed(cfg.seed, "lifter-val-noise", 0))
    val_noisy, val_conf = simulate_detections(val["joints"], noise, gen)
    val_pose_mm = POSE.decode(val["pose"])
    # The baseline to beat: the mean pose of as many training labels, whatever the input.
    mean_pose = ctx.data.labels(0, cfg.lifter_val_samples, 0, cfg.lifter_val_samples)["pose"].mean(0)

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        make = partial(ctx.data.labels, batch_size=batch, offset=offset, size=size)
        labels = ctx.feed(("labels", offset, size), make)(step)  # made ahead by the data workers, if any
        # The noise of the whole global batch is drawn from the step; this process takes its slice.
        gen = torch.Generator().manual_seed(step_seed(cfg.seed, "lifter-noise", step))
        shift, confidence, _ = detection_noise(batch, joints_n, noise, gen)
        where = model_device(m)
        joints = (labels["joints"] + shift[offset : offset + size]).to(where)
        pred = m(joints, confidence[offset : offset + size].to(where))
        target = labels["pose"].to(where)
        value = F.mse_loss(pred.float(), target)
        with torch.no_grad():
            err = float(mpjpe(POSE.decode(pred.float().cpu()), POSE.decode(labels["pose"])).mean())
        return value, {"train_mpjpe_mm": err}

    @torch.no_grad()
    def validate(m: nn.Module) -> dict[str, float]:
        m.eval()
        where = model_device(m)

        def error(joints: torch.Tensor, confidence: torch.Tensor) -> float:
            pred = m(joints.to(where), confidence.to(where)).float().cpu()
            return float(mpjpe(POSE.decode(pred), val_pose_mm).mean())

        noisy_mm = error(val_noisy, val_conf)
        clean_mm = error(val["joints"], clean_confidence(val["joints"], noise))
        mean_pose_mm = float(mpjpe(POSE.decode(mean_pose.expand_as(val["pose"])), val_pose_mm).mean())
        return {"noisy_mm": noisy_mm, "clean_mm": clean_mm, "mean_pose_mm": mean_pose_mm,
                "gain_over_mean_pose": 1.0 - noisy_mm / mean_pose_mm}

    return Stage(spec.name, spec.kind, model, list(model.parameters()), loss, validate)


def start_lifter(ctx: "Context", lifter: nn.Module) -> bool:
    """Load ``lifter.pt`` of the run folder into ``lifter`` (stage heatmap's) when there is one and the
    heatmap stage starts afresh; a resumed heatmap stage loads its own checkpoint, lifter included, so
    it is left alone. ``pose3d.train.folder.RunFolderError`` when lifter.pt was trained with another lifter architecture.
    Returns whether it loaded."""
    path = ctx.checkpoint("lifter")
    if ctx.checkpoint("heatmap").exists() or not path.exists():
        return False
    ckpt = read_checkpoint(path, kinds=("lifter",))
    check_checkpoint(path, ckpt, ctx.config)  # run() checked it already; a stage built alone is checked here
    lifter.load_state_dict(ckpt["model"])
    if ctx.procs.main:
        print(f"stage heatmap: the lifter starts from {path} (step {ckpt['step']})", flush=True)
    return True
