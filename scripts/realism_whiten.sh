#!/usr/bin/env bash
# make bench-realism-whiten: do the teacher's bands move together as real ones do when it diffuses them decorrelated?
# With band scaling (train-model --data-scaling std, the embedded teacher) each band is scaled alone, so the
# network's errors, about alike in every channel, come back independent per band, while real bands move together:
# the generated bands are decorrelated (B03-B08 within a tile about +0.03 against real -0.12; between tiles' means
# -0.18 against -0.47). Trains make train-demo-model's recipe with --data-scaling whiten instead (ZCA: the bands
# together, decorrelated to a spread of 0.5 each; models/band_scaling.py; the same steps, batch size, seed and
# patches; about 25 min on 2 idle cores) and measures it at SEEDS on the validation patches against the same recipe
# with std (the embedded teacher's run, trained here if missing), both with C2ST averaged over 5 classifier runs;
# scripts/realism_recipe_section.py whiten writes the section. Rule, fixed before measuring: whitening qualifies for
# the teacher's recipe only if its whole-tile C2ST is lower at every seed.
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, train, SCRATCH, measure_five
SEEDS=${SEEDS:-0 1 2}
train scratch-ema-scaled 2500 "${SCRATCH[@]}" --ema --data-scaling std
train scratch-ema-whiten 2500 "${SCRATCH[@]}" --ema --data-scaling whiten
for seed in $SEEDS; do
    measure_five scaled5 "$seed" "$WORK/scratch-ema-scaled/model" "maps without parcel boundaries"
    measure_five whiten "$seed" "$WORK/scratch-ema-whiten/model" "bands whitened"
done
