"""Chaining in the graphical modeler, empty grids, cancel, and the shipped styles against the palette."""

import json
import sqlite3
from pathlib import Path

import pytest
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProject,
    QgsVectorLayer,
)

ROOT = Path(__file__).resolve().parents[2]
EXTENT = "385000,386000,6672000,6673000 [EPSG:32635]"


def covering_layer():
    from qgis.core import QgsFeature, QgsGeometry

    layer = QgsVectorLayer("Polygon?crs=EPSG:32635", "map", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromWkt(
        "POLYGON((380000 6660000, 390000 6660000, 390000 6680000, 380000 6680000, 380000 6660000))"))
    layer.dataProvider().addFeatures([feature])
    return layer


def test_grid_and_render_chain_in_the_graphical_modeler(plugin, tmp_path):
    from qgis.core import QgsApplication, QgsProcessingParameterExtent

    model = QgsProcessingModelAlgorithm("chain", "mapsynth tests")
    model.addModelParameter(QgsProcessingParameterExtent("AREA", "Area"), QgsProcessingModelParameter("AREA"))
    grid = QgsProcessingModelChildAlgorithm("mapsynth:create_patch_grid")
    grid.setChildId("grid")
    grid.addParameterSources("EXTENT", [QgsProcessingModelChildParameterSource.fromModelParameter("AREA")])
    grid.addParameterSources(
        "OUTPUT", [QgsProcessingModelChildParameterSource.fromStaticValue(str(tmp_path / "g.gpkg"))])
    model.addChildAlgorithm(grid)
    render = QgsProcessingModelChildAlgorithm("mapsynth:render_map_patches")
    render.setChildId("render")
    render.addParameterSources(
        "PATCH_GRID", [QgsProcessingModelChildParameterSource.fromChildOutput("grid", "OUTPUT")])
    layer = covering_layer()  # any styled layer can be the map
    QgsProject.instance().addMapLayer(layer)
    render.addParameterSources("LAYERS", [QgsProcessingModelChildParameterSource.fromStaticValue([layer.id()])])
    output = QgsProcessingModelOutput("MAPS", "Maps")
    output.setChildId("render")
    output.setChildOutputName("OUTPUT_DIR")
    render.setModelOutputs({"MAPS": output})
    model.addChildAlgorithm(render)
    assert QgsApplication.processingRegistry().algorithmById("mapsynth:render_map_patches")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    results, ok = model.run({"AREA": EXTENT, "render:MAPS": str(tmp_path / "maps")}, context, QgsProcessingFeedback())
    QgsProject.instance().removeMapLayer(layer.id())
    assert ok
    assert len(list((tmp_path / "maps").glob("r*.tif"))) == 4  # 2 x 2 patches


def test_grid_without_patches_is_refused(run_alg, tmp_path, backend_python):
    grid = run_alg("create_patch_grid", {"EXTENT": EXTENT, "OUTPUT": str(tmp_path / "g.gpkg")})["OUTPUT"]
    with sqlite3.connect(grid) as conn:
        conn.execute("DELETE FROM patches")
    with pytest.raises(QgsProcessingException, match="has no patches"):
        run_alg("crop_sentinel2", {"PATCH_GRID": grid, "INPUT": grid, "SCALE": 1.0, "OUTPUT_DIR": str(tmp_path / "s")})


def test_cancelled_render_writes_nothing_and_says_so(run_alg, tmp_path):
    grid = run_alg("create_patch_grid", {"EXTENT": EXTENT, "OUTPUT": str(tmp_path / "g.gpkg")})["OUTPUT"]
    warnings = []

    class Cancelled(QgsProcessingFeedback):
        def pushWarning(self, text):  # noqa: N802
            warnings.append(text)

    feedback = Cancelled()
    feedback.cancel()
    layer = QgsVectorLayer("Polygon?crs=EPSG:32635", "map", "memory")
    result = run_alg("render_map_patches", {"PATCH_GRID": grid, "LAYERS": [layer], "OUTPUT_DIR": str(tmp_path / "m")},
                     feedback)
    assert result["PATCH_COUNT"] == 0 and not list((tmp_path / "m").glob("*.tif"))
    assert any("rerun to continue" in w for w in warnings)


def test_shipped_qml_styles_match_the_palette(plugin):
    palette = json.loads((ROOT / "resources/styles/semantic_palette.json").read_text())["classes"]
    styles = (("area", "semantic_areas", "MultiPolygon"), ("line", "semantic_lines", "MultiLineString"))
    for geometry, name, kind in styles:
        layer = QgsVectorLayer(f"{kind}?crs=EPSG:3857&field=class:string", name, "memory")
        _, ok = layer.loadNamedStyle(str(ROOT / "resources/styles" / f"{name}.qml"))
        assert ok
        kept = layer.renderer().categories()  # the symbols live inside these copies: keep them referenced
        categories = {c.value(): c.symbol() for c in kept}
        expected = [c for c in palette if c["geometry"] == geometry]
        assert set(categories) == {c["key"] for c in expected}
        for cls in expected:
            symbol_layer = categories[cls["key"]].symbolLayer(0)
            assert symbol_layer.color().getRgb()[:3] == tuple(cls["rgb"]), cls["key"]
            assert symbol_layer.renderingPass() == cls["order"]
            if geometry == "line":
                assert symbol_layer.width() == cls["width_m"]
        assert layer.labelsEnabled() is False


def test_render_on_a_worker_thread_like_the_gui_matches_the_main_thread(plugin, run_alg, tmp_path):
    """The toolbox runs processAlgorithm in a background task; layers were cloned on the main thread."""
    import time

    from osgeo import gdal
    from qgis.core import QgsApplication, QgsProcessingAlgRunnerTask

    grid = run_alg("create_patch_grid", {"EXTENT": EXTENT, "OUTPUT": str(tmp_path / "g.gpkg")})["OUTPUT"]
    layer = covering_layer()
    run_alg("render_map_patches", {"PATCH_GRID": grid, "LAYERS": [layer], "OUTPUT_DIR": str(tmp_path / "main")})
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("mapsynth:render_map_patches")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    task = QgsProcessingAlgRunnerTask(algorithm, {"PATCH_GRID": grid, "LAYERS": [layer],
                                                  "OUTPUT_DIR": str(tmp_path / "worker")}, context, feedback)
    done = {}
    task.executed.connect(lambda ok, results: done.update(ok=ok, results=results))
    QgsApplication.taskManager().addTask(task)
    deadline = time.monotonic() + 60
    while not done and time.monotonic() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.01)
    assert done.get("ok"), done
    assert done["results"]["PATCH_COUNT"] == 4
    for path in (tmp_path / "main").glob("r*.tif"):
        worker = gdal.Open(str(tmp_path / "worker" / path.name)).ReadAsArray()
        assert (gdal.Open(str(path)).ReadAsArray() == worker).all()
