#!/usr/bin/env bash
# make bench-realism-tones: does a tone layout given with the map (backend prepare/tone_layout.py: which pixels form
# one even field and its tone, as 4 extra map channels) make the teacher's fields even and its tiles harder to tell
# from real? Drawing the field edges into the map did not help (realism-parcels): the tone of a whole field is one
# choice this UNet does not make; here it is made outside the network. scripts/realism_tones.py builds the demo
# dataset again with layouts (training patches: read off their own real image; held-out patches: drawn at random
# from training segments only, one dataset per layout seed), trains make train-demo-model's recipe on it (2,500
# steps from scratch, EMA, band scaling; about 25 min on 2 idle cores) and measures it at SEEDS on the validation
# patches (layout seed = generation seed) against the same recipe on maps alone (the embedded teacher's run), both
# with C2ST averaged over 5 classifier runs; scripts/realism_recipe_section.py tones writes the section. Rule, fixed
# before measuring: tone layouts go on (into generate) only if their whole-tile C2ST is lower at every seed.
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, DATASET, train, SCRATCH, measure_five, fields_pair
SEEDS=${SEEDS:-0 1 2}
TONES=$WORK/dataset-tones
FIRST=${SEEDS%% *}
"$ROOT/.venv-backend/bin/python" scripts/realism_tones.py --out "$TONES" --seeds "$(echo $SEEDS | tr ' ' ,)" \
    --picture "$ROOT/docs/realism_tones_layouts.png" --oracle --calibrated >/dev/null
train scratch-ema-scaled 2500 "${SCRATCH[@]}" --ema --data-scaling std
DATASET=$TONES/seed-$FIRST train scratch-ema-scaled-tones 2500 "${SCRATCH[@]}" --ema --data-scaling std
MODEL=$WORK/scratch-ema-scaled-tones/model
for seed in $SEEDS; do
    measure_five scaled5 "$seed" "$WORK/scratch-ema-scaled/model" "maps without parcel boundaries"
    measure_five tones "$seed" "$MODEL" "maps with tone layouts" "$TONES/seed-$seed"
done
# Inside the fields (realism_fields.py's measure, on the demo maps' grass): the same two models, the same seeds
fields_pair tones "maps alone" "$MODEL" "$TONES/seed-{seed}" "maps with tone layouts"
# Diagnosis, not a generation: the same model given the layouts read off the real validation images (it uses the
# held-out images): how far would the model get if its layouts were right?
for seed in $SEEDS; do
    measure_five tones-oracle "$seed" "$MODEL" "tone layouts of the real images" "$TONES/oracle"
done
# Two stages, nothing of a held-out image: the model on maps alone generates each validation map (noise seed
# SEED + 1000), its image is segmented like a real patch, and the tone model paints that layout. Added after the
# random layouts and the oracle were measured; the same rule, fixed before this arm was measured: the two stages
# qualify only if their whole-tile C2ST is lower than the maps alone's at every seed.
"$ROOT/.venv-backend/bin/python" scripts/realism_tones.py --out "$TONES" --seeds "$(echo $SEEDS | tr ' ' ,)" \
    --cascade "$WORK/scratch-ema-scaled/model" >/dev/null
for seed in $SEEDS; do
    measure_five tones-cascade "$seed" "$MODEL" "tone layouts of the first model's images" "$TONES/cascade-$seed"
done
# Calibrated draws (tone_layout.py ToneBank defaults: each cell the donor patch's tone at its seed, contrast 0.7,
# twice the cells; set on the training patches alone, after the plain draws were measured, so that the tone steps
# between neighbouring segments match real ones). Same rule, fixed before measuring: lower whole-tile C2ST than the
# maps alone at every seed.
for seed in $SEEDS; do
    measure_five tones-calibrated "$seed" "$MODEL" "calibrated tone layouts" "$TONES/calibrated-$seed"
done
