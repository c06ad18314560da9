#!/usr/bin/env bash
# make bench-realism-training: does the training split or augmentation make the teacher harder to tell from real?
# Measured on the demo dataset's validation patches (docs/BENCHMARKS.md, section realism-training). Trains, in
# $MAPSYNTH_TRAINING_ABLATION_DIR (a killed run resumes; finished models are kept):
#   scratch, scratch-d4   2,500 steps from scratch on the guarded split, as make train-demo-model trains now
#                         (learning rate 3e-4), without and with random flips and quarter turns (--augment d4);
#   tune, tune-d4         the embedded teacher 1,200 more steps (learning rate 1e-4), without and with d4.
# About 22 min per scratch model and 11 min per fine-tune on 2 idle cores; then scripts/measure_realism.py measures
# every row; make bench-realism-training then runs scripts/realism_training_section.py for the section.
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, DATASET, TEACHER, train, SCRATCH
TUNE=(--base-model "$TEACHER" --learning-rate 1e-4 --checkpoint-every 200 --validation-every 0)
train scratch 2500 "${SCRATCH[@]}"
train scratch-d4 2500 "${SCRATCH[@]}" --augment d4
train tune 1200 "${TUNE[@]}"
train tune-d4 1200 "${TUNE[@]}" --augment d4
"$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance 1 --out "$WORK/measure" \
    --variant "$TEACHER,20,,,embedded teacher" \
    --variant "$WORK/tune/model,20,,,teacher +1200 steps" \
    --variant "$WORK/tune-d4/model,20,,,teacher +1200 steps d4" \
    --variant "$WORK/scratch/model,20,,,guarded split from scratch" \
    --variant "$WORK/scratch-d4/model,20,,,guarded split from scratch d4" >/dev/null
# then: scripts/realism_training_section.py WORK/measure/realism.json (make bench-realism-training runs both)
