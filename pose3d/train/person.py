"""The person stages: a head that tells a person crop from a background crop, on the frozen pose network.

Each step renders this step's training crops twice: as usual (a person, label 1) and cropped where
the person is not (``SyntheticPoses.render_background_batch``: the same scene, label 0; crops that
show another person of the scene are left out) and, half as many, zoomed onto a part of the person
(``SyntheticPoses.render_part_batch``: a hand, a foot, a face filling the crop, label 0; the runtime's
proposals include such boxes, and a head that saw only whole people and empty scenes called a real
foot a person). The frozen network, in eval mode, turns them into features; only the head learns,
with binary cross-entropy. Stage ``person``: ``PersonHead`` on the
fine-tuned (else the direct) paper CNN's convolutional features. Stage ``hmperson``:
``HeatmapPersonHead`` on the 2D-evidence network's pooled encoder features (``heatmap.pt``, else
``hmfinetune.pt``); exported beside the joint confidences, its probability becomes the pose score.
Validation: AUC and accuracy at 0.5 on the fixed validation crops against their background and
part twins, and the AUC against the parts alone. It needs training data that can make background
crops (``TrainingData.backgrounds``): the synthetic data; prepared Human3.6M crops all hold a person.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pose3d.models.person import HeatmapPersonHead, PersonHead
from pose3d.train.checkpoint import HEATMAP_KINDS, load_model
from pose3d.train.loop import Stage
from pose3d.train.names import StageSpec
from pose3d.train.stages import EMPTY_COVERAGE

PART_SHARE = 2  # one part crop for every this many person crops


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The chance a positive scores higher than a negative (ties count half)."""
    p, n = positive[:, None], negative[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def person_stage(ctx, spec: StageSpec) -> Stage:  # ctx: pose3d.train.run.Context
    """The head on the paper CNN's features (the fine-tuned, else the direct network)."""
    cfg = ctx.config
    pose_net, _, _ = load_model(ctx.built_on(spec))
    return head_stage(ctx, spec, pose_net, lambda net, x: net.cnn.forward_features(x),
                      PersonHead(cfg.cnn, cfg.input.input_size))


def hmperson_stage(ctx, spec: StageSpec) -> Stage:
    """The head on the 2D-evidence network's pooled encoder features (``HeatmapNet.pooled``)."""
    pose_net, _, _ = load_model(ctx.built_on(spec), kinds=HEATMAP_KINDS)
    return head_stage(ctx, spec, pose_net, lambda net, x: net.net2d.pooled(*net.net2d.encode(x)),
                      HeatmapPersonHead(ctx.config.heatmap))


def head_stage(ctx, spec: StageSpec, pose_net: nn.Module, read: Callable[[nn.Module, torch.Tensor], torch.Tensor],
               head: nn.Module) -> Stage:
    """Train ``head`` on ``read(pose_net, crops)`` features of the frozen ``pose_net``: person crops
    (label 1) against their background twins (label 0), binary cross-entropy."""
    cfg = ctx.config
    pose_net = ctx.device.prepare(pose_net).eval()
    for p in pose_net.parameters():
        p.requires_grad_(False)
    head = ctx.device.prepare(head)
    batch_size = cfg.stage(spec.name).batch_size

    @torch.no_grad()
    def features(x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) normalised crops -> (B, feature_dim) of the frozen network."""
        with ctx.device.autocast():
            return read(pose_net, ctx.device.layout(x)).float()

    def encode(images: np.ndarray) -> torch.Tensor:
        return ctx.data.image_codec.encode(torch.from_numpy(images))

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        bg = ctx.data.background_batch(step, batch_size, offset, size)
        empty = bg["x"][bg["coverage"] <= EMPTY_COVERAGE]  # a crop showing another person is no negative
        parts = ctx.data.part_batch(step, batch_size, offset, max(1, size // PART_SHARE))
        f = torch.cat([features(ctx.data.images(step, batch_size, offset, size)["x"]), features(empty), features(parts)])
        target = ctx.device.to(torch.cat([torch.ones(size), torch.zeros(len(empty) + len(parts))]))
        logits = m(f)
        value = F.binary_cross_entropy_with_logits(logits, target)
        accuracy = float(((logits > 0).float() == target).float().mean())
        return value, {"accuracy": accuracy}

    val_cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def validate(m: nn.Module) -> dict[str, float]:
        if not val_cache:
            val_cache["pos"] = features(encode(ctx.data.val_samples()["image"]))
            val_cache["neg"] = features(encode(ctx.data.val_backgrounds()))
            val_cache["part"] = features(encode(ctx.data.val_parts()))
        m.eval()
        pos, bg, part = (torch.sigmoid(m(val_cache[k])).float().cpu().numpy() for k in ("pos", "neg", "part"))
        neg = np.concatenate([bg, part])
        return {"auc": auc(pos, neg), "accuracy": float(((pos > 0.5).sum() + (neg <= 0.5).sum()) / (len(pos) + len(neg))),
                "part_auc": auc(pos, part), "person_median": float(np.median(pos)),
                "background_median": float(np.median(bg)), "part_median": float(np.median(part))}

    return Stage(spec.name, spec.kind, head, list(head.parameters()), loss, validate)
