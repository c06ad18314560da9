"""docs/user-guide.md's walk-through, inside QGIS desktop (tests/gui/drive_qgis.py imports this module only when
MAPSYNTH_GUI_GUIDE is set, as `make guide-images` does): what each algorithm dialog is filled with before it is
photographed. make demo's seven steps show the parameters the demo ran (read back from demo-output/logs, where
qgis_process printed them); crop and dataset show those of scripts/train_demo_model.sh, whose outputs are in
.mapsynth-demo-training; train, what-if and land cover show the small runs the guide makes itself (guide_results.py
runs them with these same parameters). Layer parameters point at layers added to the project, as a user picks
them in the dialog."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from osgeo import gdal, ogr, osr
from qgis.core import QgsApplication, QgsProject, QgsRasterLayer, QgsVectorLayer

TESTS = Path(os.environ["MAPSYNTH_GUI_TESTS"])
sys.path.insert(0, str(TESTS.parent))
from shared_data import ABERYSTWYTH_S2, ROOT  # noqa: E402 - after the path

OUT = Path(os.environ["MAPSYNTH_GUI_OUT"])
DEMO = Path(os.environ["MAPSYNTH_GUI_DEMO"]).parent  # make demo's folder (demo-output)
TRAINING = Path(os.environ.get("MAPSYNTH_DEMO_TRAINING") or ROOT / ".mapsynth-demo-training")
WORK = OUT / "guide"  # the guide's own runs
# make demo's steps in scripts/demo.sh's order: logs/1-7.log is the first
DEMO_STEPS = ("create_patch_grid", "render_map_patches", "generate_patches", "assemble_mosaic", "building_masks",
              "export_netcdf", "evaluate")
# The what-if edits, as fractions of the demo mosaic (left, top, right, bottom from its top-left corner) and the
# palette class drawn there (Liechtenstein: a lake on the grassland above the valley, a clearing in the forest east
# of it)
EDITS = (((0.57, 0.06, 0.65, 0.12), "water"), ((0.71, 0.13, 0.79, 0.19), "bare"))
LAND_COVER_TABLE = TESTS / "osm_land_cover.csv"
OWN_TABLE, UNKNOWN_IS_NODATA = 4, 1  # map_from_land_cover's TABLE and UNKNOWN options


def demo_inputs() -> dict[str, dict[str, str]]:
    """Algorithm -> the inputs make demo gave it, from the 'Inputs' block qgis_process printed into its log."""
    inputs = {}
    for number, name in enumerate(DEMO_STEPS, start=1):
        log = DEMO / "logs" / f"{number}-{len(DEMO_STEPS)}.log"
        text = log.read_text(encoding="utf-8", errors="replace")
        block = text.split("\nInputs\n", 1)[1].split("\nResults\n", 1)[0] if "\nInputs\n" in text else ""
        inputs[name] = dict(re.findall(r"^([A-Z_]+):\t(.*)$", block, re.M))
    if not inputs["export_netcdf"].get("MASKS"):  # a multiple input prints empty: the two masks demo.sh gives
        inputs["export_netcdf"]["MASKS"] = [str(DEMO / "masks" / f"{kind}_coverage.tif")
                                            for kind in ("buildings", "nonresidential")]
    return {name: {k: v for k, v in values.items() if v != ""} for name, values in inputs.items()}


def osm_file() -> str:
    return demo_inputs()["render_map_patches"]["OSM_FILE"]


def mosaic_box() -> tuple[float, float, float, float, str]:
    """x_min, y_min, x_max, y_max and the CRS (WKT) of the demo mosaic."""
    ds = gdal.Open(str(DEMO / "mosaic.tif"))
    x0, dx, _, y0, _, dy = ds.GetGeoTransform()
    return x0, y0 + dy * ds.RasterYSize, x0 + dx * ds.RasterXSize, y0, ds.GetProjection()


def edits_file() -> Path:
    """EDITS as a GeoPackage in the mosaic's CRS, field ``class``."""
    path = WORK / "whatif_edits.gpkg"
    if path.is_file():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    x_min, y_min, x_max, y_max, wkt = mosaic_box()
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("edits", srs, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for (left, top, right, bottom), name in EDITS:
        x1, x2 = x_min + left * (x_max - x_min), x_min + right * (x_max - x_min)
        y1, y2 = y_max - top * (y_max - y_min), y_max - bottom * (y_max - y_min)
        cut = (x2 - x1) / 4  # a cut corner: drawn shapes are rarely rectangles
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(
            f"POLYGON (({x1} {y1}, {x2 - cut} {y1}, {x2} {y1 - cut}, {x2} {y2}, {x1} {y2}, {x1} {y1}))"))
        feature.SetField("class", name)
        layer.CreateFeature(feature)
    ds = None  # noqa: F841 - closes the file
    return path


