#!/usr/bin/env bash
# make bench-realism-band-weights: does weighting each band's loss by the inverse of its pixel-to-pixel variation
# (train-model --band-weights gradient) give the visible bands the detail they lack? Measured on the demo dataset's
# validation patches (docs/BENCHMARKS.md, section realism-band-weights). Trains, in
# $MAPSYNTH_TRAINING_ABLATION_DIR (shared with make bench-realism-training; a killed run resumes, finished models
# are kept), the recipe of make train-demo-model from scratch on the guarded split (2,500 steps, learning rate 3e-4)
# without (scratch) and with the weights (scratch-bandw), about 25 min each on 2 idle cores; then
# scripts/measure_realism.py measures both and the embedded teacher at SEEDS (generation noise and classifier).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${MAPSYNTH_TRAINING_ABLATION_DIR:-$ROOT/.mapsynth-realism-training}
DATASET=${MAPSYNTH_DEMO_TRAINING:-$ROOT/.mapsynth-demo-training}/dataset
TEACHER=$ROOT/resources/models/mapsynth-demo-pixel-small
BACKEND=$ROOT/.venv-backend/bin/mapsynth
SEEDS=${SEEDS:-0 1 2}
[ -f "$DATASET/radiometry.json" ] || {
    echo "No demo dataset in $DATASET: run DEMO_PREPARE_ONLY=1 make train-demo-model first" >&2; exit 1; }
train() {  # NAME [train-model options]
    local name=$1; shift
    [ -f "$WORK/$name/model/model_card.json" ] && return
    local resume=()
    [ -d "$WORK/$name/checkpoints" ] && resume=(--resume latest)
    echo "== $name"
    "$BACKEND" train --dataset "$DATASET" --family pixel --preset small --max-steps 2500 --batch-size 8 \
        --map-dropout 0.1 --seed 0 --device cpu --output-dir "$WORK/$name" --learning-rate 3e-4 \
        --checkpoint-every 250 --validation-every 500 "${resume[@]}" "$@"
}
train scratch
train scratch-bandw --band-weights gradient
for seed in $SEEDS; do
    [ -f "$WORK/measure-bandw-$seed/realism.json" ] && continue
    echo "== measuring, seed $seed"
    "$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance 1 --seed "$seed" \
        --out "$WORK/measure-bandw-$seed" \
        --variant "$TEACHER,20,,,embedded teacher" \
        --variant "$WORK/scratch/model,20,,,guarded split from scratch" \
        --variant "$WORK/scratch-bandw/model,20,,,guarded split from scratch band weights" >/dev/null
done
# then: scripts/realism_band_weights_section.py WORK/measure-bandw-*/realism.json (make bench-realism-band-weights)
