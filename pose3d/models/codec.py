"""Normalisation between poses in millimetres and the numbers the networks see.

A ``PoseCodec`` owns the units: root-relative poses (..., 17, 3) in mm <-> flat vectors (..., 51)
in metres (so that the paper's 40 mm noise is 0.04). An ``ImageCodec`` owns the image input:
(B, 3, H, W) uint8 RGB -> float, minus a mean, over a standard deviation, per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pose3d.contract import IMAGENET_MEAN, IMAGENET_STD, InputContract
from pose3d.skeleton import H36M17


@dataclass(frozen=True)
class PoseCodec:
    scale_mm: float = 1000.0
    num_joints: int = H36M17.num_joints

    @property
    def dim(self) -> int:
        return 3 * self.num_joints

    def encode(self, pose_rel_mm: torch.Tensor) -> torch.Tensor:
        """(..., J, 3) mm -> (..., 3J)."""
        return pose_rel_mm.flatten(-2) / self.scale_mm

    def decode(self, vector: torch.Tensor) -> torch.Tensor:
        """(..., 3J) -> (..., J, 3) mm."""
        return vector.unflatten(-1, (self.num_joints, 3)) * self.scale_mm


@dataclass(frozen=True)
class ImageCodec:
    """The pixel normalisation of an input contract (``ImageCodec.of(contract)``)."""

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def of(cls, contract: InputContract) -> "ImageCodec":
        return cls(tuple(contract.mean), tuple(contract.std))

    def encode(self, image_uint8: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) uint8 RGB -> normalised float32."""
        mean = torch.tensor(self.mean, device=image_uint8.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=image_uint8.device).view(1, 3, 1, 1)
        return (image_uint8.float() / 255.0 - mean) / std
