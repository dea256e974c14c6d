"""Join shards.py's output back into a checkpoint: python join.py DIR OUT.pt"""
import sys
import torch
from pose3d.train.checkpoint import save_checkpoint
from pathlib import Path
d = Path(sys.argv[1])
meta = torch.load(d / "meta.pt", weights_only=True)
model, parts = {}, {}
for f in sorted(d.glob("w*.pt")):
    for k, v in torch.load(f, weights_only=True).items():
        if "#part" in k:
            name, i = k.split("#part"); parts.setdefault(name, {})[int(i)] = v
        else:
            model[k] = v
for name, p in parts.items():
    model[name] = torch.cat([p[i] for i in sorted(p)])
save_checkpoint(Path(sys.argv[2]), {**meta, "model": model, "optimizer": {}})
print(len(model), "tensors, step", meta["step"])
