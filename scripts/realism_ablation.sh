#!/usr/bin/env bash
# make bench-realism-ablation: what makes the teacher's images easier to tell from real, measured on the demo
# dataset's validation patches (docs/BENCHMARKS.md, section realism-ablation). Three fine-tunes of the embedded
# teacher, 1,200 steps each (about 13 min each on 2 idle cores; a killed run resumes), then every row measured by
# scripts/measure_realism.py: the teacher with three samplers and the three fine-tunes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${MAPSYNTH_ABLATION_DIR:-$ROOT/.mapsynth-realism-ablation}
DATASET=${MAPSYNTH_DEMO_TRAINING:-$ROOT/.mapsynth-demo-training}/dataset
TEACHER=$ROOT/resources/models/mapsynth-demo-pixel-small
STEPS=${ABLATION_STEPS:-1200}
[ -f "$DATASET/radiometry.json" ] || {
    echo "No demo dataset in $DATASET: run DEMO_PREPARE_ONLY=1 make train-demo-model first" >&2; exit 1; }
fine_tune() {  # NAME [extra train-model options]: the teacher trained STEPS more steps
    local name=$1; shift
    [ -d "$WORK/$name/model" ] && return
    local resume=()
    [ -d "$WORK/$name/checkpoints" ] && resume=(--resume latest)
    echo "== fine-tune $name ($STEPS steps)"
    "$ROOT/.venv-backend/bin/mapsynth" train --dataset "$DATASET" --family pixel --preset small --base-model "$TEACHER" \
        --max-steps "$STEPS" --batch-size 8 --learning-rate 1e-4 --map-dropout 0.1 --seed 0 --device cpu \
        --checkpoint-every 200 --validation-every 0 --output-dir "$WORK/$name" "${resume[@]}" "$@"
}
fine_tune plain
fine_tune ema --ema
fine_tune ema-minsnr --ema --snr-gamma 5
# then: scripts/measure_realism.py --ablation (the make target bench-realism-ablation runs both)
