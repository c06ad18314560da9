#!/usr/bin/env bash
# make bench-realism-cosine: does decaying the learning rate to 0 over the run (cosine, as diffusers' training
# examples offer) instead of holding it at 3e-4 bring the embedded teacher's recipe closer to real? Training for
# fewer steps left it noisier and training longer smoother; an annealed run ends at a low learning rate. Trains the
# recipe of make train-demo-model (2,500 steps from scratch, batch 8, peak learning rate 3e-4, EMA, band scaling std,
# seed 0, guarded split) with --lr-scheduler cosine in scratch-ema-scaled-cosine (about 15 min on 2 cores), then
# measures it on the validation patches at SEEDS against the embedded teacher's run (embedded_run, trained and
# measured first when missing; the same real tiles and classifier seeds).
# Rule, fixed before the first measurement: the cosine schedule replaces the constant one in make train-demo-model
# only if the whole-tile C2ST is lower at every seed (the rule band scaling and the preset were chosen by).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, train, SCRATCH, embedded_run
embedded_run
train scratch-ema-scaled-cosine 2500 "${SCRATCH[@]}" --ema --data-scaling std --lr-scheduler cosine
measure_seeds cosine-scaled "$WORK/scratch-ema-scaled-cosine/model" "guarded split EMA band scaling cosine"
