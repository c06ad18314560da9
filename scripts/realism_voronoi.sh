#!/usr/bin/env bash
# make bench-realism-voronoi: tone layouts that vary inside a map region at about the scale of a field, cut the same
# way in training and generation. Given each map region's real tone (section realism-regions' oracle) the teacher's
# recipe scores no better than on maps alone, while given the real image's segments (realism-tones' oracle) it
# scores 56-59 %: what the classifier sees is the tone variation inside a class at the scale of fields. Here every
# map region is cut into Voronoi cells of about 100 px (tone_layout.map_cells; 100 px is the area-weighted mean
# size of the real image's segments, set before measuring), in training and generation alike. Training patches: each
# cell its real mean tone (the cells' edges are not the fields' edges, so the model learns the tones as a guide, not
# as edges to paint); held-out patches: each cell the tone of a training cell of its class in one of the 5 training
# patches of most similar map (weight min/max of the two areas), a new draw per seed. Trains make
# train-demo-model's recipe on it (2,500 steps from scratch, EMA, band scaling) and measures it at SEEDS on the
# validation patches against the same recipe on maps alone, C2ST the mean of 5 classifier runs. Rule, fixed before
# measuring: Voronoi layouts qualify only if their whole-tile C2ST is lower than the maps alone's at every seed. A
# diagnosis, not a generation: the same model given the cells' tones read off the real validation images (an
# oracle), and the layouts' tile means alone (realism_tones.py --tile-stats).
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, layout_run, measure_five
SEEDS=${SEEDS:-0 1 2}
layout_run voronoi "maps with Voronoi tone layouts" --regions --area 100
for seed in $SEEDS; do
    measure_five voronoi-oracle "$seed" "$WORK/scratch-ema-scaled-voronoi/model" "cell tones of the real images" \
        "$WORK/dataset-voronoi/oracle"
done
