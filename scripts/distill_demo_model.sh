#!/usr/bin/env bash
# make distill-demo-model: the embedded few-step student of the embedded demo model (issue 22), reproducibly.
# Progressive distillation with the guidance make demo uses folded in (1.0, water=1.75 within 2 px), 4 student
# steps x 5 teacher DDIM steps, on the demo model's own dataset (make train-demo-model writes it; DEMO_PREPARE_ONLY=1
# stops after the dataset), then packaged with float16 weights (loaded as float32) into
# resources/models/mapsynth-demo-pixel-fewstep. About 1 h on 2 idle cores (1,600 steps at about 2 s).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${MAPSYNTH_DEMO_TRAINING:-$ROOT/.mapsynth-demo-training}
TEACHER=$ROOT/resources/models/mapsynth-demo-pixel-small
OUT=${MAPSYNTH_DISTILL_DIR:-$WORK/distill}
[ -f "$WORK/dataset/radiometry.json" ] || {
    echo "No demo dataset in $WORK/dataset: run DEMO_PREPARE_ONLY=1 make train-demo-model first" >&2; exit 1; }
RESUME=()
[ -d "$OUT/checkpoints" ] && RESUME=(--resume latest)  # a killed run goes on where it stopped
"$ROOT/.venv-backend/bin/mapsynth" train-model --dataset "$WORK/dataset" --distill-from "$TEACHER" \
    --distill-steps 4 --distill-substeps 5 --distill-class-guidance water=1.75 --distill-class-guidance-margin 2 \
    --max-steps "${DISTILL_STEPS:-1600}" --batch-size 8 --learning-rate 1e-4 --lr-scheduler cosine \
    --lr-warmup-steps 20 --checkpoint-every 100 --checkpoints-total-limit 2 --validation-every 0 --device cpu \
    --seed 0 --output-dir "$OUT" "${RESUME[@]}"
"$ROOT/.venv-backend/bin/python" "$ROOT/scripts/package_fewstep_model.py" "$OUT/model" "$WORK/dataset"
