"""The structured pose prior: an overcomplete denoising autoencoder over root-relative poses.

Input: a (B, 51) pose vector (``PoseCodec``), corrupted with Gaussian noise in training; target: the
clean pose. The encoder maps a pose to a high-dimensional code (2000 ReLU units by default, or a
stack such as 300-300), the decoder back linearly. Optional tied weights (decoder = encoder
transposed, one hidden layer only) and the paper's contractive penalty (the squared Frobenius norm of
the encoder's Jacobian, closed form for one ReLU layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class PriorConfig:
    hidden: tuple[int, ...] = (2000,)
    noise_mm: float = 40.0
    tied: bool = False
    contractive: float = 0.0  # weight of the contractive penalty (the paper used a small one)
    input_dim: int = 51


class PoseAutoencoder(nn.Module):
    def __init__(self, config: PriorConfig = PriorConfig()) -> None:
        super().__init__()
        if config.tied and len(config.hidden) != 1:
            raise ValueError("tied weights need exactly one hidden layer")
        self.config = config
        dims = (config.input_dim,) + tuple(config.hidden)
        self.encoder_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        if config.tied:
            self.decoder_bias = nn.Parameter(torch.zeros(config.input_dim))
            self.decoder = None
        else:
            self.decoder = nn.Linear(config.hidden[-1], config.input_dim)  # linear: no activation

    @property
    def latent_dim(self) -> int:
        return self.config.hidden[-1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 51) -> (B, latent_dim) code (after the last ReLU)."""
        for layer in self.encoder_layers:
            x = F.relu(layer(x))
        return x

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> (B, 51); linear, so a decoder can be folded into a preceding linear layer."""
        if self.decoder is None:
            return F.linear(code, self.encoder_layers[0].weight.t(), self.decoder_bias)
        return self.decoder(code)

    def decoder_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(51, latent_dim) weight and (51,) bias of the linear decoder."""
        if self.decoder is None:
            return self.encoder_layers[0].weight.t(), self.decoder_bias
        return self.decoder.weight, self.decoder.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def contractive_penalty(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of ||d code / d x||_F^2, closed form for one ReLU layer
        (sum_j relu'(a_j) ||W_j||^2); for deeper encoders, of the first layer."""
        layer = self.encoder_layers[0]
        active = (layer(x) > 0).float()  # (B, H)
        return (active * layer.weight.pow(2).sum(1)).sum(1).mean()
