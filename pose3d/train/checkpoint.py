"""Checkpoints: written atomically, self-describing (kind, stage, step, the whole config), loadable
into a ready model with ``load_model``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pose3d.models.person import PersonHead
from pose3d.models.prior import PoseAutoencoder
from pose3d.models.stack import DirectPoseNet, StructuredPoseNet
from pose3d.train.config import TrainConfig, config_from_dict

FORMAT = 1
KINDS = ("prior", "structured", "direct", "person")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` so that a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError) as e:
        raise ValueError(f"{path}: not a readable checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or ckpt.get("kind") not in KINDS:
        raise ValueError(f"{path}: not a pose3d checkpoint")
    return ckpt


def build_model(kind: str, config: TrainConfig) -> nn.Module:
    if kind == "prior":
        return PoseAutoencoder(config.prior)
    if kind == "structured":
        return StructuredPoseNet(PoseAutoencoder(config.prior), config.cnn)
    if kind == "direct":
        return DirectPoseNet(config.prior.input_dim, config.cnn)
    if kind == "person":
        return PersonHead(config.cnn)
    raise ValueError(f"unknown model kind {kind!r}")


def load_model(path: str | Path) -> tuple[nn.Module, TrainConfig, dict[str, Any]]:
    """The model in a checkpoint (eval mode), its training config, and the checkpoint's other fields."""
    ckpt = read_checkpoint(path)
    config = config_from_dict(ckpt["config"])
    model = build_model(ckpt["kind"], config)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, config, {k: v for k, v in ckpt.items() if k not in ("model", "optimizer")}
