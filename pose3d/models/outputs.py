"""What the image models return, by name: ``PoseOutputs``.

Every image-to-pose model (``StructuredPoseNet``, ``DirectPoseNet``, ``HeatmapPoseNet``) returns one,
so consumers read ``out.pose`` or ``out.joints_2d`` whatever the model; the fields a model does not
have are None. The exported graph does not carry it: ``pose3d_export.fold``'s wrappers return plain
tensors for ONNX.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class PoseOutputs(NamedTuple):
    pose: torch.Tensor  # (B, 51) root-relative pose in PoseCodec units
    joints_2d: torch.Tensor  # (B, J, 2) in -1..1 crop units (pixel edges)
    code: torch.Tensor  # (B, D) what the image network regressed: the prior's latent code, else the pose
    confidence: torch.Tensor | None = None  # (B, J) 0..1, per 2D joint (the heatmap model)
    heatmaps: torch.Tensor | None = None  # (B, J, H, W) heatmap logits (the heatmap model)
