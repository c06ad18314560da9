#!/usr/bin/env bash
# make bench-realism-longer: does training longer bring the teacher's recipe closer to real? Continues the recipe of
# make train-demo-model (scratch-ema of make bench-realism-band-weights, trained here if missing; the embedded teacher
# is that run) from its step-2,500 checkpoint to 4,000 steps in scratch-ema-4000 (same arguments, about 12 min on 2
# cores), then measures it on the validation patches at SEEDS with the seeds of make bench-realism-guard-mask, whose
# files hold the 2,500-step rows (the same real tiles and classifier seed).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, DATASET, TEACHER, train, SCRATCH
train scratch-ema 2500 "${SCRATCH[@]}" --ema
if [ ! -f "$WORK/scratch-ema-4000/model/model_card.json" ]; then
    mkdir -p "$WORK/scratch-ema-4000"
    [ -d "$WORK/scratch-ema-4000/checkpoints" ] || cp -r "$WORK/scratch-ema/checkpoints" "$WORK/scratch-ema-4000/"
    train scratch-ema-4000 4000 "${SCRATCH[@]}" --ema
fi
measure_seeds longer "$WORK/scratch-ema-4000/model" "guarded split EMA 4000 steps"
