#!/usr/bin/env bash
# make bench-realism-band-weights: does weighting each band's loss by the inverse of its pixel-to-pixel variation
# (train-model --band-weights gradient) give the visible bands the detail they lack? Measured on the demo dataset's
# validation patches (docs/BENCHMARKS.md, section realism-band-weights). Trains, in
# $MAPSYNTH_TRAINING_ABLATION_DIR (shared with make bench-realism-training; a killed run resumes, finished models
# are kept), the recipe of make train-demo-model from scratch on the guarded split (2,500 steps, learning rate 3e-4)
# without (scratch) and with the weights (scratch-bandw), and with an exponential moving average of the weights
# (scratch-ema, train-model --ema, decay 0.999), about 25 min each on 2 idle cores; then
# scripts/measure_realism.py measures them and the embedded teacher at SEEDS (generation noise and classifier).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, DATASET, TEACHER, train, SCRATCH
SEEDS=${SEEDS:-0 1 2}
train scratch 2500 "${SCRATCH[@]}"
train scratch-bandw 2500 "${SCRATCH[@]}" --band-weights gradient
train scratch-ema 2500 "${SCRATCH[@]}" --ema
for seed in $SEEDS; do
    [ -f "$WORK/measure-bandw-$seed/realism.json" ] && continue
    echo "== measuring, seed $seed"
    "$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance 1 --seed "$seed" \
        --out "$WORK/measure-bandw-$seed" \
        --variant "$TEACHER,20,,,embedded teacher" \
        --variant "$WORK/scratch/model,20,,,guarded split from scratch" \
        --variant "$WORK/scratch-bandw/model,20,,,guarded split from scratch band weights" >/dev/null
done
for seed in $SEEDS; do  # measured apart (same seed: the same real tiles), so the rows above are not redone
    [ -f "$WORK/measure-ema-$seed/realism.json" ] && continue
    echo "== measuring EMA, seed $seed"
    "$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance 1 --seed "$seed" \
        --out "$WORK/measure-ema-$seed" --variant "$WORK/scratch-ema/model,20,,,guarded split from scratch EMA" >/dev/null
done
# then: scripts/realism_band_weights_section.py WORK/measure-{bandw,ema}-*/realism.json (make bench-realism-band-weights)
