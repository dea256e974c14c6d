"""The detector stage: the person detector (``pose3d.models.detector``) on synthetic detector frames.

Each step renders its frames (``pose3d.data.frames.DetectorFrames``: Anny people in rooms and on
photos, at every scale, cut by the border, a share of negatives), turns their boxes into heatmap,
size and offset targets and takes one step on the focal + L1 loss. Validation decodes the fixed
validation frames (the first ``val_samples`` of the val split) as the runtime would and reports the
average precision at IoU 0.5 and, at the configured score threshold, recall and precision, and the
share of negative frames with no detection. It needs training data with whole frames
(``TrainingData.frames``): the synthetic data (Human3.6M frames label one person, not everyone's boxes).

Trained on its own, outside the default stage set: ``pose3d-train --stage detector``.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from torch import nn

from pose3d.metrics import detection_scores
from pose3d.models.codec import ImageCodec
from pose3d.models.detector import DetectorOutputs, PersonDetector, decode, detector_loss, detector_targets
from pose3d.train.device import model_device
from pose3d.train.loop import Stage
from pose3d.train.names import StageSpec

VAL_SCORE_FLOOR = 0.02  # validation keeps detections down to this score, for the precision-recall curve
VAL_MAX_PEOPLE = 20
VAL_CHUNK = 32


def frame_tensors(batch: dict[str, np.ndarray], size: int, channels_last: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A batch of rendered frames -> normalised images (B, 3, S, S) and the loss's targets as tensors."""
    x = ImageCodec().encode(torch.from_numpy(batch["image"]))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    targets = detector_targets(batch["boxes"], batch["present"], batch["ignore"], size)
    return x, {k: torch.from_numpy(v) for k, v in targets.items()}


@torch.no_grad()
def detect(model: PersonDetector, images: np.ndarray, score_threshold: float, max_people: int,
           overlap_threshold: float, channels_last: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """(B, 3, S, S) uint8 frames -> per frame (boxes (N, 4), scores (N,)) through the exported units."""
    net = DetectorOutputs(model).eval()
    results = []
    for lo in range(0, len(images), VAL_CHUNK):
        x = ImageCodec().encode(torch.from_numpy(images[lo:lo + VAL_CHUNK])).to(model_device(model))
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        maps = [o.float().cpu().numpy() for o in net(x)]
        results += decode(*maps, score_threshold, max_people, overlap_threshold)
    return results


def detector_metrics(model: PersonDetector, frames: dict[str, np.ndarray], channels_last: bool = False) -> dict[str, float]:
    """AP at IoU 0.5 over ``frames`` (``DetectorFrames`` fields), recall and precision at the config's
    score threshold, the share of negative frames left without a detection at that threshold, and
    the best F1 score with its threshold (the exporter recommends that threshold)."""
    cfg = model.config
    found = detect(model, frames["image"], min(VAL_SCORE_FLOOR, cfg.score_threshold), VAL_MAX_PEOPLE,
                   cfg.overlap_threshold, channels_last)
    rows = []
    for (boxes, scores), truth, present, ignore in zip(found, frames["boxes"], frames["present"], frames["ignore"]):
        keep = present | ignore
        rows.append((boxes, scores, truth[keep], ignore[keep]))
    scores = detection_scores(rows, cfg.score_threshold)
    empty = [bool((s < cfg.score_threshold).all()) for (_, s), neg in zip(found, frames["negative"]) if neg]
    return {"ap50": scores["ap"], "recall": scores["recall"], "precision": scores["precision"],
            "negatives_clean": float(np.mean(empty)) if empty else float("nan"), "best_f1": scores["best_f1"],
            "f1_threshold": scores["best_f1_threshold"]}


def detector_stage(ctx, spec: StageSpec) -> Stage:  # ctx: pose3d.train.run.Context
    cfg = ctx.config
    model = ctx.device.prepare(PersonDetector(cfg.detector))
    stage_cfg = cfg.stage(spec.name)
    train = ctx.data.frames("train")
    size = cfg.detector.input_size

    def frames(step: int, offset: int, count: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        first = step * stage_cfg.batch_size + offset
        return frame_tensors(train.render_batch(range(first, first + count)), size, cfg.channels_last)

    def loss(m: nn.Module, step: int, offset: int, count: int) -> tuple[torch.Tensor, dict[str, float]]:
        make = partial(frames, offset=offset, count=count)
        x, targets = ctx.device.to(ctx.feed(("frames", offset, count), make)(step))
        with ctx.device.autocast():
            outputs = m(x)
        return detector_loss(outputs, targets, cfg.detector)

    val: dict[str, np.ndarray] = {}

    def validate(m: nn.Module) -> dict[str, float]:
        if not val:
            val.update(ctx.data.frames("val", cfg.val_samples).render_all())
        return detector_metrics(m, val, cfg.channels_last)

    return Stage(spec.name, spec.kind, model, list(model.parameters()), loss, validate)
