#!/usr/bin/env bash
# The numbers of docs/GRID_FORMAT.md's guard band: the demo model's grid (as train_demo_model.sh makes it) without
# the guard and with it at split blocks auto (2), 3 and 4; for each, the dataset's pairs per split and the pixels
# the splits share, as build_training_dataset writes them into the dataset card, and (shapely, from the pairs'
# bounds) the test pixels that lie in training patches. About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${MAPSYNTH_SHARED_DATA:-$ROOT/../shared/data}
SCENE="$DATA/s2_aberystwyth_20210527/aberystwyth_s2_20210527_b02_b03_b04_b08_10m_epsg27700.tif"
WORK=${SPLIT_GUARD_WORK:-${TMPDIR:-/tmp}/mapsynth-split-guard}
QP=${QGIS_PROCESS:-/usr/bin/qgis_process.bin}
[ -f "$SCENE" ] || { echo "The Aberystwyth scene is missing: $SCENE" >&2; exit 1; }
mkdir -p "$WORK/plugins"
export QT_QPA_PLATFORM=offscreen QGIS_CUSTOM_CONFIG_PATH="$WORK/qgis-profile" QGIS_PLUGINPATH="$WORK/plugins"
ln -sfn "$ROOT" "$WORK/plugins/mapsynth"
"$QP" plugins enable mapsynth >/dev/null 2>&1 || true
grid() {  # name, extra parameters: the demo grid's extent and settings (scripts/train_demo_model.sh)
    local name=$1
    shift
    [ -f "$WORK/$name.gpkg" ] || "$QP" run mapsynth:create_patch_grid -- \
        EXTENT="257070.6,266370.6,276258.7,285728.7 [EPSG:27700]" PATCH_SIZE=64 VAL_FRACTION=0.1 TEST_FRACTION=0.1 \
        SEED=0 "$@" OUTPUT="$WORK/$name.gpkg" >/dev/null
}
grid no-guard GUARD=false
grid guard-auto
grid guard-block3 SPLIT_BLOCK=3
grid guard-block4 SPLIT_BLOCK=4
# every grid has the same geometry (same fingerprint): one crop and one set of derived maps serve them all
"$QP" run mapsynth:crop_sentinel2 -- PATCH_GRID="$WORK/no-guard.gpkg" INPUT="$SCENE" SCALE=0.001 \
    OUTPUT_DIR="$WORK/s2" >/dev/null
"$ROOT/.venv-backend/bin/mapsynth" derive-maps --patch-grid "$WORK/no-guard.gpkg" --s2-dir "$WORK/s2" \
    --output-dir "$WORK/maps" >/dev/null 2>&1
for name in no-guard guard-auto guard-block3 guard-block4; do
    "$QP" run mapsynth:build_training_dataset -- PATCH_GRID="$WORK/$name.gpkg" MAP_DIR="$WORK/maps" \
        S2_DIR="$WORK/s2" CLIP="B02:0:0.25,B03:0:0.28,B04:0:0.3,B08:-0.05:0.8" OUTPUT_DIR="$WORK/dataset-$name" \
        >/dev/null 2>&1
    echo "== $name"
    grep -E '^\| (train|val|test) \||^Pixels shared' "$WORK/dataset-$name/dataset_card.md"
    "$ROOT/.venv-backend/bin/python" - "$WORK/dataset-$name" <<'PY'
import json, sys
from pathlib import Path

import shapely
from shapely.geometry import box

folder = Path(sys.argv[1])
rows = {s: [json.loads(x) for x in (folder / s / "metadata.jsonl").read_text().splitlines()] for s in ("train", "test")}
train = shapely.union_all([box(*r["bounds"]) for r in rows["train"]])
inside = [box(*r["bounds"]).intersection(train).area / 100 for r in rows["test"]]  # 10 m pixels
print(f"shapely: test pixels in training patches {round(sum(inside)):,} of {4096 * len(inside):,},"
      f" in {sum(a > 0 for a in inside)} of {len(inside)} test patches")
PY
done
