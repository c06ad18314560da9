#!/usr/bin/env bash
# make bench-realism-scaling: does diffusing each band at the same spread bring the teacher's recipe closer to real?
# Trains the recipe of make train-demo-model (2,500 steps from scratch, batch 8, learning rate 3e-4, EMA, seed 0,
# guarded split) with train-model --data-scaling std (each band at spread 0.5 around its training-split mean instead
# of its clip range's [-1, 1]; about 25 min on 2 cores) in scratch-ema-scaled, then measures it on the validation
# patches at SEEDS with the seeds of make bench-realism-guard-mask, whose files hold the unscaled rows (the embedded
# teacher; the same real tiles and classifier seed).
# Rule, fixed before the first measurement: band scaling enters the teacher's recipe only if its whole-tile C2ST is
# lower at every seed (the rule the teacher's sampler was chosen by).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, train, embedded_run
embedded_run
# the most built-up validation patches at full resolution, real and both models (seed 0; texture measures only)
if [ ! -f "$WORK/measure-scaled-picture/town.png" ]; then
    "$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance 1 --seed 0 --no-c2st \
        --out "$WORK/measure-scaled-picture" --variant "$WORK/scratch-ema/model,20,,,embedded teacher's recipe" \
        --variant "$WORK/scratch-ema-scaled/model,20,,,with band scaling" >/dev/null
fi
cp "$WORK/measure-scaled-picture/town.png" docs/realism_scaling_town.png
