"""Where and how training computes: bf16 autocast where it pays, channels_last memory layout.

Measured on this project's CPUs (``benchmarks/bench_train_step.py``): channels_last trains the CNN
1.6x faster; bf16 autocast helps only where the CPU has bf16 matrix units.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


def cpu_has_fast_bf16() -> bool:
    """True where the CPU has bf16 matrix instructions (AMX or AVX512-BF16); elsewhere bf16 autocast
    was measured slower than fp32 (this project's 2-core Xeon: 22 vs 36 images/s)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


@dataclass(frozen=True)
class Device:
    bf16: bool = False  # bf16 autocast around the forward pass
    channels_last: bool = False  # models and image batches in channels_last memory layout

    @classmethod
    def of(cls, bf16: bool | None, channels_last: bool) -> "Device":
        """The training config's choice; ``bf16=None``: autocast only where the CPU has bf16 units."""
        return cls(cpu_has_fast_bf16() if bf16 is None else bf16, channels_last)

    def autocast(self) -> AbstractContextManager:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def prepare(self, model: nn.Module) -> nn.Module:
        """``model`` in this device's memory layout."""
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images in this device's memory layout (the same values)."""
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images
