"""The person detector: a small single-stage, anchor-free network for the CPU (CenterNet-style).

A person is the centre of its box (the extent of its 17 joints, ``pose3d.data.frames``). On a grid of
cells at a quarter of the input's side the network says, per cell, how likely a box centre falls in
it, where in the cell it falls, and how wide and high the box is:

- ``centre`` (B, 1, S/4, S/4): logit of "a box centre is in this cell";
- ``size`` (B, 2, S/4, S/4): log of the box width and height in input pixels;
- ``offset`` (B, 2, S/4, S/4): logit of the centre's position inside its cell (0..1 after a sigmoid).

The cell convention: pixel centres sit at integers, so pixel x lies in cell (x + 0.5) / STRIDE; a
box centre x = STRIDE * (i + offset) - 0.5 for column i (rows alike). ``DetectorOutputs`` turns the
raw maps into these units (the exported graph, ``pose3d_export.detector_export``, ends with it).

The network (``PersonDetector``): a stem convolution, then depthwise-separable residual stages at
strides 4, 8, 16, 32, a feature pyramid back to stride 4 (nearest upsampling plus 1x1 laterals),
and one shared head. About 0.3 GFLOP (multiply-adds x 2) per 256 x 256 frame (``flops_per_frame``).

Training targets (``detector_targets``) splat a Gaussian at each present person's centre cell, as wide
and high as a share of its box; ``detector_loss`` is the penalty-reduced focal loss on that heatmap (Law
& Deng 2018, Zhou et al. 2019) plus L1 on log size and offset at the centre cells. ``decode``
turns the output maps back into boxes (local peaks, a score threshold, overlap suppression).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pose3d.models.heatmap import conv_bn

STRIDE = 4
# The centre's Gaussian spreads over this share of the box (sigma = alpha * side / 6 per axis): TTFNet
# (Liu et al. 2019) found box-shaped Gaussians this wide train faster than CenterNet's small round ones.
GAUSSIAN_ALPHA = 0.54
FOCAL_ALPHA, FOCAL_BETA = 2.0, 4.0  # the focal loss's exponents (CenterNet's)


@dataclass(frozen=True)
class DetectorConfig:
    input_size: int = 256  # S: the square frame (a multiple of 32)
    widths: tuple[int, int, int, int, int] = (16, 32, 64, 128, 192)  # channels at strides 2, 4, 8, 16, 32
    blocks: tuple[int, int, int, int] = (1, 2, 3, 2)  # residual blocks at strides 4, 8, 16, 32
    neck_width: int = 64  # the feature pyramid's channels
    size_weight: float = 1.0  # loss weights of the box size (log) and the centre offset
    offset_weight: float = 1.0
    score_threshold: float = 0.3  # decode: lowest centre probability kept (validation, the exported default)
    max_people: int = 10
    overlap_threshold: float = 0.6  # decode: a box overlapping a better one more than this (IoU) is dropped

    def __post_init__(self) -> None:
        if self.input_size % 32:
            raise ValueError(f"detector.input_size must be a multiple of 32, got {self.input_size}")


class SeparableResidual(nn.Module):
    """x + pointwise(depthwise 3x3(x)), both with batch norm (ReLU after the sum)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU(inplace=True), nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


