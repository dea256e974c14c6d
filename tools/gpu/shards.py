"""Write a checkpoint's model weights (fp32) as shards of at most 15 MiB (the device's return limit):
python shards.py CHECKPOINT OUTDIR. join: torch.load each shard and update one dict."""
import sys
from pathlib import Path

import torch

ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
out = Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
meta = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer")}
shards, cur, size = [], {}, 0
for k, v in ckpt["model"].items():
    b = v.numel() * v.element_size()
    if b > 15 * 2**20:  # one big tensor: split its rows
        for i, part in enumerate(torch.chunk(v, 2)):
            shards.append({f"{k}#part{i}": part.clone()})
        continue
    if size + b > 15 * 2**20:
        shards.append(cur); cur, size = {}, 0
    cur[k] = v; size += b
shards.append(cur)
for i, s in enumerate(shards):
    torch.save(s, out / f"w{i}.pt")
torch.save(meta, out / "meta.pt")
print(f"{len(shards)} shards, step {meta.get('step')}", file=sys.stderr)
