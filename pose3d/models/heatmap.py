"""A network that gives 2D evidence first: per-joint heatmaps, decoded differentiably, lifted to 3D.

``HeatmapNet``: a small fully convolutional encoder-decoder for the CPU (3x3 convolutions with batch
norm, residual blocks, strides 2-4-8-16, then two upsampling steps with skips back to stride 4),
ending in one heatmap per joint at a quarter of the input's side. Each heatmap is a spatial softmax;
its expectation over the cell centres is the joint's 2D position (integral regression, Sun et al.
2018) in the 2D head's units (-1..1 over the crop), and the probability mass around its peak is the
joint's confidence (0..1).

``Lifter``: 2D joints and confidences -> 3D pose, a residual MLP (Martinez et al. 2017 style). It
sees no pixels, so it can learn from pose-bank poses projected through sampled cameras alone.

``HeatmapPoseNet`` stacks them and returns ``PoseOutputs`` like the other image models (``code`` is
the pose), with ``confidence`` and ``heatmaps`` filled in. Given a pose prior (``PoseAutoencoder``),
it is the structured version of the 2D-evidence model: the lifter regresses the prior's latent code
and the prior's linear decoder turns it into the pose (Tekin et al.'s structure on top of 2D
evidence; stages ``hmlatent`` and ``hmfinetune``). About 0.95 GFLOP per 128 x 128 crop (``flops_per_image``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pose3d.models.outputs import PoseOutputs
from pose3d.models.prior import PoseAutoencoder


@dataclass(frozen=True)
class HeatmapConfig:
    widths: tuple[int, int, int, int] = (32, 64, 128, 192)  # channels at strides 2, 4, 8, 16
    blocks: tuple[int, int, int] = (1, 2, 2)  # residual blocks at strides 4, 8, 16
    decoder_widths: tuple[int, int] = (128, 64)  # channels after upsampling to strides 8 and 4
    num_joints: int = 17
    lifter_hidden: int = 1024
    lifter_blocks: int = 2
    lifter_dropout: float = 0.1


def conv_bn(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = conv_bn(c, c)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


def cell_centres(side: int, device: torch.device | None = None) -> torch.Tensor:
    """The centres of ``side`` heatmap cells in 2D-head units: the crop's edges are -1 and 1."""
    return (torch.arange(side, device=device, dtype=torch.float32) + 0.5) * (2.0 / side) - 1.0


def soft_argmax(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, J, H, W) heatmap logits -> (B, J, 2) expected (x, y) in -1..1 and (B, J) confidence: the
    probability within one cell of the most likely cell."""
    B, J, H, W = logits.shape
    prob = torch.softmax(logits.float().flatten(2), dim=-1).view(B, J, H, W)
    x = (prob.sum(2) * cell_centres(W, logits.device)).sum(-1)
    y = (prob.sum(3) * cell_centres(H, logits.device)).sum(-1)
    near = F.avg_pool2d(prob, 3, stride=1, padding=1, count_include_pad=True) * 9.0
    confidence = near.flatten(2).amax(-1).clamp(0.0, 1.0)
    return torch.stack([x, y], dim=-1), confidence


def pooled_dim(config: HeatmapConfig) -> int:
    """The width of ``HeatmapNet.pooled``."""
    return 2 * config.widths[3] + config.widths[2]


class HeatmapNet(nn.Module):
    """(B, 3, S, S) normalised crops -> (B, J, S/4, S/4) heatmap logits."""

    def __init__(self, config: HeatmapConfig = HeatmapConfig()) -> None:
        super().__init__()
        w, n = config.widths, config.blocks
        self.stem = nn.Sequential(conv_bn(3, w[0], 2), conv_bn(w[0], w[0]))
        self.down4 = nn.Sequential(conv_bn(w[0], w[1], 2), *[Residual(w[1]) for _ in range(n[0])])
        self.down8 = nn.Sequential(conv_bn(w[1], w[2], 2), *[Residual(w[2]) for _ in range(n[1])])
        self.down16 = nn.Sequential(conv_bn(w[2], w[3], 2), *[Residual(w[3]) for _ in range(n[2])])
        d8, d4 = config.decoder_widths
        self.lateral16 = nn.Conv2d(w[3], d8, 1)
        self.lateral8 = nn.Conv2d(w[2], d8, 1)
        self.up8 = conv_bn(d8, d8)
        self.reduce8 = nn.Conv2d(d8, d4, 1)
        self.lateral4 = nn.Conv2d(w[1], d4, 1)
        self.up4 = conv_bn(d4, d4)
        self.heatmaps = nn.Conv2d(d4, config.num_joints, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.decode(*self.encode(image))

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The encoder's features at strides 4, 8 and 16."""
        f4 = self.down4(self.stem(image))
        f8 = self.down8(f4)
        return f4, f8, self.down16(f8)

    @staticmethod
    def pooled(f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor) -> torch.Tensor:
        """(B, ``pooled_dim``) the crop's summary a person head reads: the stride-16 features' mean and
        maximum over the crop, the stride-8 features' mean."""
        return torch.cat([f16.mean((2, 3)), f16.amax((2, 3)), f8.mean((2, 3))], 1)

    def decode(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor) -> torch.Tensor:
        """The encoder's features -> (B, J, S/4, S/4) heatmap logits."""
        x = F.interpolate(self.lateral16(f16), scale_factor=2.0, mode="bilinear", align_corners=False)
        x = self.up8(x + self.lateral8(f8))
        x = F.interpolate(self.reduce8(x), scale_factor=2.0, mode="bilinear", align_corners=False)
        x = self.up4(x + self.lateral4(f4))
        return self.heatmaps(x)