def separable(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 (with ``stride``) then pointwise to ``c_out``, batch norm and ReLU after each."""
    return nn.Sequential(nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
                         nn.ReLU(inplace=True), conv_bn(c_in, c_out, kernel=1))


class PersonDetector(nn.Module):
    """(B, 3, S, S) normalised frames -> raw maps: centre logits (B, 1, S/4, S/4), log sizes (B, 2, ...),
    offset logits (B, 2, ...). ``forward_features`` gives the stride-4 features the head reads."""

    def __init__(self, config: DetectorConfig = DetectorConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        self.stem = conv_bn(3, w[0], stride=2)
        self.stages = nn.ModuleList(
            nn.Sequential(separable(w[i], w[i + 1], stride=2), *(SeparableResidual(w[i + 1]) for _ in range(n)))
            for i, n in enumerate(config.blocks))
        c = config.neck_width
        self.laterals = nn.ModuleList(nn.Conv2d(w[i + 1], c, 1) for i in range(len(config.blocks)))
        self.smooth = nn.ModuleList(separable(c, c) for _ in range(len(config.blocks) - 1))
        self.head = separable(c, c)
        self.centre = nn.Conv2d(c, 1, 1)
        self.size = nn.Conv2d(c, 2, 1)
        self.offset = nn.Conv2d(c, 2, 1)
        with torch.no_grad():
            # Start from "almost nobody anywhere" (focal loss practice) and a mid-sized box.
            self.centre.bias.fill_(-math.log((1 - 0.01) / 0.01))
            self.size.bias.fill_(math.log(config.input_size / 4))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (B, w0, S/2, S/2)
        pyramid = []
        for stage in self.stages:
            x = stage(x)
            pyramid.append(x)  # strides 4, 8, 16, 32
        top = self.laterals[-1](pyramid[-1])
        for i in range(len(pyramid) - 2, -1, -1):  # back down to stride 4
            top = self.smooth[i](self.laterals[i](pyramid[i]) + F.interpolate(top, scale_factor=2.0, mode="nearest"))
        return top  # (B, neck, S/4, S/4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.head(self.forward_features(x))
        return self.centre(f), self.size(f), self.offset(f)


class DetectorOutputs(nn.Module):
    """The detector with its outputs in the exported units: centre probability, box size in input
    pixels, centre offset in cells (0..1)."""

    def __init__(self, detector: PersonDetector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        centre, size, offset = self.detector(x)
        return torch.sigmoid(centre), torch.exp(size), torch.sigmoid(offset)


def input_multiple(config: DetectorConfig = DetectorConfig()) -> int:
    """The network's total stride (the stem and each stage halve the input): any input whose height
    and width are multiples of it gives the same maps, at stride 4, a square one would."""
    return 2 ** (1 + len(config.blocks))


def flops_per_frame(config: DetectorConfig = DetectorConfig()) -> float:
    """Multiply-adds x 2 of every convolution for one frame (measured on the modules)."""
    model = PersonDetector(config).eval()
    total = 0.0

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        per_output = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += 2.0 * output[0].numel() * per_output

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, config.input_size, config.input_size))
    for h in hooks:
        h.remove()
    return total


# -- training targets and loss --------------------------------------------------------------------


def detector_targets(boxes: np.ndarray, present: np.ndarray, ignore: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Targets on the (G, G) grid of cells, G = size / STRIDE, from (B, P, 4) boxes (x0, y0, x1, y1)
    in input pixels and (B, P) present / ignore flags:

    - ``heatmap`` (B, 1, G, G) float32: max over present people of a Gaussian around the centre cell
      (1 at that cell), elongated like the box: sigma = GAUSSIAN_ALPHA * side / 6 per axis (cells);
    - ``weight`` (B, 1, G, G) float32: 0 near ignored people (neither person nor background), else 1;
    - ``cells`` (B, P) int64 flat index of each person's centre cell; ``mask`` (B, P) bool: present;
    - ``size`` (B, P, 2) log width and height (pixels); ``offset`` (B, P, 2) the centre inside its cell.

    A centre beyond the border moves onto it and the box keeps its inner edges (width' =
    2 * (x1 - x0'), ...): the grid cannot hold a centre outside the frame.
    """
    G = size // STRIDE
    B, P = present.shape
    boxes = np.nan_to_num(np.asarray(boxes, np.float64))
    lo, hi = boxes[..., :2], boxes[..., 2:]
    true_centre = 0.5 * (lo + hi)
    centre = np.clip(true_centre, -0.5, size - 0.5)  # (B, P, 2) pixels
    # Moved onto the border: the half size reaches the inner edge (the one inside the frame).
    half = np.where(true_centre < centre, hi - centre, np.where(true_centre > centre, centre - lo, 0.5 * (hi - lo)))
    wh = 2.0 * np.maximum(half, 0.5)
    cell_xy = (centre + 0.5) / STRIDE  # (B, P, 2) in cells
    cell = np.minimum(np.floor(cell_xy), G - 1).astype(np.int64)
    offset = cell_xy - cell
    sigma = np.maximum(GAUSSIAN_ALPHA * wh / (6.0 * STRIDE), 0.25)  # (B, P, 2) cells
    heatmap = np.zeros((B, G, G), np.float64)
    weight = np.ones((B, G, G), np.float64)
    grid = np.arange(G, dtype=np.float64)
    for b, p in zip(*np.nonzero(present | ignore)):
        gx = np.exp(-((grid - cell[b, p, 0]) ** 2) / (2 * sigma[b, p, 0] ** 2))
        gy = np.exp(-((grid - cell[b, p, 1]) ** 2) / (2 * sigma[b, p, 1] ** 2))
        g = gy[:, None] * gx[None, :]  # (G, G)
        if present[b, p]:
            np.maximum(heatmap[b], g, out=heatmap[b])
        else:
            weight[b][g > 0.1] = 0.0
    weight = np.maximum(weight, heatmap > 0.1)  # a present person's own neighbourhood always counts
    return {"heatmap": heatmap[:, None].astype(np.float32), "weight": weight[:, None].astype(np.float32),
            "cells": cell[..., 1] * G + cell[..., 0], "mask": present.astype(bool),
            "size": np.log(wh).astype(np.float32), "offset": offset.astype(np.float32)}


def focal_loss(logits: torch.Tensor, heatmap: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Penalty-reduced pixel-wise focal loss, summed and divided by the number of centres (at least
    1): at a centre (heatmap 1) -(1 - p)^a log p, elsewhere -(1 - y)^b p^a log(1 - p)."""
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    centre = (heatmap >= 1.0).float()
    positive = centre * (1 - p) ** FOCAL_ALPHA * log_p
    negative = (1 - centre) * (1 - heatmap) ** FOCAL_BETA * p ** FOCAL_ALPHA * log_not_p
    return -((positive + negative) * weight).sum() / centre.sum().clamp(min=1.0)


def at_cells(maps: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """(B, C, G, G) maps read at (B, P) flat cell indices -> (B, P, C)."""
    B, C = maps.shape[:2]
    flat = maps.reshape(B, C, -1)  # (B, C, G*G)
    return torch.gather(flat, 2, cells[:, None, :].expand(B, C, cells.shape[1])).transpose(1, 2)


def detector_loss(outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], targets: dict[str, torch.Tensor],
                  config: DetectorConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss of raw ``PersonDetector`` outputs against ``detector_targets`` (as tensors):
    focal loss + size_weight * L1(log size) + offset_weight * L1(offset), the L1 terms averaged over
    present people. Returns the total and its parts."""
    centre, size, offset = (o.float() for o in outputs)
    heat = focal_loss(centre, targets["heatmap"], targets["weight"])
    mask = targets["mask"].float()[..., None]  # (B, P, 1)
    n = mask.sum().clamp(min=1.0) * 2
    size_l1 = ((at_cells(size, targets["cells"]) - targets["size"]).abs() * mask).sum() / n
    offset_l1 = ((torch.sigmoid(at_cells(offset, targets["cells"])) - targets["offset"]).abs() * mask).sum() / n
    total = heat + config.size_weight * size_l1 + config.offset_weight * offset_l1
    return total, {"focal": heat.item(), "size_l1": size_l1.item(), "offset_l1": offset_l1.item()}


# -- decoding -------------------------------------------------------------------------------------


def decode(centre: np.ndarray, size: np.ndarray, offset: np.ndarray, score_threshold: float, max_people: int,
           overlap_threshold: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Exported-unit maps of a batch ((B, 1, G, G) probabilities, (B, 2, G, G) sizes in pixels,
    (B, 2, G, G) offsets in cells) -> per frame (boxes (N, 4) x0 y0 x1 y1 input pixels, scores (N,)),
    best first, by the runtime's own decoding (``pose3d.detection.decode``)."""
    from pose3d.detection import decode as decode_one

    return [decode_one(centre[b], size[b], offset[b], STRIDE, score_threshold, max_people, overlap_threshold)
            for b in range(len(centre))]
