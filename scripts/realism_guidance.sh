#!/usr/bin/env bash
# make bench-realism-guidance: does classifier-free map guidance above 1 (the scale train-model's cards recommend, 2;
# the embedded teacher's card says 1, chosen for its per-class NDVI) make the teacher's tiles harder to tell from
# real? The embedded teacher with its card's sampler and water hold at guidance 1 and at 2 (twice the network
# evaluations per step), on the validation patches at SEEDS (about 2 min each on 2 cores).
# Rule, fixed before the first measurement: guidance 2 replaces the card's 1 only if the whole-tile C2ST is lower at
# every seed (the rule the teacher's sampler was chosen by).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, TEACHER
for scale in 1 2; do
    for seed in ${SEEDS:-0 1 2}; do
        [ -f "$WORK/measure-guidance-$scale-$seed/realism.json" ] && continue
        echo "== measuring guidance $scale, seed $seed"
        "$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance "$scale" \
            --seed "$seed" --out "$WORK/measure-guidance-$scale-$seed" \
            --variant "$TEACHER,20,,,embedded teacher guidance $scale" >/dev/null
    done
done
