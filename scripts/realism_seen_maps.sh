#!/usr/bin/env bash
# make bench-realism-seen-maps: is the embedded teacher easier to tell from real on maps it never saw than on the
# maps it was trained on? Measures it (card settings, seed 0) on as many of the demo dataset's training patches
# (evenly spaced) as it has validation patches, and on those, as the realism section does (C2ST grows with the
# number of tiles, so the two sets are the same size; about 4 min on 2 cores); scripts/realism_seen_maps_section.py
# writes the section. Equal scores say the gap to real is not overfitting to the training patches.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${MAPSYNTH_TRAINING_ABLATION_DIR:-.mapsynth-realism-training}
TEACHER=resources/models/mapsynth-demo-pixel-small
HELD=$(wc -l < "${MAPSYNTH_DEMO_TRAINING:-.mapsynth-demo-training}/dataset/validation/metadata.jsonl")
for split in train validation; do
    [ -f "$WORK/measure-seen-$split/realism.json" ] && continue
    echo "== measuring on the $split patches"
    .venv-backend/bin/python scripts/measure_realism.py --splits "$split" --patches "$HELD" --seed 0 \
        --out "$WORK/measure-seen-$split" --variant "$TEACHER,20,,,embedded teacher" >/dev/null
done
