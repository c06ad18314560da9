#!/usr/bin/env bash
# make bench-realism-parcels: does a map that draws where one field meets the next make the teacher's fields less
# mottled and its tiles harder to tell from real? Real fields are even tones with sharp edges that the derived maps
# do not draw (section realism-fields). Derives the demo scene's maps again with derive-maps --parcel-boundaries
# (field_edges.py: field edges in the parcel-boundary colour), builds the same dataset from them (same grid, splits
# and Sentinel-2 patches), trains make train-demo-model's recipe on it (2,500 steps from scratch, EMA, band scaling;
# about 25 min on 2 idle cores) and measures it at SEEDS on the validation patches of its own maps, against the same
# recipe on the maps without them (the embedded teacher's run, trained here if missing), both with C2ST averaged
# over 5 classifier runs; scripts/realism_recipe_section.py parcels writes the section. Rule, fixed before measuring:
# parcel boundaries qualify for the demo's maps only if their whole-tile C2ST is lower at every seed.
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, train, SCRATCH, measure_five, fields_pair, derived_dataset
SEEDS=${SEEDS:-0 1 2}
PARCELS=$WORK/dataset-parcels
derived_dataset parcels --parcel-boundaries
train scratch-ema-scaled 2500 "${SCRATCH[@]}" --ema --data-scaling std
DATASET=$PARCELS train scratch-ema-scaled-parcels 2500 "${SCRATCH[@]}" --ema --data-scaling std
for seed in $SEEDS; do
    measure_five scaled5 "$seed" "$WORK/scratch-ema-scaled/model" "maps without parcel boundaries"
    measure_five parcels "$seed" "$WORK/scratch-ema-scaled-parcels/model" "maps with parcel boundaries" "$PARCELS"
done
# Inside the fields (realism_fields.py's measure, on the demo maps' grass): the same two models, the same seeds
fields_pair parcels "maps without parcel boundaries" "$WORK/scratch-ema-scaled-parcels/model" "$PARCELS" \
    "maps with parcel boundaries"