class Lifter(nn.Module):
    """(B, J, 2) joints in -1..1 crop units and (B, J) confidences -> (B, out_dim)."""

    def __init__(self, out_dim: int, config: HeatmapConfig = HeatmapConfig()) -> None:
        super().__init__()
        h = config.lifter_hidden
        self.inp = nn.Sequential(nn.Linear(3 * config.num_joints, h), nn.LayerNorm(h), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(h, h), nn.LayerNorm(h), nn.ReLU(inplace=True), nn.Dropout(config.lifter_dropout),
                          nn.Linear(h, h), nn.LayerNorm(h), nn.ReLU(inplace=True), nn.Dropout(config.lifter_dropout))
            for _ in range(config.lifter_blocks))
        self.out = nn.Linear(h, out_dim)

    def forward(self, joints: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
        # Centred on the joints' mean so the lifter sees the body's shape, not where the crop cut it.
        centred = joints - joints.mean(dim=1, keepdim=True)
        x = self.inp(torch.cat([centred.flatten(1), confidence], dim=1))
        for block in self.blocks:
            x = x + block(x)
        return self.out(x)


class HeatmapPoseNet(nn.Module):
    """Crop -> heatmaps -> 2D joints with confidences -> lifter -> root-relative pose (PoseCodec units).
    With ``prior``: the lifter gives the prior's latent code (``code``) and the prior's decoder the pose."""

    def __init__(self, pose_dim: int = 51, config: HeatmapConfig = HeatmapConfig(),
                 prior: PoseAutoencoder | None = None) -> None:
        super().__init__()
        self.config = config
        self.net2d = HeatmapNet(config)
        self.lifter = Lifter(pose_dim if prior is None else prior.latent_dim, config)
        self.decoder = prior  # only its decoder is used; the encoder is kept to encode targets

    def forward(self, image: torch.Tensor) -> PoseOutputs:
        return self.from_logits(self.net2d(image))

    def from_logits(self, logits: torch.Tensor) -> PoseOutputs:
        """Heatmap logits -> the whole output (2D joints, confidences, lifted pose)."""
        joints, confidence = soft_argmax(logits)
        code = self.lifter(joints, confidence)
        pose = code if self.decoder is None else self.decoder.decode(code)
        return PoseOutputs(pose=pose, joints_2d=joints, code=code, confidence=confidence, heatmaps=logits)


def flops_per_image(input_size: int = 128, config: HeatmapConfig = HeatmapConfig()) -> float:
    """Multiply-adds x 2 of the convolutions and the lifter for one crop (measured on the modules)."""
    model = HeatmapPoseNet(3 * config.num_joints, config)
    total = 0.0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += 2.0 * output[0].numel() * k
        elif isinstance(module, nn.Linear):
            total += 2.0 * module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, input_size, input_size))
    for h in handles:
        h.remove()
    return total
