"""Checkpoints: written atomically, self-describing (kind, stage, step, the whole config), loadable
into a ready model with ``load_model``.

A checkpoint holds tensors and plain data only (dicts, lists, numbers, strings), and is read with
``torch.load(weights_only=True)``: a crafted file cannot run code when it is loaded, it is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pose3d.models.detector import PersonDetector
from pose3d.models.heatmap import HeatmapPoseNet, Lifter
from pose3d.models.person import HeatmapPersonHead, PersonHead
from pose3d.models.prior import PoseAutoencoder
from pose3d.models.stack import DirectPoseNet, StructuredPoseNet
from pose3d.train.config import TrainConfig, config_from_dict

FORMAT = 1
KINDS = ("prior", "structured", "direct", "lifter", "heatmap", "heatmap_prior", "person", "heatmap_person", "detector")
# The kinds that turn a crop into a pose (what evaluation, export and the runtime take);
# the heatmap ones also give each 2D joint a confidence.
POSE_KINDS = ("structured", "direct", "heatmap", "heatmap_prior")
HEATMAP_KINDS = ("heatmap", "heatmap_prior")

# The settings each kind's model is built from (``build_model``), as dotted names or whole tables:
# a checkpoint can be resumed, or built on, only under the same values. Settings that only training
# reads (dropout, the prior's noise, loss weights, decode thresholds) are not among them.
_PRIOR = ("prior.hidden", "prior.tied", "prior.input_dim")
_CNN = ("cnn.channels", "cnn.kernels", "cnn.fc", "cnn.hidden_2d", "cnn.num_joints")
_HEATMAP = ("heatmap.widths", "heatmap.blocks", "heatmap.decoder_widths", "heatmap.num_joints",
            "heatmap.lifter_hidden", "heatmap.lifter_blocks")
ARCHITECTURE: dict[str, tuple[str, ...]] = {
    "prior": _PRIOR,
    "structured": (*_PRIOR, *_CNN, "input"),
    "direct": ("prior.input_dim", *_CNN, "input"),
    "lifter": ("prior.input_dim", "heatmap.num_joints", "heatmap.lifter_hidden", "heatmap.lifter_blocks"),
    "heatmap": ("prior.input_dim", *_HEATMAP, "input"),
    "heatmap_prior": (*_PRIOR, *_HEATMAP, "input"),
    "person": (*_CNN, "cnn.hidden_person", "input"),
    "heatmap_person": (*_HEATMAP, "input"),
    "detector": ("detector.input_size", "detector.widths", "detector.blocks", "detector.neck_width"),
}


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` so that a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    payload = {k: (v if k in ("model", "optimizer") else _plain(v)) for k, v in payload.items()}
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def _plain(value: Any) -> Any:
    """``value`` as JSON-like plain data (NumPy scalars become floats, tuples lists) that the safe
    loader accepts."""
    return json.loads(json.dumps(value, default=float))


def read_checkpoint(path: str | Path, kinds: tuple[str, ...] = KINDS, mmap: bool = False) -> dict[str, Any]:
    """The checkpoint's dict; ValueError saying why for anything that is not a pose3d checkpoint of
    one of ``kinds`` (a corrupt file, another program's file, one that would need code to load).
    ``mmap``: map the tensors instead of reading them (cheap when only the other fields are needed)."""
    path = Path(path)
    try:
        with path.open("rb"):
            pass
    except OSError as e:
        raise ValueError(f"{path}: cannot read it ({e.strerror or e})") from None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError, ... on bad files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "Weights only load failed" in first or "Unsupported global" in str(e):
            reason = "it holds objects other than tensors and plain data; refused, since loading them could run code"
        else:
            reason = f"corrupt, truncated or not a PyTorch file: {type(e).__name__}: {first[:200]}"
        raise ValueError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or ckpt.get("kind") not in KINDS:
        raise ValueError(f"{path}: not a pose3d checkpoint")
    if ckpt["kind"] not in kinds:
        raise ValueError(f"{path}: holds a {ckpt['kind']!r} model (stage {ckpt.get('stage')}); "
                         f"this needs one of: {', '.join(kinds)}")
    return ckpt


def person_head_file(checkpoint: str | Path, kind: str) -> Path:
    """Where a pose checkpoint's person head is trained beside it: ``hmperson.pt`` for the 2D-evidence
    kinds, ``person.pt`` for the paper CNN."""
    return Path(checkpoint).parent / ("hmperson.pt" if kind in HEATMAP_KINDS else "person.pt")


def build_model(kind: str, config: TrainConfig) -> nn.Module:
    if kind == "prior":
        return PoseAutoencoder(config.prior)
    if kind == "structured":
        return StructuredPoseNet(PoseAutoencoder(config.prior), config.cnn, config.input.input_size)
    if kind == "direct":
        return DirectPoseNet(config.prior.input_dim, config.cnn, config.input.input_size)
    if kind == "lifter":
        return Lifter(config.prior.input_dim, config.heatmap)
    if kind == "heatmap":
        return HeatmapPoseNet(config.prior.input_dim, config.heatmap)
    if kind == "heatmap_prior":
        return HeatmapPoseNet(config.prior.input_dim, config.heatmap, prior=PoseAutoencoder(config.prior))
    if kind == "person":
        return PersonHead(config.cnn, config.input.input_size)
    if kind == "heatmap_person":
        return HeatmapPersonHead(config.heatmap)
    if kind == "detector":
        return PersonDetector(config.detector)
    raise ValueError(f"unknown model kind {kind!r}")


def load_model(path: str | Path, kinds: tuple[str, ...] = KINDS) -> tuple[nn.Module, TrainConfig, dict[str, Any]]:
    """The model in a checkpoint (eval mode), its training config, and the checkpoint's other fields;
    ValueError saying why when the file is not a pose3d checkpoint of one of ``kinds``."""
    ckpt = read_checkpoint(path, kinds)
    try:
        config = config_from_dict(ckpt["config"])
        model = build_model(ckpt["kind"], config)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: a damaged pose3d checkpoint ({type(e).__name__}: {first[:200]})") from None
    model.eval()
    return model, config, {k: v for k, v in ckpt.items() if k not in ("model", "optimizer")}
