"""The synthesize-city chain shipped as a graphical model (resources/models/synthesize_city.model3)."""

from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProcessingModelAlgorithm, QgsProject

from ..conftest import HELSINKI_EXTENT, HELSINKI_OSM, tiny_pixel_model  # noqa: TID252

ROOT = Path(__file__).resolve().parents[2]
MODEL_FILE = ROOT / "resources" / "models" / "synthesize_city.model3"


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


def test_every_child_is_valid_and_the_model_validates(plugin, tmp_path):
    """What the modeler shows: no child drawn red, no "Model is invalid" list of unset mandatory parameters."""
    model = load_model()
    issues = {child_id: model.validateChildAlgorithm(child_id) for child_id in model.childAlgorithms()}
    assert {child_id: found for child_id, (ok, found) in issues.items() if not ok or found} == {}
    assert model.validate() == (True, [])
    context = QgsProcessingContext()
    params = {"EXTENT": "24.93,24.95,60.16,60.17 [EPSG:4326]", "OSM_FILE": str(tmp_path / "city.osm.pbf"),
              "MODEL": str(ROOT / "resources" / "models" / "mapsynth-demo-pixel-small")}
    params.update({p.name(): p.defaultValue() for p in model.destinationParameterDefinitions()})  # as the dialog
    assert set(params.values()) >= {"TEMPORARY_OUTPUT"}
    assert model.checkParameterValues(params, context)[0]
    ok, message = model.checkParameterValues({}, context)
    assert not ok and "EXTENT" in message


def boxes(model) -> dict[str, tuple[float, float, float, float]]:
    """Every drawn component (inputs, children, outputs) as (left, top, right, bottom); positions are centres."""
    components = {f"input {name}": c for name, c in model.parameterComponents().items()}
    for child_id, child in model.childAlgorithms().items():
        components[f"child {child_id}"] = child
        components.update({f"output {name}": out for name, out in child.modelOutputs().items()})
    return {name: (c.position().x() - c.size().width() / 2, c.position().y() - c.size().height() / 2,
                   c.position().x() + c.size().width() / 2, c.position().y() + c.size().height() / 2)
            for name, c in components.items()}


def test_no_two_component_boxes_overlap_and_labels_are_short(plugin):
    model = load_model()
    found = boxes(model)
    assert len(found) == 7 + 6 + 5
    overlapping = [(a, b) for i, (a, ra) in enumerate(found.items()) for b, rb in list(found.items())[i + 1:]
                   if ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]]
    assert overlapping == []
    # the box elides what does not fit in its 200 px: keep the inputs' labels short
    assert max(len(p.description()) for p in model.parameterDefinitions() if not p.isDestination()) <= 20


@pytest.mark.skipif(not HELSINKI_OSM.exists(), reason=f"real OSM extract not available at {HELSINKI_OSM}")
@pytest.mark.slow
def test_model_file_runs_end_to_end(plugin, tmp_path, backend_python):
    model_dir = tiny_pixel_model()
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    results, ok = load_model().run({
        "EXTENT": HELSINKI_EXTENT, "OSM_FILE": str(HELSINKI_OSM),
        "MODEL": model_dir, "VARIATIONS": 1, "SEED": 3,
        "grid:GRID": str(tmp_path / "grid.gpkg"), "assemble:MOSAIC": str(tmp_path / "mosaic.tif"),
        "assemble:SEAMS": str(tmp_path / "seams.gpkg"), "masks:BUILDINGS": str(tmp_path / "buildings.gpkg"),
        "export:NETCDF": str(tmp_path / "city.nc")}, context, QgsProcessingFeedback())
    assert ok
    assert gdal.Open(str(tmp_path / "mosaic.tif")).RasterCount == 4
    assert (tmp_path / "city.nc").is_file() and (tmp_path / "buildings.gpkg").is_file()
