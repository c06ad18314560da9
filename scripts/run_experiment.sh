#!/usr/bin/env bash
# make experiment: is synthetic imagery useful? The augmentation experiment on the Aberystwyth pairs of the demo
# model's grid, scored on INDEPENDENT labels: the hand-digitised rsgislib polygons (forest, grass, urban, water),
# never on the derived maps (those are weak training labels only). Resumable: rerun the same command after a kill.
#
# The design on a 2-core machine, within 90 min (each setting is an environment variable):
#   FRACTIONS=0.1,0.25,1.0 (every fraction with synthetic arms; at 1.0 a generator per fold and no unpaired-maps
#                        arm: every map far enough from a fold's polygons is in its block)
#   SEEDS=10            (paired across arms)
#   FOLDS=2             (spatial folds of polygon clusters; they matter at fraction 1.0, whose blocks are per fold)
#   GEN_TRAIN_STEPS=300 (the 10 % block's generator, pixel preset small, trained FROM SCRATCH on that block only:
#                        the embedded demo model saw most polygon pixels in training, so it cannot be the start)
#   SEG_STEPS=1000      (at most; early stopping on a validation block far from every polygon, patience 4 x 25
#                        steps: at 200, half the runs still improved at their last step)
# Never cut: the labels' independence from the imagery and the guard between scored pixels and training patches.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${MAPSYNTH_SHARED_DATA:-$ROOT/../shared/data}
WORK=${MAPSYNTH_EXPERIMENT_DIR:-$ROOT/.mapsynth-experiment}
MODEL=$ROOT/resources/models/mapsynth-demo-pixel-small
POLYGONS="$DATA/labels_aberystwyth_rsgislib/cls_poly_smpls.gpkg"
PY=$ROOT/.venv-backend/bin/python
[ -f "$POLYGONS" ] || { echo "The independent labels are missing: $POLYGONS" >&2; exit 1; }
START=$(date +%s)
# end to end only if this invocation does everything: no prepared data, labels or results from an earlier one
FRESH=true
if [ -e "$WORK/data" ] || [ -e "$WORK/labels.gpkg" ] || [ -e "$WORK/results" ]; then FRESH=false; fi
rm -f "$WORK/wall_time.json"  # written at the end: an interrupted invocation leaves none
echo "== Aberystwyth pairs (grid, Sentinel-2 patches, derived maps, dataset) in $WORK/data"
[ -f "$WORK/data/dataset/train/metadata.jsonl" ] ||
    DEMO_PREPARE_ONLY=1 MAPSYNTH_DEMO_TRAINING="$WORK/data" scripts/train_demo_model.sh
echo "== labels: the four rsgislib polygon layers in one layer with a 'class' field"
[ -f "$WORK/labels.gpkg" ] || "$PY" - "$POLYGONS" "$WORK/labels.gpkg" <<'EOF'
import sys

import numpy as np
from pyogrio.raw import read, write

source, target = sys.argv[1:]
geometries, names, crs = [], [], None
for name in ("forest", "grass", "urban", "water"):
    meta, _, wkb, _ = read(source, layer=f"cls_{name}_smpls")
    geometries.extend(wkb)
    names.extend([name] * len(wkb))
    crs = meta["crs"]
write(target, np.array(geometries, dtype=object), [np.array(names, dtype=object)], ["class"], layer="labels",
      driver="GPKG", geometry_type="Polygon", crs=crs)
EOF
echo "== experiment (progress below; resumes if interrupted)"
"$ROOT/.venv-backend/bin/mapsynth" augmentation-experiment --dataset "$WORK/data/dataset" --model "$MODEL" \
    --labels "$WORK/labels.gpkg" --label-field class --folds "${FOLDS:-2}" --guard "${GUARD:-16}" \
    --real-fractions "${FRACTIONS:-0.1,0.25,1.0}" --seeds "${SEEDS:-10}" --variations "${VARIATIONS:-2}" \
    --generator-preset "${GEN_PRESET:-small}" --generator-steps "${GEN_TRAIN_STEPS:-300}" \
    --generation-steps "${GEN_STEPS:-10}" --steps "${SEG_STEPS:-1000}" --batch-size "${SEG_BATCH:-8}" \
    --validate-every "${VALIDATE_EVERY:-25}" --patience "${PATIENCE:-4}" --threads "${THREADS:-2}" --device cpu \
    --output-dir "$WORK/results" --json
SECONDS_TAKEN=$(( $(date +%s) - START ))
# the wall time of this invocation, preparation and generator training included (experiment_docs.py reads it)
printf '{"seconds": %d, "end_to_end": %s}\n' "$SECONDS_TAKEN" "$FRESH" > "$WORK/wall_time.json"
echo "results: $WORK/results/results.json, report: $WORK/results/report.html ($(( SECONDS_TAKEN / 60 )) min)"
