#!/usr/bin/env bash
# make bench-realism-regions: tone layouts cut along the map's own regions. The tone layouts of section
# realism-tones were cut from the real image in training (Felzenszwalb segments) but drawn as Voronoi cells in
# generation, two different kinds of picture, and their draws scored higher than maps alone. Here training and
# generation cut the same way, along the map's own regions (tone_layout.map_regions: the 8-connected pieces of each
# class; around Aberystwyth the largest grass region holds about 80 % of a patch's grass, so a layout says mostly
# which tone each class has in this patch, not each field's). Training patches: each region its real mean tone;
# held-out patches: each region the tone of a region of its class in one of the 5 training patches of most similar
# map (weight min/max of the two areas), a new draw per seed (layout seed = generation seed). Trains make
# train-demo-model's recipe on it (2,500 steps from scratch, EMA, band scaling) and measures it at SEEDS on the
# validation patches against the same recipe on maps alone (the embedded teacher's run), C2ST the mean of 5
# classifier runs. Rule, fixed before measuring: region layouts qualify only if their whole-tile C2ST is lower than
# the maps alone's at every seed. A diagnosis, not a generation: the same model given the regions' tones read off
# the real validation images (an oracle, first seed only), and the layouts' tile means alone (realism_tones.py
# --tile-stats).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, DATASET, train, SCRATCH, measure_five, fields_pair
SEEDS=${SEEDS:-0 1 2}
REGIONS=$WORK/dataset-regions
FIRST=${SEEDS%% *}
"$ROOT/.venv-backend/bin/python" scripts/realism_tones.py --regions --out "$REGIONS" \
    --seeds "$(echo $SEEDS | tr ' ' ,)" --picture "$ROOT/docs/realism_regions_layouts.png" --oracle --tile-stats \
    >/dev/null
train scratch-ema-scaled 2500 "${SCRATCH[@]}" --ema --data-scaling std
DATASET=$REGIONS/seed-$FIRST train scratch-ema-scaled-regions 2500 "${SCRATCH[@]}" --ema --data-scaling std
MODEL=$WORK/scratch-ema-scaled-regions/model
for seed in $SEEDS; do
    measure_five scaled5 "$seed" "$WORK/scratch-ema-scaled/model" "maps without parcel boundaries"
    measure_five regions "$seed" "$MODEL" "maps with region tone layouts" "$REGIONS/seed-$seed"
done
measure_five regions-oracle "$FIRST" "$MODEL" "region tones of the real images" "$REGIONS/oracle"
fields_pair regions "maps alone" "$MODEL" "$REGIONS/seed-{seed}" "maps with region tone layouts"
