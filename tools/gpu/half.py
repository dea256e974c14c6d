"""A checkpoint's model weights in fp16, without the optimiser (small enough to come back from the
device; they evaluate, they do not resume): python half.py CHECKPOINT OUT.pt. Missing CHECKPOINT: no-op."""
import sys
from pathlib import Path

import torch

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
if src.is_file():
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    ckpt["model"] = {k: v.half() if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    ckpt.pop("optimizer", None)
    torch.save(ckpt, dst)
