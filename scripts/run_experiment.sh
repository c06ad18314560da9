#!/usr/bin/env bash
# make experiment: the augmentation experiment (issue 18) on the Aberystwyth pairs of the embedded demo model (its
# own grid and held-out test split, rebuilt by train_demo_model.sh's preparation steps) with the embedded model:
# every arm, SEEDS seeds, the default real fractions. Resumable: rerun the same command after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${MAPSYNTH_EXPERIMENT_DIR:-$ROOT/.mapsynth-experiment}
MODEL=$ROOT/resources/models/mapsynth-demo-pixel-small
echo "== Aberystwyth pairs (grid, Sentinel-2 patches, derived maps, dataset) in $WORK/data"
[ -f "$WORK/data/dataset/test/metadata.jsonl" ] ||
    DEMO_PREPARE_ONLY=1 MAPSYNTH_DEMO_TRAINING="$WORK/data" scripts/train_demo_model.sh
echo "== experiment (progress below; resumes if interrupted)"
"$ROOT/.venv-backend/bin/mapsynth" augmentation-experiment --dataset "$WORK/data/dataset" --model "$MODEL" \
    --real-fractions "${FRACTIONS:-0.1,0.25,1.0}" --seeds "${SEEDS:-3}" --variations "${VARIATIONS:-1}" \
    --generation-steps "${GEN_STEPS:-10}" --steps "${SEG_STEPS:-200}" --batch-size "${SEG_BATCH:-8}" \
    --threads "${THREADS:-1}" \
    --output-dir "$WORK/results" --json
echo "results: $WORK/results/results.json, report: $WORK/results/report.html"
