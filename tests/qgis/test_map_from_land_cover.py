"""mapsynth:map_from_land_cover through processing.run: a WorldCover raster in another CRS, land-cover polygons from
a QGIS layer, OSM lines of the real Helsinki extract over a land-cover base, and the bad-input errors."""

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsProcessingException,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)

from ..conftest import HELSINKI_OSM  # noqa: TID252
from .conftest import write_raster  # noqa: TID252

PALETTE = {c["key"]: tuple(c["rgb"]) for c in json.loads(
    (Path(__file__).resolve().parents[2] / "resources/styles/semantic_palette.json").read_text())["classes"]}
X0, Y0 = 420000.0, 5820000.0  # EPSG:32630; a 2 x 2 grid of 32 px patches at 10 m
WORLDCOVER, OWN = 1, 4  # TABLE options (qgis_process takes enums by index)


def make_grid(run_alg, folder: Path, extent: str, crs: str) -> str:
    return run_alg("create_patch_grid", {"EXTENT": extent, "CRS": crs, "PATCH_SIZE": 32, "OVERLAP": 0,
                                         "OUTPUT": str(folder / "grid.gpkg")})["OUTPUT"]


@pytest.fixture
def grid(run_alg, tmp_path):
    return make_grid(run_alg, tmp_path, f"{X0},{X0 + 640},{Y0 - 640},{Y0} [EPSG:32630]", "EPSG:32630")


def mosaic(folder: Path) -> np.ndarray:
    """(3, H, W) of the 2 x 2 patches."""
    tiles = {path.stem: gdal.Open(str(path)).ReadAsArray() for path in folder.glob("r*.tif")}
    rows = [np.concatenate([tiles[f"r{r:04d}_c{c:04d}"] for c in range(2)], axis=2) for r in range(2)]
    return np.concatenate(rows, axis=1)


def colours(array: np.ndarray) -> set:
    return {tuple(int(v) for v in c) for c in array.reshape(3, -1).T}


def test_worldcover_raster_in_another_crs(run_alg, grid, tmp_path, backend_python):
    """Tree cover west of x0 + 300 m, cropland east, in Web Mercator at about 6 m: exact palette colours."""
    to_merc = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:32630"),
                                     QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance())
    box = to_merc.transformBoundingBox(QgsRectangle(X0 - 100, Y0 - 740, X0 + 740, Y0 + 100))
    split = to_merc.transform(X0 + 300, Y0 - 320).x()
    pixel = box.width() / 400
    codes = np.full((1, int(box.height() / pixel), 400), 40, np.uint8)
    codes[:, :, : int((split - box.xMinimum()) / pixel)] = 10
    write_raster(tmp_path / "wc.tif", codes, 3857, box.xMinimum(), box.yMaximum(), pixel)
    result = run_alg("map_from_land_cover", {"PATCH_GRID": grid, "INPUT": str(tmp_path / "wc.tif"),
                                             "TABLE": WORLDCOVER, "OUTPUT_DIR": str(tmp_path / "maps")})
    assert result["PATCH_COUNT"] == 4 and result["OUTSIDE"] == 0
    image = mosaic(tmp_path / "maps")
    assert colours(image) == {PALETTE["forest"], PALETTE["farmland"]}
    assert tuple(image[:, 20, 20]) == PALETTE["forest"] and tuple(image[:, 20, 50]) == PALETTE["farmland"]
    card = json.loads((tmp_path / "maps" / "mapsynth_output.json").read_text())
    assert card["kind"] == "map" and card["details"]["table"] == "esa_worldcover.csv"


def test_polygons_from_a_qgis_layer_with_an_own_table(run_alg, grid, tmp_path, backend_python):
    layer = QgsVectorLayer("Polygon?crs=EPSG:32630&field=kind:string", "land cover", "memory")
    features = []
    for wkt, kind in ((f"POLYGON(({X0} {Y0},{X0 + 640} {Y0},{X0 + 640} {Y0 - 320},{X0} {Y0 - 320},{X0} {Y0}))", "lake"),
                      (f"POLYGON(({X0} {Y0 - 320},{X0 + 640} {Y0 - 320},{X0 + 640} {Y0 - 640},{X0} {Y0 - 640},"
                       f"{X0} {Y0 - 320}))", "town")):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromWkt(wkt))
        feature.setAttributes([kind])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    table = tmp_path / "mine.csv"
    table.write_text("value,class\nlake,water\ntown,residential_landuse\n")
    run_alg("map_from_land_cover", {"PATCH_GRID": grid, "VECTOR": layer, "CLASS_FIELD": "kind", "TABLE": OWN,
                                    "TABLE_FILE": str(table), "OUTPUT_DIR": str(tmp_path / "maps")})
    image = mosaic(tmp_path / "maps")
    assert colours(image[:, :32]) == {PALETTE["water"]}
    assert colours(image[:, 32:]) == {PALETTE["residential_landuse"]}


def test_bad_inputs(run_alg, grid, tmp_path, backend_python):
    raster = tmp_path / "codes.tif"
    write_raster(raster, np.full((1, 64, 64), 77, np.uint8), 32630, X0, Y0, 10.0)
    with pytest.raises(QgsProcessingException, match="1 class value.* not in esa_worldcover.csv: 77"):
        run_alg("map_from_land_cover", {"PATCH_GRID": grid, "INPUT": str(raster), "TABLE": WORLDCOVER,
                                        "OUTPUT_DIR": str(tmp_path / "maps")})
    assert not list((tmp_path / "maps").glob("*.tif"))
    with pytest.raises(QgsProcessingException, match="TABLE_FILE: choose your CSV"):
        run_alg("map_from_land_cover", {"PATCH_GRID": grid, "INPUT": str(raster), "TABLE": OWN,
                                        "OUTPUT_DIR": str(tmp_path / "maps")})


@pytest.mark.skipif(not HELSINKI_OSM.exists(), reason=f"real OSM extract not available at {HELSINKI_OSM}")
def test_osm_lines_over_a_land_cover_base(run_alg, tmp_path, backend_python):
    """Real Helsinki lines over an all-grassland base: roads and railways appear, every pixel is a palette class,
    and the base shows wherever no line is drawn."""
    grid = make_grid(run_alg, tmp_path, "385500,386140,6672200,6672840 [EPSG:32635]", "EPSG:32635")
    write_raster(tmp_path / "grass.tif", np.full((1, 80, 80), 30, np.uint8), 32635, 385400, 6672940, 10.0)
    params = {"PATCH_GRID": grid, "INPUT": str(tmp_path / "grass.tif"), "TABLE": WORLDCOVER,
              "OSM_FILE": str(HELSINKI_OSM), "OUTPUT_DIR": str(tmp_path / "maps")}
    run_alg("map_from_land_cover", params)
    image = mosaic(tmp_path / "maps")
    found = colours(image)
    assert found <= set(PALETTE.values())
    assert PALETTE["grass"] in found and PALETTE["minor_road"] in found, found
    line_share = 1 - float((image == np.array(PALETTE["grass"])[:, None, None]).all(axis=0).mean())
    assert 0.02 < line_share < 0.8, line_share
    details = json.loads((tmp_path / "maps" / "mapsynth_output.json").read_text())["details"]
    assert details["lines"] == "Helsinki.osm.pbf"
