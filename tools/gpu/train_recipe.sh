#!/bin/bash
# The shipped recipe (6,000 steps of 32) on the GPU machine, stopped at LIMIT seconds:
#   bash tools/gpu/train_recipe.sh LIMIT STEPS [--set KEY=VALUE ...]   (settings after STEPS are added last, so they win)
set -u
T0=$(date +%s); LIMIT=${1:-95}; STEPS=${2:-6000}
OUT=${OUT:-/tmp/devout}; mkdir -p "$OUT"; RUN=${RUN:-/tmp/gpurun}
source tools/gpu/setup.sh
timeout "$LIMIT" python3 -m pose3d.cli.train --stage heatmap --out "$RUN" --quiet --set bodies=anny \
  --set input.crop_size=128 --set input.input_size=128 --set backgrounds=${PHOTOS:-.devrun/photos}/backgrounds \
  --set textures=${PHOTOS:-.devrun/photos}/textures --set heatmap_stage.steps="$STEPS" --set heatmap_stage.val_every=3000 \
  --set heatmap_stage.checkpoint_every=250 --set val_samples=200 --set workers=15 "${@:3}" >"$OUT/run.log" 2>&1
echo "train exit $? after $(( $(date +%s) - T0 )) s" | tee -a "$OUT/run.log"
tail -3 "$RUN/log.jsonl" | cut -c1-220 | tee -a "$OUT/run.log"
python3 tools/gpu/shards.py "$RUN/heatmap.pt" "$OUT" 2>>"$OUT/run.log"; cp "$RUN/log.jsonl" "$OUT/" 2>/dev/null
