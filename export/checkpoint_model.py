"""A training checkpoint behind the runtime's model interface, so it can be scored by the same code.

``CheckpointModel`` runs the network that ``pose3d-export`` would write (``InferenceNet``) in PyTorch
and describes itself with the same metadata the ONNX file would carry, parsed by the runtime's own
reader (``ModelInfo.from_metadata``): a checkpoint and its export cannot disagree on the input
contract. It quacks like ``pose3d_runtime.model.PoseModel``: ``info``, ``provider``, ``has_person``,
``score_kind``, ``__call__(x)``, ``describe()``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pose3d.train.checkpoint import POSE_KINDS, load_model, person_head_file
from pose3d_export.fold import inference_net
from pose3d_export.onnx_export import _config_dict, metadata
from pose3d_runtime.model import ModelInfo, score_kind


class CheckpointModel:
    def __init__(self, checkpoint: str | Path, person: str | Path | None = None) -> None:
        checkpoint = Path(checkpoint)
        model, config, info = load_model(checkpoint, kinds=POSE_KINDS)
        head, person_meta = None, None
        if person is None and person_head_file(checkpoint, info["kind"]).is_file():
            person = person_head_file(checkpoint, info["kind"])
        if person is not None:
            head, _, person_info = load_model(person, kinds=("person", "heatmap_person"))
            person_meta = {"source_checkpoint": Path(person).name, "step": int(person_info["step"])}
        self.net = inference_net(model, config.input.input_size, person=head).eval()
        meta = metadata(checkpoint, info, json.loads(json.dumps(_config_dict(config))), config.input, person_meta)
        self.info = ModelInfo.from_metadata(meta, checkpoint)
        self.score_kind = score_kind(list(self.net.output_names))
        self.has_person = self.score_kind is not None  # a person head, or joint confidences
        self.provider = "PyTorch CPU"

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(B, 3, S, S) normalised crops -> (B, J, 3) mm, (B, J, 2) crop px, (B,) person probability
        or None: as ``PoseModel.__call__``."""
        out = self.net(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
        pose, joints = out[0].numpy(), out[1].numpy()
        if not self.has_person:
            return pose, joints, None
        score = out[2].numpy()
        return pose, joints, (score.mean(axis=-1) if score.ndim == 2 else score)  # confidences: their mean

    def describe(self) -> str:
        return f"{self.info.model_id} on {self.provider}"
