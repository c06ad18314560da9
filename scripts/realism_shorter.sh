#!/usr/bin/env bash
# make bench-realism-shorter: does training the embedded teacher's recipe for fewer steps bring it closer to real
# (training longer, 2,500 -> 4,000 steps, made it smoother and easier to tell apart)? Trains the recipe of make
# train-demo-model (from scratch, batch 8, learning rate 3e-4 constant, EMA, band scaling std, seed 0, guarded split)
# to 1,500 steps in scratch-ema-scaled-1500 (about 12 min on 2 cores), continues that run from its step-1,500
# checkpoint to 2,500 steps in scratch-ema-scaled (the embedded teacher's run, embedded_run; kept when another
# script trained it already), then measures both on the validation patches at SEEDS (the same real tiles and
# classifier seeds).
# Rule, fixed before the first measurement: 1,500 steps replace 2,500 in make train-demo-model only if the whole-tile
# C2ST is lower at every seed (the rule the teacher's sampler, band scaling and preset were chosen by).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, DATASET, TEACHER, train, SCRATCH
train scratch-ema-scaled-1500 1500 "${SCRATCH[@]}" --ema --data-scaling std
if [ ! -f "$WORK/scratch-ema-scaled/model/model_card.json" ]; then
    mkdir -p "$WORK/scratch-ema-scaled"
    [ -d "$WORK/scratch-ema-scaled/checkpoints" ] || cp -r "$WORK/scratch-ema-scaled-1500/checkpoints" "$WORK/scratch-ema-scaled/"
fi
embedded_run  # resumes from the copied step-1,500 checkpoint
measure_seeds shorter-scaled "$WORK/scratch-ema-scaled-1500/model" "guarded split EMA band scaling 1500 steps"
# Resuming is exact: the continued run's weights should be the embedded teacher's, byte for byte (same CPU kind)
if cmp -s "$WORK/scratch-ema-scaled/model/unet/diffusion_pytorch_model.safetensors" \
    "$TEACHER/unet/diffusion_pytorch_model.safetensors"; then
    echo "== scratch-ema-scaled (1,500 steps, resumed to 2,500): weights byte-identical to the embedded teacher's"
else
    echo "== scratch-ema-scaled (1,500 steps, resumed to 2,500): weights differ from the embedded teacher's"
fi
