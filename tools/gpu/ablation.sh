#!/bin/bash
# The equal-budget ablation (issue #13) on a lent GPU machine: four arms, each 192,000 rendered crops,
# trained side by side, then scored there on the synthetic test split and on a realval pack
# (realval_pack.py; labelled box only): bash tools/gpu/ablation.sh LIMIT
#   paper    prior (carried) -> latent 2000 x 64 -> finetune 1000 x 64 (the paper's CNN)
#   direct   the same CNN straight to the pose, 3000 x 64
#   heatmap  the 2D-evidence model, 6000 x 32 (the shipped recipe)
#   hmprior  prior (carried) -> hmlatent 4000 x 32 -> hmfinetune 2000 x 32 (2D evidence + the prior)
# Carry .devrun with photos/, whl/, realval/ (the pack) and prior.pt (stage prior, trained on a CPU).
# (A dry run elsewhere: SCALE=500 divides the steps, SAMPLES=50 shrinks the test set, WORKERS the workers.)
# Training stops at LIMIT seconds from the start, whatever it reached; the scores say each arm's step.
set -u
T0=$(date +%s); LIMIT=${1:-420}
OUT=${OUT:-/tmp/devout}; mkdir -p "$OUT"; R=${RUNS:-/tmp/abl}; D=${DEVRUN:-.devrun}; W=${WORKERS:-4}
source tools/gpu/setup.sh; mkdir -p "$R"
COMMON=(--quiet --set bodies=anny --set input.crop_size=128 --set input.input_size=128 --set val_samples=200
        --set "backgrounds=$D/photos/backgrounds" --set "textures=$D/photos/textures" --set "workers=$W")
train() {  # train OUT STAGE STEPS [--set ...]: one stage, validated and checkpointed at its end
  local out=$1 stage=$2 steps=$(( $3 / ${SCALE:-1} )); shift 3
  timeout $((LIMIT - $(date +%s) + T0)) python3 -m pose3d.cli.train --stage "$stage" --out "$R/$out" "${COMMON[@]}" \
    --set "${stage}_stage.steps=$steps" --set "${stage}_stage.val_every=$steps" --set "${stage}_stage.checkpoint_every=500" "$@"
}
arm() {  # arm NAME: its stages in order; a stage cut by the limit ends the arm
  mkdir -p "$R/$1"
  case $1 in
    paper) cp "$D/prior.pt" "$R/paper/" && train paper latent 2000 && train paper finetune 1000 ;;
    direct) train direct direct 3000 ;;
    heatmap) train heatmap heatmap 6000 ;;
    hmprior) cp "$D/prior.pt" "$R/hmprior/" && train hmprior hmlatent 4000 && train hmprior hmfinetune 2000 ;;
  esac
  echo "arm $1 ended (exit $?) after $(( $(date +%s) - T0 )) s"
}
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader
for a in paper direct heatmap hmprior; do arm $a >"$R/$a.log" 2>&1 & done
wait
echo "training ended after $(( $(date +%s) - T0 )) s"; cat "$R"/*.log | grep -v "^$" | tail -n 40
ev() {  # ev NAME CHECKPOINT: synthetic test (1,000 anny crops) and the realval pack
  OMP_NUM_THREADS=4 python3 -m pose3d.cli.eval "$2" --samples "${SAMPLES:-1000}" --bodies anny -o "$R/ev/$1" >"$R/ev.$1.test.log" 2>&1
  OMP_NUM_THREADS=4 python3 -m pose3d.cli.eval "$2" --real "$D/realval" -o "$R/ev/$1.real" >"$R/ev.$1.real.log" 2>&1
}
mkdir -p "$R/ev"
ev paper "$R/paper/finetune.pt" & ev latent "$R/paper/latent.pt" & ev direct "$R/direct/direct.pt" &
ev heatmap "$R/heatmap/heatmap.pt" & ev hmprior "$R/hmprior/hmfinetune.pt" & ev hmlatent "$R/hmprior/hmlatent.pt" &
OMP_NUM_THREADS=2 python3 -m pose3d.cli.eval --real "$D/realval" -o "$R/ev/shipped.real" >"$R/ev.shipped.log" 2>&1 &
wait
echo "scored after $(( $(date +%s) - T0 )) s"
# Back: one archive of logs and tables, and the 2D-evidence arms' weights in fp16, in parts of 15 MiB.
python3 tools/gpu/half.py "$R/heatmap/heatmap.pt" "$R/heatmap.fp16.pt"
python3 tools/gpu/half.py "$R/hmprior/hmfinetune.pt" "$R/hmprior.fp16.pt"
cd "$R" && tar czf "$OUT/abl.tgz" ./*.log ev ./*.fp16.pt paper/log.jsonl direct/log.jsonl heatmap/log.jsonl hmprior/log.jsonl 2>/dev/null
cd "$OUT" && split -b 15m abl.tgz abl.tgz.part- && rm abl.tgz && ls -la "$OUT"
grep -h "| model\b\|^| model" "$R"/ev/*/*.md 2>/dev/null | head -n 30
echo "done after $(( $(date +%s) - T0 )) s"
