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
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, layout_run, measure_five, fields_pair
SEEDS=${SEEDS:-0 1 2}
layout_run regions "maps with region tone layouts" --regions
MODEL=$WORK/scratch-ema-scaled-regions/model
measure_five regions-oracle "${SEEDS%% *}" "$MODEL" "region tones of the real images" "$WORK/dataset-regions/oracle"
fields_pair regions "maps alone" "$MODEL" "$WORK/dataset-regions/seed-{seed}" "maps with region tone layouts"
