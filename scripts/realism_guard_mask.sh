#!/usr/bin/env bash
# make bench-realism-guard-mask: does training on more of the scene lower what a discriminator sees? The guarded
# split drops every training window that shares a pixel with a held-out patch (136 of the grid's 342); here those
# windows train too, with the shared pixels hidden (build-training-dataset --train-guard: Sentinel-2 nodata, which
# the loss skips, and the map's outside-data colour; its dataset card counts the pixels the splits share: 0).
# Trains the recipe of make train-demo-model (2,500 steps from scratch, EMA) on that dataset in
# $MAPSYNTH_TRAINING_ABLATION_DIR/scratch-ema-guardmask (about 25 min on 2 idle cores), then measures it on the
# validation patches at SEEDS in one run with the same recipe on the guarded split alone (scratch-ema of make
# bench-realism-band-weights, trained here if missing; the embedded teacher is that run): the same real tiles and
# classifier seed for both rows.
set -euo pipefail
source "$(dirname "$0")/realism_train_lib.sh"  # ROOT, WORK, DATASET, TEACHER, train, SCRATCH
SEEDS=${SEEDS:-0 1 2}
MASKED=$WORK/dataset-guard-mask
DEMO=$(dirname "$DATASET")
"$BACKEND" build-training-dataset --patch-grid "$DEMO/grid.gpkg" --map-dir "$DEMO/maps" --s2-dir "$DEMO/s2" \
    --clip "$("$ROOT/.venv-backend/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["details"]["clip"])' \
        "$DATASET/mapsynth_output.json")" --train-guard --output-dir "$MASKED" >/dev/null
train scratch-ema 2500 "${SCRATCH[@]}" --ema
DATASET=$MASKED train scratch-ema-guardmask 2500 "${SCRATCH[@]}" --ema
for seed in $SEEDS; do
    [ -f "$WORK/measure-guardmask-$seed/realism.json" ] && continue
    echo "== measuring, seed $seed"
    "$ROOT/.venv-backend/bin/python" scripts/measure_realism.py --splits validation --guidance 1 --seed "$seed" \
        --out "$WORK/measure-guardmask-$seed" --variant "$WORK/scratch-ema/model,20,,,guarded split EMA" \
        --variant "$WORK/scratch-ema-guardmask/model,20,,,guard patches trained (shared pixels hidden) EMA" \
        >/dev/null
done
