"""The person stage: a head that tells a person crop from a background crop, on the frozen pose network.

Each step renders this step's training crops twice: as usual (a person, label 1) and cropped where
the person is not (``SyntheticPoses.render_background_batch``: the same scene, label 0). The fine-tuned
(else the direct) network, frozen in eval mode, turns both into convolutional features; only
``PersonHead`` learns, with binary cross-entropy. Validation: AUC and accuracy at 0.5 on the fixed
validation crops against their background twins. Synthetic data only: prepared Human3.6M crops all
hold a person, so there are no negatives to learn from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pose3d.models.person import PersonHead
from pose3d.train.checkpoint import load_model
from pose3d.train.loop import Stage



def pose_network_path(ctx) -> Path:
    for name in ("finetune", "direct"):
        path = ctx.out_dir / f"{name}.pt"
        if path.exists():
            return path
    raise FileNotFoundError(f"stage 'person' needs {ctx.out_dir / 'finetune.pt'} (or direct.pt): train it first")


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The chance a positive scores higher than a negative (ties count half)."""
    p, n = positive[:, None], negative[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def person_stage(ctx) -> Stage:  # ctx: pose3d.train.stages.Context
    if ctx.h36m is not None:
        raise ValueError("stage 'person' trains on the synthetic data only (prepared Human3.6M crops have no "
                         "background crops to learn from)")
    cfg = ctx.config
    pose_net, _, _ = load_model(pose_network_path(ctx))
    pose_net = ctx.prepare(pose_net).eval()
    for p in pose_net.parameters():
        p.requires_grad_(False)
    head = PersonHead(cfg.cnn, ctx.input_size)
    stage_cfg = cfg.stage("person")

    def encode(images: np.ndarray) -> torch.Tensor:
        x = ctx.image_codec.encode(torch.from_numpy(images))
        return x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x

    @torch.no_grad()
    def features(images: np.ndarray) -> torch.Tensor:
        with ctx.autocast():
            return pose_net.cnn.forward_features(encode(images)).float()

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        first = step * stage_cfg.batch_size + offset
        idx = range(first, first + size)
        f = torch.cat([features(ctx.train_data.render_batch(idx)["image"]),
                       features(ctx.train_data.render_background_batch(idx)["image"])])
        target = torch.cat([torch.ones(size), torch.zeros(size)])
        logits = m(f)
        value = F.binary_cross_entropy_with_logits(logits, target)
        accuracy = float(((logits > 0).float() == target).float().mean())
        return value, {"accuracy": accuracy}

    val_cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def validate(m: nn.Module) -> dict[str, float]:
        if not val_cache:
            val_cache["pos"] = features(ctx.val_samples()["image"])
            val_cache["neg"] = features(ctx.val_dataset().render_background_batch(range(cfg.val_samples))["image"])
        m.eval()
        pos = torch.sigmoid(m(val_cache["pos"])).numpy()
        neg = torch.sigmoid(m(val_cache["neg"])).numpy()
        return {"auc": auc(pos, neg), "accuracy": float(((pos > 0.5).sum() + (neg <= 0.5).sum()) / (len(pos) + len(neg))),
                "person_median": float(np.median(pos)), "background_median": float(np.median(neg))}

    return Stage("person", "person", head, list(head.parameters()), loss, validate)
