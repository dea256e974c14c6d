"""Where and how training computes: the processor (CPU, or a CUDA GPU when there is one), bf16
autocast where it pays, channels_last memory layout.

Measured on this project's CPUs (``benchmarks/bench_train_step.py``): channels_last trains the CNN
1.6x faster; bf16 autocast helps only where the CPU has bf16 matrix units. On a CUDA GPU bf16 autocast
and channels_last are the usual fast path (tensor cores) and are on by default there.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")

DEVICES = ("cpu", "cuda")


def cpu_has_fast_bf16() -> bool:
    """True where the CPU has bf16 matrix instructions (AMX or AVX512-BF16); elsewhere bf16 autocast
    was measured slower than fp32 (this project's 2-core Xeon: 22 vs 36 images/s)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_device(name: str | None) -> str:
    """The training config's ``device`` setting -> "cpu" or "cuda"; None: CUDA when torch sees a GPU.
    ValueError when CUDA is asked for and there is none."""
    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in DEVICES:
        raise ValueError(f"setting device takes one of {', '.join(DEVICES)} or none, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("setting device is cuda, but this torch sees no CUDA GPU "
                         f"(torch {torch.__version__}); use device=cpu or leave it unset")
    return name


@dataclass(frozen=True)
class Device:
    bf16: bool = False  # bf16 autocast around the forward pass
    channels_last: bool = False  # models and image batches in channels_last memory layout
    kind: str = "cpu"  # "cpu" or "cuda"

    @classmethod
    def of(cls, bf16: bool | None, channels_last: bool, device: str | None = None) -> "Device":
        """The training config's choice; ``bf16=None``: autocast on a GPU, and on a CPU only where it
        has bf16 units; ``device=None``: the GPU when there is one."""
        kind = pick_device(device)
        if bf16 is None:
            bf16 = kind == "cuda" or cpu_has_fast_bf16()
        if kind == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))  # torchrun: one GPU per process
            torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        return cls(bf16, channels_last, kind)

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.kind)

    @property
    def pin_memory(self) -> bool:
        """Whether batches made on the CPU should be page-locked for a fast copy to the device."""
        return self.kind == "cuda"

    def autocast(self) -> AbstractContextManager:
        return torch.autocast(self.kind, dtype=torch.bfloat16, enabled=self.bf16)

    def prepare(self, model: nn.Module) -> nn.Module:
        """``model`` on this device, in its memory layout."""
        model = model.to(self.torch_device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images on this device, in its memory layout (the same values)."""
        images = images.to(self.torch_device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def to(self, value: T) -> T:
        """Tensors (also inside dicts, lists and tuples) moved to this device; anything else as it is."""
        if isinstance(value, torch.Tensor):
            return value.to(self.torch_device, non_blocking=True)  # type: ignore[return-value]
        if isinstance(value, dict):
            return {k: self.to(v) for k, v in value.items()}  # type: ignore[return-value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
            return type(value)(*(self.to(v) for v in value))  # type: ignore[return-value]
        if isinstance(value, (list, tuple)):
            return type(value)(self.to(v) for v in value)  # type: ignore[return-value]
        return value

    def describe(self) -> str:
        name = torch.cuda.get_device_name() if self.kind == "cuda" else "CPU"
        return f"{name} ({'bf16 autocast' if self.bf16 else 'fp32'}{', channels_last' if self.channels_last else ''})"


def model_device(model: nn.Module) -> torch.device:
    """Where ``model``'s weights are (the CPU for a model without any)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
