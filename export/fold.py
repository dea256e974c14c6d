"""The network the runtime runs: normalised crops in, millimetres and pixels out, folded.

``InferenceNet`` takes (B, 3, S, S) normalised crops and returns the root-relative 3D pose (B, 17, 3)
in mm (camera frame) and the 2D joints (B, 17, 2) in crop pixels. Two folds shrink it without
changing what it computes:
- the batch norm after the last pooling is an affine map per channel, folded into the first fully
  connected layer that reads its output;
- in the structured model the CNN's linear output (4096 -> latent code) and the prior's linear decoder
  (latent -> 51) are one matrix (4096 -> 51), which drops the 2000-wide layer from the graph.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from pose3d.models.cnn import PaperCNN, unit_to_crop
from pose3d.models.codec import PoseCodec
from pose3d.models.heatmap import HeatmapPoseNet
from pose3d.models.person import HeatmapPersonHead, PersonHead
from pose3d.models.stack import DirectPoseNet, StructuredPoseNet


def _fold_batchnorm_into_linear(bn: nn.BatchNorm2d, linear: nn.Linear, spatial: int) -> nn.Linear:
    """Linear(flatten(bn(x))) as one Linear(flatten(x)); flatten order is (C, H, W)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C,)
    shift = bn.bias - bn.running_mean * scale
    scale_in = scale.repeat_interleave(spatial)  # (C * H * W,)
    shift_in = shift.repeat_interleave(spatial)
    folded = nn.Linear(linear.in_features, linear.out_features)
    with torch.no_grad():
        folded.weight.copy_(linear.weight * scale_in[None, :])
        folded.bias.copy_(linear.bias + linear.weight @ shift_in)
    return folded


class InferenceNet(nn.Module):
    """Crops -> (pose mm, 2D joints px[, person probability]); the third output where a trained
    ``PersonHead`` is given (its first layer gets the batch norm folded in like the others)."""

    def __init__(self, model: StructuredPoseNet | DirectPoseNet, pose_codec: PoseCodec = PoseCodec(),
                 person: PersonHead | None = None) -> None:
        super().__init__()
        cnn: PaperCNN = model.cnn
        self.input_size = cnn.input_size
        self.scale_mm = pose_codec.scale_mm
        layers = list(cnn.features)
        bn = layers[-1]
        if not isinstance(bn, nn.BatchNorm2d):
            raise ValueError("expected the CNN features to end with batch norm")
        self.features = nn.Sequential(*copy.deepcopy(layers[:-1]))
        side = cnn.feature_dim // bn.num_features
        head = copy.deepcopy(list(cnn.head))
        head[0] = _fold_batchnorm_into_linear(bn, head[0], side)
        self.head = nn.Sequential(*[m for m in head if not isinstance(m, nn.Dropout)])
        head_2d = copy.deepcopy(list(cnn.head_2d))
        head_2d[0] = _fold_batchnorm_into_linear(bn, head_2d[0], side)
        self.head_2d = nn.Sequential(*head_2d)
        self.output_names = ("pose_mm", "joints_2d") + (("person",) if person is not None else ())
        self.person = None
        if person is not None:
            layers = copy.deepcopy(list(person.net))
            layers[0] = _fold_batchnorm_into_linear(bn, layers[0], side)
            self.person = nn.Sequential(*layers)
        out = cnn.out
        self.out = nn.Linear(out.in_features, pose_codec.dim)
        with torch.no_grad():
            if isinstance(model, StructuredPoseNet):
                W, b = model.decoder.decoder_affine()  # (51, latent), (51,)
                self.out.weight.copy_(W @ out.weight)
                self.out.bias.copy_(W @ out.bias + b)
            else:
                self.out.load_state_dict(out.state_dict())
        self.eval()

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        f = self.features(image).flatten(1)  # (B, C*H*W)
        pose = self.out(self.head(f)).unflatten(-1, (-1, 3)) * self.scale_mm  # (B, J, 3) mm
        pose = pose - pose[:, :1]
        joints = unit_to_crop(self.head_2d(f).unflatten(-1, (-1, 2)), self.input_size)  # (B, J, 2) px
        if self.person is None:
            return pose, joints
        return pose, joints, torch.sigmoid(self.person(f).squeeze(-1))  # (B,) probability


class HeatmapInferenceNet(nn.Module):
    """The 2D-evidence model (``HeatmapPoseNet``) with the runtime's outputs: pose in mm relative to
    the pelvis, 2D joints in crop pixels, joint confidences, and with a ``HeatmapPersonHead`` the
    person probability (from the same pass's encoder features). Nothing to fold: its batch norms sit
    between convolutions, where onnxruntime fuses them itself."""

    def __init__(self, model: HeatmapPoseNet, input_size: int, pose_codec: PoseCodec = PoseCodec(),
                 person: HeatmapPersonHead | None = None) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).eval()
        self.person = None if person is None else copy.deepcopy(person).eval()
        self.output_names = ("pose_mm", "joints_2d", "confidence") + (("person",) if person is not None else ())
        self.input_size = input_size
        self.scale_mm = pose_codec.scale_mm
        self.eval()  # the wrapper too: exporting restores the wrapper's mode onto every submodule

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.model.net2d.encode(image)
        out = self.model.from_logits(self.model.net2d.decode(*features))
        pose = out.pose.unflatten(-1, (-1, 3)) * self.scale_mm  # (B, J, 3) mm
        result = (pose - pose[:, :1], unit_to_crop(out.joints_2d, self.input_size), out.confidence)
        if self.person is None:
            return result
        return (*result, torch.sigmoid(self.person(self.model.net2d.pooled(*features))))  # (B,) probability


def inference_net(model: nn.Module, input_size: int, person: nn.Module | None = None) -> nn.Module:
    """The runtime's network for any image model of a checkpoint (``input_size``: its crops' side), with
    the person head that reads its features (``HeatmapPersonHead`` for the 2D-evidence model,
    ``PersonHead`` for the paper CNN), if given."""
    if isinstance(model, HeatmapPoseNet):
        if person is not None and not isinstance(person, HeatmapPersonHead):
            raise ValueError("this person head reads the paper CNN's features: the 2D-evidence model takes a "
                             "heatmap person head (pose3d-train --stage hmperson)")
        return HeatmapInferenceNet(model, input_size, person=person)
    if person is not None and not isinstance(person, PersonHead):
        raise ValueError("this person head reads the 2D-evidence model's features: the paper CNN takes a "
                         "person head of stage person")
    return InferenceNet(model, person=person)
