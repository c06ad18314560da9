#!/usr/bin/env bash
# make bench-pix2pix: the pix2pix baseline (a conditional GAN, one network pass per image) against the pixel
# diffusion models, through the same realism and spectra measures, on the demo dataset's test patches
# (docs/BENCHMARKS.md, section pix2pix, by scripts/pix2pix_section.py). Trains pix2pix small on the guarded demo
# split (P2P_STEPS, default 2000; about 8 min on 2 idle cores; a killed run resumes from its checkpoints) in
# $P2P_DIR, then measures:
#   the embedded teacher and the few-step student (make demo's), each with its card's settings;
#   a teacher trained from scratch on the same guarded split as pix2pix (make bench-realism-training's 'scratch',
#   when $MAPSYNTH_TRAINING_ABLATION_DIR has it: the fair comparison, same training pixels);
#   pix2pix small.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATASET=${MAPSYNTH_DEMO_TRAINING:-$ROOT/.mapsynth-demo-training}/dataset
P2P=${P2P_DIR:-$ROOT/.mapsynth-pix2pix-small}
ABLATION=${MAPSYNTH_TRAINING_ABLATION_DIR:-$ROOT/.mapsynth-realism-training}
MODELS=$ROOT/resources/models
BACKEND=$ROOT/.venv-backend/bin
[ -f "$DATASET/radiometry.json" ] || DEMO_PREPARE_ONLY=1 scripts/train_demo_model.sh
if [ ! -f "$P2P/model/model_card.json" ]; then
    RESUME=()
    ls -d "$P2P"/checkpoints/checkpoint-* >/dev/null 2>&1 && RESUME=(--resume latest)
    "$BACKEND/mapsynth" train-model --dataset "$DATASET" --family pix2pix --preset small \
        --max-steps "${P2P_STEPS:-2000}" --batch-size 8 --learning-rate 2e-4 --checkpoint-every 250 \
        --validation-every 0 --seed 0 --device cpu --output-dir "$P2P" "${RESUME[@]}"
fi
ROWS=(--variant "$MODELS/mapsynth-demo-pixel-small,0,,,embedded teacher"
      --variant "$MODELS/mapsynth-demo-pixel-fewstep,0,,,few-step student")
[ -f "$ABLATION/scratch/model/model_card.json" ] &&
    ROWS+=(--variant "$ABLATION/scratch/model,20,,,teacher recipe on the guarded split")
ROWS+=(--variant "$P2P/model,1,,,pix2pix small")
"$BACKEND/python" scripts/measure_realism.py --splits test --guidance 1 --out "$P2P/measure" "${ROWS[@]}" >/dev/null
# then: scripts/pix2pix_section.py P2P_DIR/measure/realism.json (make bench-pix2pix runs both)
