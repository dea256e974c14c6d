#!/bin/bash
# Do the garment patterns cost real-photo accuracy? The shipped recipe (stage heatmap, seed 0) trained
# side by side on the same scenes with garment_patterns 0.5 (the default) and 0 (plain clothes: the
# same people and draws), then scored on the realval pack (realval_pack.py, labelled box):
# bash tools/gpu/patterns_ab.sh LIMIT STEPS. Carry .devrun with photos/, whl/ and realval/.
set -u
T0=$(date +%s); LIMIT=${1:-150}; STEPS=${2:-2500}
OUT=${OUT:-/tmp/devout}; mkdir -p "$OUT"; R=${RUNS:-/tmp/pab}; D=${DEVRUN:-.devrun}; W=${WORKERS:-7}
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 NUMBA_THREADING_LAYER=forksafe
mkdir -p /tmp/site; python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$D"/whl/*.whl 2>/dev/null
ln -sfn "$PWD/runtime" /tmp/site/pose3d_runtime; ln -sfn "$PWD/export" /tmp/site/pose3d_export
export PYTHONPATH=/tmp/site:$PWD
for p in 0.5 0; do
  timeout "$LIMIT" python3 -m pose3d.cli.train --stage heatmap --out "$R/p$p" --quiet --set bodies=anny \
    --set input.crop_size=128 --set input.input_size=128 --set val_samples=200 --set "workers=$W" \
    --set "backgrounds=$D/photos/backgrounds" --set "textures=$D/photos/textures" --set "garment_patterns=$p" \
    --set "heatmap_stage.steps=$STEPS" --set "heatmap_stage.val_every=$STEPS" --set heatmap_stage.checkpoint_every=500 \
    >"$R.p$p.log" 2>&1 &
done
wait
echo "trained after $(( $(date +%s) - T0 )) s"; tail -n 2 "$R".p*.log
for p in 0.5 0; do
  OMP_NUM_THREADS=8 timeout 90 python3 -c "from pose3d.cli.eval import main; main()" "$R/p$p/heatmap.pt" --real "$D/realval" \
    -o "$R/ev/p$p" >"$R.ev$p.log" 2>&1 &
done
wait
grep -H "labelled box | 126" "$R"/ev/*/realval.md
python3 - "$R" <<'P'
import sys, torch
from pathlib import Path
for p in ("0.5", "0"):
    f = Path(sys.argv[1]) / f"p{p}" / "heatmap.pt"
    if f.is_file():  # the weights in fp16, without the optimiser: small enough to bring back
        ck = torch.load(f, map_location="cpu", weights_only=True)
        ck["model"] = {k: v.half() if v.is_floating_point() else v for k, v in ck["model"].items()}
        ck.pop("optimizer", None)
        torch.save(ck, f.with_name("heatmap.fp16.pt"))
P
cd "$R" && tar czf "$OUT/pab.tgz" ./*.log ev p0.5/log.jsonl p0/log.jsonl p0.5/heatmap.fp16.pt p0/heatmap.fp16.pt 2>/dev/null
cd "$OUT" && split -b 15m pab.tgz pab.tgz.part- && rm pab.tgz
echo "done after $(( $(date +%s) - T0 )) s"
