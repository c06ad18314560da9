#!/usr/bin/env bash
# make bench-realism-preset: does a larger pixel model bring the teacher's recipe closer to real? Trains the recipe of
# make train-demo-model (2,500 steps from scratch, batch 8, learning rate 3e-4, EMA, band scaling std, seed 0, guarded
# split) with preset medium (9.1 M parameters against small's 3.6 M; about 1 h on 2 cores) in
# scratch-ema-medium-scaled, then measures it on the validation patches at SEEDS against the embedded teacher's run
# (embedded_run, trained and measured first when missing; the same real tiles and classifier seeds).
# Rule, fixed before the first measurement: medium replaces small as the teacher's preset only if its whole-tile C2ST
# is lower at every seed (the rule the teacher's sampler and band scaling were chosen by).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, train, SCRATCH, embedded_run
# train-model takes the last --preset given: medium overrides the library's small
embedded_run
train scratch-ema-medium-scaled 2500 "${SCRATCH[@]}" --ema --data-scaling std --preset medium
measure_seeds medium-scaled "$WORK/scratch-ema-medium-scaled/model" "guarded split EMA band scaling medium"
