#!/bin/bash
# Do the garment patterns cost real-photo accuracy? The shipped recipe (stage heatmap, seed 0) trained
# side by side on the same scenes with garment_patterns 0.5 (the default) and 0 (plain clothes: the
# same people and draws), then scored on the realval pack (realval_pack.py, labelled box):
# bash tools/gpu/patterns_ab.sh LIMIT STEPS. Carry .devrun with photos/, whl/ and realval/.
set -u
T0=$(date +%s); LIMIT=${1:-150}; STEPS=${2:-2500}
OUT=${OUT:-/tmp/devout}; mkdir -p "$OUT"; R=${RUNS:-/tmp/pab}; D=${DEVRUN:-.devrun}; W=${WORKERS:-7}
source tools/gpu/setup.sh; mkdir -p "$R"
for p in 0.5 0; do
  timeout "$LIMIT" python3 -m pose3d.cli.train --stage heatmap --out "$R/p$p" --quiet --set bodies=anny \
    --set input.crop_size=128 --set input.input_size=128 --set val_samples=200 --set "workers=$W" \
    --set "backgrounds=$D/photos/backgrounds" --set "textures=$D/photos/textures" --set "garment_patterns=$p" \
    --set "heatmap_stage.steps=$STEPS" --set "heatmap_stage.val_every=$STEPS" --set heatmap_stage.checkpoint_every=500 \
    >"$R/p$p.log" 2>&1 &
done
wait
echo "trained after $(( $(date +%s) - T0 )) s"; tail -n 2 "$R"/p*.log
for p in 0.5 0; do
  OMP_NUM_THREADS=8 timeout 90 python3 -m pose3d.cli.eval "$R/p$p/heatmap.pt" --real "$D/realval" \
    -o "$R/ev/p$p" >"$R/ev$p.log" 2>&1 &
done
wait
grep -H "labelled box | 126" "$R"/ev/*/realval.md
for p in 0.5 0; do python3 tools/gpu/half.py "$R/p$p/heatmap.pt" "$R/p$p/heatmap.fp16.pt"; done
cd "$R" && tar czf "$OUT/pab.tgz" ./*.log ev p0.5/log.jsonl p0/log.jsonl p0.5/heatmap.fp16.pt p0/heatmap.fp16.pt 2>/dev/null
cd "$OUT" && split -b 15m pab.tgz pab.tgz.part- && rm pab.tgz
echo "done after $(( $(date +%s) - T0 )) s"
