"""The image network of Tekin et al. (BMVC 2016), built from named parts.

``features``: conv 9x9 (36) -> max-pool 2 -> conv 5x5 (72) -> max-pool 2 -> conv 5x5 (72) -> max-pool 2
-> batch norm, on a 112 x 112 x 3 crop (valid convolutions: 104 -> 52 -> 48 -> 24 -> 20 -> 10), giving
(B, 72, 10, 10). ``head``: fully connected 512 -> 2048 -> 4096, each with ReLU and dropout 0.5, then a
linear output (the prior's latent code, or 51 numbers for direct regression). ``head_2d``: a small
head from the same features to 17 x 2 joint positions in crop coordinates (-1..1), for overlays and
tracking. About 0.63 GFLOP per image forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CNNConfig:
    """The CNN's architecture; its input size is the model's input contract's (``pose3d.contract``)."""

    channels: tuple[int, int, int] = (36, 72, 72)
    kernels: tuple[int, int, int] = (9, 5, 5)
    fc: tuple[int, ...] = (512, 2048, 4096)
    dropout: float = 0.5
    hidden_2d: int = 256
    num_joints: int = 17
    hidden_person: int = 64  # the person head (pose3d.models.person), trained after the rest


def feature_dim(config: CNNConfig, input_size: int = 112) -> int:
    """Length of the flattened convolutional features the heads read, on ``input_size`` crops."""
    side = input_size
    for k in config.kernels:
        side = (side - k + 1) // 2
    return config.channels[-1] * side * side


class PaperCNN(nn.Module):
    def __init__(self, out_dim: int, config: CNNConfig = CNNConfig(), input_size: int = 112) -> None:
        super().__init__()
        self.config = config
        self.input_size = input_size
        layers: list[nn.Module] = []
        c_in = 3
        for c, k in zip(config.channels, config.kernels):
            layers += [nn.Conv2d(c_in, c, k), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = c
        layers.append(nn.BatchNorm2d(c_in))
        self.features = nn.Sequential(*layers)
        self.feature_dim = feature_dim(config, input_size)
        fc: list[nn.Module] = []
        d = self.feature_dim
        for width in config.fc:
            fc += [nn.Linear(d, width), nn.ReLU(inplace=True), nn.Dropout(config.dropout)]
            d = width
        self.head = nn.Sequential(*fc)
        self.out = nn.Linear(d, out_dim)
        self.head_2d = nn.Sequential(
            nn.Linear(self.feature_dim, config.hidden_2d), nn.ReLU(inplace=True), nn.Linear(config.hidden_2d, 2 * config.num_joints)
        )

    def forward_features(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) normalised image -> (B, feature_dim)."""
        return self.features(image).flatten(1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) -> (B, out_dim)."""
        return self.out(self.head(features))

    def forward_2d(self, features: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) -> (B, J, 2) joints in crop coordinates, -1..1."""
        return self.head_2d(features).unflatten(-1, (self.config.num_joints, 2))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.forward_features(image)
        return self.forward_head(f), self.forward_2d(f)


def crop_to_unit(joints_px: torch.Tensor, size: int) -> torch.Tensor:
    """Crop pixels (0..size-1 centres) -> -1..1 (pixel edges), the 2D head's units."""
    return (joints_px + 0.5) * (2.0 / size) - 1.0


def unit_to_crop(joints_unit: torch.Tensor, size: int) -> torch.Tensor:
    return (joints_unit + 1.0) * (size / 2.0) - 0.5


def flops_per_image(config: CNNConfig = CNNConfig(), out_dim: int = 2000, input_size: int = 112) -> float:
    """Multiply-adds x 2 of one forward pass (convolutions and the 3D head)."""
    flops, c_in, side = 0.0, 3, input_size
    for c, k in zip(config.channels, config.kernels):
        conv = side - k + 1
        flops += 2 * conv * conv * c * k * k * c_in
        c_in, side = c, conv // 2
    d = c_in * side * side
    for width in config.fc + (out_dim,):
        flops += 2 * d * width
        d = width
    return flops
