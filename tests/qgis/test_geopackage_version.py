"""Every GeoPackage MapSynth writes opens in the QGIS in use without GDAL's "may only be partially supported"
version warning (QGIS 3.22's GDAL 3.6 warns on GeoPackage 1.4, which recent GDAL, e.g. the backend's pyogrio,
writes by default): the grid (QGIS side), seam lines and classified buildings (backend), and layers exported for
the backend (QGIS side)."""

import os
import sqlite3
from pathlib import Path

import pytest
from osgeo import gdal, ogr
from qgis.core import QgsVectorLayer

from ..conftest import HELSINKI_OSM as HELSINKI  # noqa: TID252

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"


def gdal_warnings(path: Path) -> list[str]:
    """Warnings GDAL raises while opening ``path`` and reading its layers, as QGIS's provider does."""
    messages = []

    def handler(level, number, message):
        if level >= gdal.CE_Warning:
            messages.append(str(message))

    gdal.PushErrorHandler(handler)
    try:
        ds = ogr.Open(str(path))
        assert ds is not None, path
        for index in range(ds.GetLayerCount()):
            ds.GetLayer(index).GetFeatureCount()
        ds = None
    finally:
        gdal.PopErrorHandler()
    return messages


def test_every_geopackage_written_opens_without_a_version_warning(mosaic, run_alg, tmp_path):
    if not HELSINKI.exists():
        pytest.skip(f"real OSM extract not available at {HELSINKI}")
    grid = run_alg("create_patch_grid", {"EXTENT": "24.9400,24.9450,60.1680,60.1710 [EPSG:4326]",
                                         "OUTPUT": str(tmp_path / "grid.gpkg")})["OUTPUT"]
    masks = run_alg("building_masks", {"OSM_FILE": str(HELSINKI), "PATCH_GRID": grid,
                                       "OUTPUT_BUILDINGS": str(tmp_path / "buildings.gpkg"),
                                       "OUTPUT_DIR": str(tmp_path / "masks")})
    before = set(Path(os.environ["MAPSYNTH_CACHE_DIR"]).rglob("*.gpkg"))
    run_alg("building_masks", {"BUILDINGS": masks["OUTPUT_BUILDINGS"], "PATCH_GRID": grid,
                               "OUTPUT_BUILDINGS": str(tmp_path / "from_layer.gpkg"),
                               "OUTPUT_DIR": str(tmp_path / "masks2")})
    exported = sorted(set(Path(os.environ["MAPSYNTH_CACHE_DIR"]).rglob("*.gpkg")) - before)
    assert exported, "building_masks exported no layer for the backend"
    files = [Path(grid), Path(mosaic["mosaic"]["SEAMS"]), tmp_path / "buildings.gpkg", tmp_path / "from_layer.gpkg",
             *exported]
    for path in files:
        with sqlite3.connect(path) as connection:
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            user_version = connection.execute("PRAGMA user_version").fetchone()[0]
        assert application_id == GPKG_APPLICATION_ID, path
        assert user_version <= 10300, f"{path}: GeoPackage {user_version} (QGIS 3.22's GDAL reads up to 1.3)"
        warnings = gdal_warnings(path)
        assert not any("partially supported" in w for w in warnings), (path, warnings)
        assert QgsVectorLayer(str(path), path.stem, "ogr").isValid(), path
