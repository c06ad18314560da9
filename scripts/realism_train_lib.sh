# Sourced by the realism ablation scripts (scripts/realism_*.sh): their shared folder, the demo dataset,
# `train NAME STEPS [train-model options]`, one pixel model (preset small unless the options give another, batch 8,
# map dropout 0.1, seed 0) in $WORK/NAME (a finished model is kept, a killed run resumes from its latest checkpoint),
# and `measure_seeds NAME MODEL LABEL`, the validation patches at $SEEDS (default 0 1 2) in $WORK/measure-NAME-SEED
# (kept when there), guidance 1, the row named LABEL.
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${MAPSYNTH_TRAINING_ABLATION_DIR:-$ROOT/.mapsynth-realism-training}
DATASET=${MAPSYNTH_DEMO_TRAINING:-$ROOT/.mapsynth-demo-training}/dataset
TEACHER=$ROOT/resources/models/mapsynth-demo-pixel-small
BACKEND=$ROOT/.venv-backend/bin/mapsynth
[ -f "$DATASET/radiometry.json" ] || {
    echo "No demo dataset in $DATASET: run DEMO_PREPARE_ONLY=1 make train-demo-model first" >&2; exit 1; }
train() {  # NAME STEPS [train-model options]
    local name=$1 steps=$2; shift 2
    [ -f "$WORK/$name/model/model_card.json" ] && return
    local resume=()
    [ -d "$WORK/$name/checkpoints" ] && resume=(--resume latest)
    echo "== $name ($steps steps)"
    "$BACKEND" train --dataset "$DATASET" --family pixel --preset small --max-steps "$steps" --batch-size 8 \
        --map-dropout 0.1 --seed 0 --device cpu --output-dir "$WORK/$name" "${resume[@]}" "$@"
}
SCRATCH=(--learning-rate 3e-4 --checkpoint-every 250 --validation-every 500)
measure_seeds() {  # NAME MODEL LABEL
    local name=$1 model=$2 label=$3 seed
    for seed in ${SEEDS:-0 1 2}; do
        [ -f "$WORK/measure-$name-$seed/realism.json" ] && continue
        echo "== measuring $name, seed $seed"
        "$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance 1 --seed "$seed" \
            --out "$WORK/measure-$name-$seed" --variant "$model,20,,,$label" >/dev/null
    done
}
# The embedded teacher's run: make train-demo-model's recipe (band scaling) in $WORK/scratch-ema-scaled, measured at
# SEEDS in $WORK/measure-scaled-SEED, the baseline of every change to that recipe
embedded_run() {
    train scratch-ema-scaled 2500 "${SCRATCH[@]}" --ema --data-scaling std
    measure_seeds scaled "$WORK/scratch-ema-scaled/model" "guarded split EMA band scaling"
}
# `measure_five NAME SEED MODEL LABEL [DATASET]`: one validation measurement with C2ST averaged over 5 classifier runs
# in $WORK/measure-NAME-SEED (kept when there), guidance $GUIDANCE (default 1), the row named LABEL, the maps (and
# tone layouts) of DATASET (default the demo dataset)
measure_five() {
    local name=$1 seed=$2 model=$3 label=$4 data=()
    [ -n "${5:-}" ] && data=(--dataset "$5")
    [ -f "$WORK/measure-$name-$seed/realism.json" ] && return
    echo "== measuring $name, seed $seed"
    "$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance "${GUIDANCE:-1}" \
        --seed "$seed" --c2st-repeats 5 --out "$WORK/measure-$name-$seed" "${data[@]}" \
        --variant "$model,20,,,$label" >/dev/null
}
# `fields_pair NAME BASELINE_LABEL MODEL DATASET LABEL`: realism_fields.py's measure inside the demo maps' grass at
# $SEEDS for the embedded teacher's run (row BASELINE_LABEL) and MODEL on DATASET's maps ({seed}: one per seed), in
# $WORK/fields-NAME (kept when there), the picture docs/realism_NAME_fields.png
fields_pair() {
    local name=$1 baseline=$2 model=$3 data=$4 label=$5
    [ -f "$WORK/fields-$name/fields.json" ] && return
    "$ROOT/.venv-backend/bin/python" scripts/realism_fields.py --seeds "$(echo ${SEEDS:-0 1 2} | tr ' ' ,)" \
        --guidance 1 --out "$WORK/fields-$name" --picture "$ROOT/docs/realism_${name}_fields.png" \
        --variant "$WORK/scratch-ema-scaled/model,$DATASET,$baseline" --variant "$model,$data,$label" >/dev/null
}
# `derived_dataset NAME [derive-maps options]`: the demo scene's maps derived again with those options in
# $WORK/maps-NAME and the demo dataset built again from them (same grid, splits, Sentinel-2 patches and clip ranges)
# in $WORK/dataset-NAME (kept when there)
derived_dataset() {
    local name=$1 demo
    shift
    demo=$(dirname "$DATASET")
    [ -f "$WORK/dataset-$name/radiometry.json" ] && return
    "$BACKEND" derive-maps --patch-grid "$demo/grid.gpkg" --s2-dir "$demo/s2" --output-dir "$WORK/maps-$name" \
        "$@" >/dev/null
    "$BACKEND" build-training-dataset --patch-grid "$demo/grid.gpkg" --map-dir "$WORK/maps-$name" \
        --s2-dir "$demo/s2" --clip "$("$ROOT/.venv-backend/bin/python" -c \
            'import json, sys; print(json.load(open(sys.argv[1]))["details"]["clip"])' "$DATASET/mapsynth_output.json")" \
        --output-dir "$WORK/dataset-$name" >/dev/null
}
# `layout_run NAME LABEL [realism_tones.py options]`: the tone layouts those options draw, in $WORK/dataset-NAME (with
# the oracle's, the picture docs/realism_NAME_layouts.png and the layouts' tile means, tile_stats.json), the embedded
# teacher's recipe trained on them in $WORK/scratch-ema-scaled-NAME and measured at $SEEDS with measure_five, the row
# named LABEL in $WORK/measure-NAME-SEED, beside the maps alone's in $WORK/measure-scaled5-SEED
layout_run() {
    local name=$1 label=$2 seed seeds
    shift 2
    seeds=$(echo ${SEEDS:-0 1 2} | tr ' ' ,)
    "$ROOT/.venv-backend/bin/python" scripts/realism_tones.py "$@" --out "$WORK/dataset-$name" --seeds "$seeds" \
        --picture "$ROOT/docs/realism_${name}_layouts.png" --oracle --tile-stats >/dev/null
    train scratch-ema-scaled 2500 "${SCRATCH[@]}" --ema --data-scaling std
    DATASET=$WORK/dataset-$name/seed-${seeds%%,*} train "scratch-ema-scaled-$name" 2500 "${SCRATCH[@]}" --ema \
        --data-scaling std
    for seed in ${SEEDS:-0 1 2}; do
        measure_five scaled5 "$seed" "$WORK/scratch-ema-scaled/model" "maps without parcel boundaries"
        measure_five "$name" "$seed" "$WORK/scratch-ema-scaled-$name/model" "$label" "$WORK/dataset-$name/seed-$seed"
    done
}
