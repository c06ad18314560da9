#!/usr/bin/env bash
# make bench-realism-layout-model: a learned layout prior. Given the real image's segments and their tones (section
# realism-tones' oracle) the tone model scores 56-59 %; given tones at the scale of a field but not the fields' shapes
# (realism-voronoi's oracle) or one tone per map region (realism-regions' oracle) about what maps alone score: the
# classifier sees the field mosaic, fields of even tone meeting at sharp edges. No layout drawn by a rule came close
# (Voronoi cells, donor tones, the first model's image segmented). Here a model learns to draw it: make
# train-demo-model's recipe (2,500 steps from scratch, EMA, band scaling) trained on the demo maps with each training
# patch's tone layout as its image (realism_tones.py --layout-targets: the real image's segments, each its mean
# tone). For each validation map it draws an image (noise seed 1000 + SEED, guidance 1), that image is segmented as a
# real patch is (so the layout is piecewise even, as in training), and section realism-tones' tone model (trained on
# the real layouts) paints it. Nothing of a held-out image is used. Measured at SEEDS on the validation patches
# against the same recipe on maps alone, C2ST the mean of 5 classifier runs. Rule, fixed before measuring: the layout
# model qualifies only if its whole-tile C2ST is lower than the maps alone's at every seed.
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, DATASET, train, SCRATCH, measure_five
SEEDS=${SEEDS:-0 1 2}
TONES=$WORK/dataset-tones
[ -f "$WORK/scratch-ema-scaled-tones/model/model_card.json" ] || {
    echo "No tone model in $WORK/scratch-ema-scaled-tones: run make bench-realism-tones first" >&2; exit 1; }
"$ROOT/.venv-backend/bin/python" scripts/realism_tones.py --layout-targets "$WORK/dataset-layout-targets" >/dev/null
train scratch-ema-scaled 2500 "${SCRATCH[@]}" --ema --data-scaling std
DATASET=$WORK/dataset-layout-targets train scratch-ema-scaled-layout-model 2500 "${SCRATCH[@]}" --ema \
    --data-scaling std
"$ROOT/.venv-backend/bin/python" scripts/realism_tones.py --out "$TONES" --seeds "$(echo $SEEDS | tr ' ' ,)" \
    --cascade "$WORK/scratch-ema-scaled-layout-model/model" --cascade-name layout-model >/dev/null
# The picture: map, real, the real image's layout and the layout model's (training rows: the real layout twice)
"$ROOT/.venv-backend/bin/python" -c 'import sys; sys.path.insert(0, "scripts"); from pathlib import Path
from realism_tones import picture; picture([Path(p) for p in sys.argv[1:-1]], Path(sys.argv[-1]))' \
    "$TONES/oracle" "$TONES/layout-model-${SEEDS%% *}" "$ROOT/docs/realism_layout_model_layouts.png"
for seed in $SEEDS; do
    measure_five scaled5 "$seed" "$WORK/scratch-ema-scaled/model" "maps without parcel boundaries"
    measure_five layout-model "$seed" "$WORK/scratch-ema-scaled-tones/model" "tone layouts drawn by a layout model" \
        "$TONES/layout-model-$seed"
done
