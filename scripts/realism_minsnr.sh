#!/usr/bin/env bash
# make bench-realism-minsnr: does min-SNR loss weighting (gamma 5, Hang et al. 2023) bring the embedded teacher's
# recipe closer to real when trained from scratch? (make bench-realism-ablation tried it only as a 1,200-step
# fine-tune of an earlier teacher, without band scaling.) Trains the recipe of make train-demo-model (2,500 steps from
# scratch, batch 8, learning rate 3e-4, EMA, band scaling std, seed 0, guarded split) with --snr-gamma 5 in
# scratch-ema-scaled-minsnr (about 15 min on 2 cores), then measures it on the validation patches at SEEDS against
# the embedded teacher's run (embedded_run, trained and measured first when missing; the same real tiles and
# classifier seeds).
# Rule, fixed before the first measurement: min-SNR weighting enters make train-demo-model only if the whole-tile
# C2ST is lower at every seed (the rule band scaling and the preset were chosen by).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, train, SCRATCH, embedded_run
embedded_run
train scratch-ema-scaled-minsnr 2500 "${SCRATCH[@]}" --ema --data-scaling std --snr-gamma 5
measure_seeds minsnr-scaled "$WORK/scratch-ema-scaled-minsnr/model" "guarded split EMA band scaling min-SNR 5"
