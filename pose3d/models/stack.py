"""The two complete image-to-pose models: the structured stack and the direct-regression baseline.

Both return ``PoseOutputs`` (``pose3d.models.outputs``): ``pose``, the root-relative pose vector (B, 51)
in ``PoseCodec`` units; ``joints_2d``, the 2D joints (B, J, 2) in -1..1 crop units; ``code``, the latent
code the CNN regressed (the pose vector itself for the baseline).
"""

from __future__ import annotations

import torch
from torch import nn

from pose3d.models.cnn import CNNConfig, PaperCNN
from pose3d.models.outputs import PoseOutputs
from pose3d.models.prior import PoseAutoencoder


class StructuredPoseNet(nn.Module):
    """CNN -> the prior's latent code -> the prior's (linear) decoder -> pose (Tekin et al.)."""

    def __init__(self, prior: PoseAutoencoder, cnn_config: CNNConfig = CNNConfig(), input_size: int = 112) -> None:
        super().__init__()
        self.cnn = PaperCNN(prior.latent_dim, cnn_config, input_size)
        self.decoder = prior  # only its decoder is used; the encoder is kept to encode targets

    def forward(self, image: torch.Tensor) -> PoseOutputs:
        code, joints_2d = self.cnn(image)
        return PoseOutputs(pose=self.decoder.decode(code), joints_2d=joints_2d, code=code)


class DirectPoseNet(nn.Module):
    """The same CNN regressing the 51 pose numbers directly (Li & Chan style baseline)."""

    def __init__(self, pose_dim: int = 51, cnn_config: CNNConfig = CNNConfig(), input_size: int = 112) -> None:
        super().__init__()
        self.cnn = PaperCNN(pose_dim, cnn_config, input_size)

    def forward(self, image: torch.Tensor) -> PoseOutputs:
        pose, joints_2d = self.cnn(image)
        return PoseOutputs(pose=pose, joints_2d=joints_2d, code=pose)
