#!/usr/bin/env bash
# make bench-pix2pix (issue 21): the pix2pix baseline against the embedded pixel diffusion model on the demo scene's
# pairs. Needs make experiment's data and segmenter (run first when missing); trains pix2pix small on the same
# training pairs (P2P_STEPS, default 500; resumes from its checkpoints), then scripts/bench_pix2pix.py.
# Every stage is cached: rerun the same command after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${MAPSYNTH_EXPERIMENT_DIR:-$ROOT/.mapsynth-experiment}
P2P=${P2P_DIR:-$ROOT/.mapsynth-pix2pix-small}
BACKEND=$ROOT/.venv-backend/bin
[ -f "$WORK/results/segmenter/segmenter_card.json" ] || scripts/run_experiment.sh
if [ ! -f "$P2P/model/model_card.json" ]; then
    RESUME=()
    ls -d "$P2P"/checkpoints/checkpoint-* >/dev/null 2>&1 && RESUME=(--resume latest)
    OMP_NUM_THREADS=${THREADS:-1} "$BACKEND/mapsynth" train-model --dataset "$WORK/data/dataset" --family pix2pix \
        --preset small --max-steps "${P2P_STEPS:-500}" --batch-size 8 --learning-rate 2e-4 --checkpoint-every 250 \
        --validation-every 250 --device cpu --output-dir "$P2P" "${RESUME[@]}"
fi
mkdir -p "$ROOT/.mapsynth-bench-pix2pix"
OMP_NUM_THREADS=${THREADS:-1} "$BACKEND/python" scripts/bench_pix2pix.py --dataset "$WORK/data/dataset" \
    --pix2pix "$P2P/model" --segmenter "$WORK/results/segmenter" --pixel-synthetic-dir "$WORK/results/synthetic" \
    --out "$ROOT/.mapsynth-bench-pix2pix" | tee "$ROOT/.mapsynth-bench-pix2pix/report.json"
