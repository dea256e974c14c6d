"""Run a trained image-to-pose model on crops and score it.

``predict`` turns (B, 3, S, S) uint8 crops into root-relative camera-frame poses in mm (and 2D joints
in crop pixels), optionally averaging with the prediction on the mirrored crop (flip test-time
augmentation). ``evaluate`` scores a model on a set of samples with every metric of
``pose3d.metrics``, per activity; ``evaluate_prior`` scores the pose prior alone (denoising).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from pose3d.baselines import MeanPose
from pose3d.metrics import Table, evaluate as metric_values, format_metric, summarize
from pose3d.models.cnn import unit_to_crop
from pose3d.models.codec import ImageCodec, PoseCodec
from pose3d.skeleton import H36M17, mirror
from pose3d.train.device import model_device


@torch.no_grad()
def predict(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    flip: bool = False,
    batch_size: int = 128,
    image_codec: ImageCodec = ImageCodec(),
    pose_codec: PoseCodec = PoseCodec(),
) -> tuple[np.ndarray, np.ndarray]:
    """(B, 3, S, S) uint8 crops -> (B, 17, 3) root-relative poses in mm (camera frame) and
    (B, 17, 2) joints in crop pixels."""
    model.eval()
    images = torch.as_tensor(images)
    size = images.shape[-1]
    device = model_device(model)  # CPU or GPU
    poses, joints = [], []
    for lo in range(0, len(images), batch_size):
        x = image_codec.encode(images[lo : lo + batch_size]).to(device)
        out = model(x)
        pose = pose_codec.decode(out.pose.float())
        j2d = unit_to_crop(out.joints_2d.float(), size)
        if flip:
            out_f = model(torch.flip(x, dims=[-1]))
            # The mirrored crop shows the mirrored person: mirror its answer back (x -> -x, L <-> R).
            pose = 0.5 * (pose + mirror(pose_codec.decode(out_f.pose.float())))
            j2d_f = unit_to_crop(out_f.joints_2d.float(), size)[:, list(H36M17.mirror_permutation)]
            j2d_f[..., 0] = size - 1 - j2d_f[..., 0]
            j2d = 0.5 * (j2d + j2d_f)
        poses.append((pose - pose[:, :1]).cpu())
        joints.append(j2d.cpu())
    return torch.cat(poses).numpy(), torch.cat(joints).numpy()


@dataclass(frozen=True)
class Evaluation:
    table: Table
    values: dict[str, np.ndarray]  # metric -> (N,) per sample
    pred: np.ndarray  # (N, 17, 3) mm
    gt: np.ndarray  # (N, 17, 3) mm


def evaluate(
    model: nn.Module,
    samples: dict[str, np.ndarray],
    activity_names: Sequence[str],
    flip: bool = False,
    image_codec: ImageCodec = ImageCodec(),
) -> Evaluation:
    """Score ``model`` on samples (``image``, ``pose_rel`` mm, ``activity``), per activity;
    ``image_codec``: the model's input contract's normalisation."""
    pred, _ = predict(model, samples["image"], flip=flip, image_codec=image_codec)
    return score_poses(pred, samples, activity_names)


def score_poses(pred: np.ndarray, samples: dict[str, np.ndarray], activity_names: Sequence[str]) -> Evaluation:
    """Score (N, 17, 3) root-relative predictions (mm) against ``samples`` (``pose_rel``,
    ``activity``), per activity: the one scoring path for models and baselines alike."""
    gt = samples["pose_rel"].astype(np.float64)
    values = metric_values(np.asarray(pred, dtype=np.float64), gt)
    labels = np.asarray(activity_names)[samples["activity"]]
    table = summarize(values, labels, order=list(activity_names), group_by="activity")
    return Evaluation(table, values, np.asarray(pred), gt)


def baseline_evaluations(mean_pose: MeanPose, samples: dict[str, np.ndarray], activity_names: Sequence[str]
                         ) -> dict[str, Evaluation]:
    """The trivial baselines (``pose3d.baselines``) scored like a model: the mean training pose in the
    camera frame, and (where the samples carry their cameras' ``R``) turned to the true heading."""
    gt = samples["pose_rel"]
    out = {"mean training pose, camera frame": score_poses(mean_pose.in_camera(len(gt)), samples, activity_names)}
    if "R" in samples:
        out["mean training pose turned to the true heading"] = score_poses(
            mean_pose.turned(gt, samples["R"]), samples, activity_names)
    return out


def comparison_markdown(rows: dict[str, Table]) -> str:
    """One line per predictor: each metric's mean over groups (the headline of each table)."""
    metrics = next(iter(rows.values())).metrics
    lines = ["| predictor (mean over groups) | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for name, t in rows.items():
        lines.append(f"| {name} | " + " | ".join(format_metric(m, t.mean_over_groups[m]) for m in metrics) + " |")
    return "\n".join(lines)


@torch.no_grad()
def evaluate_prior(
    model: nn.Module, pose_rel: np.ndarray, activity: np.ndarray, activity_names: Sequence[str], noise_mm: float,
    seed: int = 0, pose_codec: PoseCodec = PoseCodec(),
) -> tuple[Evaluation, float]:
    """Score a pose prior on (N, 17, 3) root-relative poses (mm): its output for each pose plus Gaussian
    noise of ``noise_mm`` (fixed by ``seed``) against the clean pose, per activity. Also returns the
    mean MPJPE of the noisy input, the figure to beat."""
    model.eval()
    clean = torch.from_numpy(np.asarray(pose_rel, dtype=np.float32))
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed)) * noise_mm
    pred = pose_codec.decode(model(pose_codec.encode(clean + noise))).numpy().astype(np.float64)
    gt = clean.numpy().astype(np.float64)
    values = metric_values(pred, gt)
    table = summarize(values, np.asarray(activity_names)[activity], order=list(activity_names), group_by="activity")
    noisy_mm = float(metric_values((clean + noise).numpy().astype(np.float64), gt, ["MPJPE"])["MPJPE"].mean())
    return Evaluation(table, values, pred, gt), noisy_mm


def summary_line(table: Table) -> dict[str, Any]:
    """Mean over activities of every metric, rounded for logs."""
    return {k: round(v, 4) for k, v in table.mean_over_groups.items()}