def land_cover_file() -> Path:
    """The extract's land-use / natural / leisure polygons (no buildings) with that value in field ``cover``."""
    path = WORK / "osm_land_cover.gpkg"
    if path.is_file():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    source = ogr.Open(osm_file())
    polygons = source.GetLayerByName("multipolygons")
    out = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = out.CreateLayer("land_cover", polygons.GetSpatialRef(), ogr.wkbMultiPolygon)
    layer.CreateField(ogr.FieldDefn("cover", ogr.OFTString))
    for feature in polygons:
        cover = next((feature.GetField(key) for key in ("landuse", "natural", "leisure")
                      if feature.GetField(key)), None)
        if cover and not feature.GetField("building") and feature.GetGeometryRef() is not None:
            copy = ogr.Feature(layer.GetLayerDefn())
            copy.SetGeometry(ogr.ForceToMultiPolygon(feature.GetGeometryRef()))
            copy.SetField("cover", cover)
            layer.CreateFeature(copy)
    out = source = None  # noqa: F841 - closes the files
    return path


def parameters() -> dict[str, dict]:
    """Algorithm name -> the parameters its dialog is filled with (paths; layers are swapped in by fill())."""
    demo = demo_inputs()
    train_grid = str(TRAINING / "grid.gpkg")
    guide = {
        # scripts/train_demo_model.sh (its crop and dataset outputs are .mapsynth-demo-training/s2 and dataset/)
        "crop_sentinel2": {"PATCH_GRID": train_grid, "INPUT": str(ABERYSTWYTH_S2), "SCALE": 0.001,
                           "OUTPUT_DIR": str(TRAINING / "s2")},
        "build_training_dataset": {"PATCH_GRID": train_grid, "MAP_DIR": str(TRAINING / "maps"),
                                   "S2_DIR": str(TRAINING / "s2"), "CLIP": "B02:0:0.25,B03:0:0.28,B04:0:0.3,"
                                   "B08:-0.05:0.8", "OUTPUT_DIR": str(TRAINING / "dataset")},
        # the guide's runs: 10 fine-tuning steps of the embedded model on the demo dataset (its validation grid
        # shows maps the model knows), edits on the demo mosaic, land-cover maps on the demo grid
        "train_model": {"DATASET": str(TRAINING / "dataset"), "FAMILY": 0, "PRESET": 1,
                        "BASE_MODEL": str(ROOT / "resources" / "models" / "mapsynth-demo-pixel-small"),
                        "MAX_STEPS": 10, "BATCH_SIZE": 8, "LEARNING_RATE": 0.0002, "CHECKPOINT_EVERY": 10,
                        "VALIDATION_EVERY": 10, "OUTPUT_DIR": str(WORK / "training")},
        "inpaint_scenario": {"BASE": str(DEMO / "mosaic.tif"), "EDITS": str(edits_file()), "CLASS_FIELD": "class",
                             "MAP_DIR": str(DEMO / "maps"),
                             "BUILDING_COVERAGE": str(DEMO / "masks" / "buildings_coverage.tif"),
                             "OUTPUT": str(WORK / "whatif" / "after.tif"),
                             "OUTPUT_MASK": str(WORK / "whatif" / "change_mask.tif")},
        "map_from_land_cover": {"PATCH_GRID": demo["create_patch_grid"]["OUTPUT"], "VECTOR": str(land_cover_file()),
                                "CLASS_FIELD": "cover", "TABLE": OWN_TABLE, "TABLE_FILE": str(LAND_COVER_TABLE),
                                "UNKNOWN": UNKNOWN_IS_NODATA, "OSM_FILE": osm_file(),
                                "OUTPUT_DIR": str(WORK / "land_cover_maps")},
    }
    return {**demo, **guide}


def project_layer(path: str):
    """The project's layer for ``path`` (added once, named after the file), as a user adds it before a run."""
    for layer in QgsProject.instance().mapLayers().values():
        if layer.customProperty("mapsynth/guide_path") == path:
            return layer
    stem = Path(path).stem
    if path.endswith(".gpkg"):
        names = [layer.GetName() for layer in ogr.Open(path)]
        source = f"{path}|layername={names[0]}" if names else path
        layer = QgsVectorLayer(source, stem, "ogr")
    else:
        layer = QgsRasterLayer(path, stem)
    layer.setCustomProperty("mapsynth/guide_path", path)
    QgsProject.instance().addMapLayer(layer)
    return layer


def fill(alg_id: str) -> dict:
    """The dialog parameters of ``alg_id`` (empty for algorithms the guide does not walk through)."""
    values = dict(parameters().get(alg_id.split(":", 1)[1], {}))
    algorithm = QgsApplication.processingRegistry().algorithmById(alg_id)
    for definition in algorithm.parameterDefinitions():
        value = values.get(definition.name())
        if value is None:
            continue
        if definition.type() in ("vector", "raster", "source"):
            values[definition.name()] = project_layer(value).id()
        elif definition.type() == "multilayer":
            values[definition.name()] = [project_layer(v).id() for v in value]
    return values


def shown_values(dialog) -> dict[str, str]:
    """What the dialog would run with: parameter -> value as text (layers by their source)."""
    project = QgsProject.instance()

    def text(value):
        if isinstance(value, list):
            return [text(v) for v in value]
        layer = project.mapLayer(value) if isinstance(value, str) else None
        if layer is not None:
            return layer.source()
        if hasattr(value, "sink"):  # QgsProcessingOutputLayerDefinition
            return value.sink.staticValue()
        return str(value)

    return {name: text(value) for name, value in dialog.createProcessingParameters().items()
            if value not in (None, "")}

