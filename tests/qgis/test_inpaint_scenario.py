"""mapsynth:inpaint_scenario on the synthetic chain (conftest.py): edits drawn as a QGIS layer in another CRS,
BASE copied bitwise outside the edits + margin, results loaded styled in one group, one-line errors."""

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsProcessingException, QgsVectorLayer
from qgis.PyQt.QtCore import QVariant

X0, Y0 = 420000.0, 5820000.0  # the synthetic scene's corner (conftest.py), EPSG:32630


def edits_layer(crs: str, polygons_wkt: list[str], classes: list[str]) -> QgsVectorLayer:
    from qgis.core import QgsCoordinateReferenceSystem

    layer = QgsVectorLayer(f"Polygon?crs={crs}" if crs else "Polygon", "edits", "memory")
    if not crs:
        layer.setCrs(QgsCoordinateReferenceSystem())  # QGIS would otherwise give it a default CRS
    layer.dataProvider().addAttributes([QgsField("class", QVariant.String)])
    layer.updateFields()
    features = []
    for wkt, name in zip(polygons_wkt, classes):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromWkt(wkt))
        feature.setAttribute("class", name)
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def square(x, y, side):
    return f"POLYGON(({x} {y},{x + side} {y},{x + side} {y - side},{x} {y - side},{x} {y}))"


def wgs84_square(col, row, side_px):
    """A square over the scene, given in lon/lat (the backend reprojects)."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject

    geometry = QgsGeometry.fromWkt(square(X0 + col * 10, Y0 - row * 10, side_px * 10))
    geometry.transform(QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:32630"),
                                              QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance()))
    return geometry.asWkt()


def read(path):
    ds = gdal.Open(str(path))
    return ds.ReadAsArray(), ds


def test_edits_are_inpainted_outside_bitwise_and_loaded_in_one_group(trained, tmp_path):
    import processing
    from qgis.core import QgsProject

    project = QgsProject.instance()
    layer = edits_layer("EPSG:4326", [wgs84_square(40, 40, 20), wgs84_square(90, 100, 12)], ["water", "bare"])
    result = processing.runAndLoadResults("mapsynth:inpaint_scenario", {
        "BASE": str(trained["scene"]), "EDITS": layer, "CLASS_FIELD": "class",
        "MODEL": trained["training"]["MODEL_DIR"], "MARGIN": 3, "STEPS": 2, "RESAMPLE": 2,
        "OUTPUT": str(tmp_path / "after.tif"), "OUTPUT_MASK": str(tmp_path / "mask.tif")})
    before, base_ds = read(trained["scene"])
    after, after_ds = read(tmp_path / "after.tif")
    mask, _ = read(tmp_path / "mask.tif")
    assert after_ds.GetGeoTransform() == base_ds.GetGeoTransform()
    assert 350 <= (mask == 1).sum() <= 450 + 144 and (mask == 2).any()
    np.testing.assert_array_equal(after[:, mask == 0], before[:, mask == 0])
    assert (after[:, mask == 1] != before[:, mask == 1]).any()
    band = after_ds.GetRasterBand(1)
    assert band.GetDescription() == "B02" and band.GetScale() == pytest.approx(1e-4)
    assert band.GetNoDataValue() == base_ds.GetRasterBand(1).GetNoDataValue()  # BASE's (here: none)
    assert result["EDITED_PIXELS"] == int((mask == 1).sum())
    groups = [g for g in project.layerTreeRoot().findGroups() if g.name().startswith("MapSynth scenario")]
    assert len(groups) == 1
    layers = {node.layer().name(): node.layer() for node in groups[0].findLayers()}
    assert {"Before", "After", "Change mask", "Edits"} <= set(layers)
    renderer = layers["After"].renderer()
    assert (renderer.redBand(), renderer.greenBand(), renderer.blueBand()) == (3, 2, 1)
    assert layers["Edits"].renderer().symbol().color().alpha() == 0  # outline only
    order = [node.layer().name() for node in groups[0].findLayers()]  # top to bottom, as the Layers panel
    assert order[0] == "Edits", order  # the outlines over the rasters, or they are hidden
    project.removeAllMapLayers()
    project.layerTreeRoot().removeChildNode(groups[0])


@pytest.mark.parametrize(("crs", "wkt", "name", "message"), [
    ("EPSG:32630", square(X0 + 50000, Y0, 200), "water", "outside BASE"),
    ("EPSG:32630", square(X0 - 100, Y0 - 100, 200), "water", "feature 1 .water. reaches 200.0 px beyond BASE"),
    ("EPSG:32630", square(X0 + 100, Y0 - 100, 200), "lava", "not a semantic-palette class"),
    ("", square(X0 + 100, Y0 - 100, 200), "water", "no CRS"),
])
def test_bad_edits_fail_with_one_clear_line(trained, run_alg, tmp_path, crs, wkt, name, message):
    with pytest.raises(QgsProcessingException, match=message):
        run_alg("inpaint_scenario", {
            "BASE": str(trained["scene"]), "EDITS": edits_layer(crs, [wkt], [name]), "CLASS_FIELD": "class",
            "MODEL": trained["training"]["MODEL_DIR"], "STEPS": 1, "RESAMPLE": 1,
            "OUTPUT": str(tmp_path / "after.tif"), "OUTPUT_MASK": str(tmp_path / "mask.tif")})
    assert not (tmp_path / "after.tif").exists()


def write_float(path, array, geotransform, wkt):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[1], array.shape[0], 1, gdal.GDT_Float32)
    ds.SetGeoTransform(geotransform)
    ds.SetProjection(wkt)
    ds.GetRasterBand(1).WriteArray(array)
    ds = None
    return path


def test_map_from_a_project_layer_or_a_folder_and_coverage_updated(trained, run_alg, tmp_path):
    """MAP as a raster layer of the project (by id), MAP_DIR as the Render map patches folder; the building
    coverage given is updated under a residential building edit and loaded in the run's group."""
    import processing
    from qgis.core import QgsProject, QgsRasterLayer

    project = QgsProject.instance()
    patch = sorted((trained["root"] / "maps").glob("*.tif"))[5]
    map_layer = QgsRasterLayer(str(patch), "rendered map")
    assert map_layer.isValid()
    project.addMapLayer(map_layer)
    extent = map_layer.extent()
    house = square(extent.xMinimum() + 100, extent.yMaximum() - 100, 80)  # 8 x 8 px inside the patch
    _, base_ds = read(trained["scene"])
    coverage = np.full((base_ds.RasterYSize, base_ds.RasterXSize), 0.25, np.float32)
    coverage_path = write_float(tmp_path / "buildings.tif", coverage, base_ds.GetGeoTransform(),
                                base_ds.GetProjection())
    result = processing.runAndLoadResults("mapsynth:inpaint_scenario", {
        "BASE": str(trained["scene"]), "EDITS": edits_layer("EPSG:32630", [house], ["residential_building"]),
        "CLASS_FIELD": "class", "MODEL": trained["training"]["MODEL_DIR"], "MAP": map_layer.id(),
        "BUILDING_COVERAGE": str(coverage_path), "MARGIN": 2, "STEPS": 1, "RESAMPLE": 1,
        "OUTPUT": str(tmp_path / "after.tif"), "OUTPUT_MASK": str(tmp_path / "mask.tif"),
        "OUTPUT_MAP": str(tmp_path / "map.tif")})
    assert result["OUTPUT_BUILDING_COVERAGE"] == str(tmp_path / "after_building_coverage.tif")
    updated, _ = read(result["OUTPUT_BUILDING_COVERAGE"])
    mask, _ = read(tmp_path / "mask.tif")
    assert (updated[mask == 1] == 1).all() and (updated[mask == 0] == np.float32(0.25)).all()
    rendered, patch_ds = read(patch)
    edited_map, _ = read(tmp_path / "map.tif")
    col = round((patch_ds.GetGeoTransform()[0] - base_ds.GetGeoTransform()[0]) / 10)
    row = round((base_ds.GetGeoTransform()[3] - patch_ds.GetGeoTransform()[3]) / 10)
    window = edited_map[:, row:row + rendered.shape[1], col:col + rendered.shape[2]]
    untouched = mask[row:row + rendered.shape[1], col:col + rendered.shape[2]] != 1
    np.testing.assert_array_equal(window[:, untouched], rendered[:, untouched])  # the layer's map, not derived
    groups = [g for g in project.layerTreeRoot().findGroups() if g.name().startswith("MapSynth scenario")]
    assert "Building coverage after" in {node.layer().name() for node in groups[-1].findLayers()}
    project.removeAllMapLayers()
    for group in groups:
        project.layerTreeRoot().removeChildNode(group)
    folder = run_alg("inpaint_scenario", {
        "BASE": str(trained["scene"]), "EDITS": edits_layer("EPSG:32630", [house], ["bare"]),
        "CLASS_FIELD": "class", "MODEL": trained["training"]["MODEL_DIR"], "MAP_DIR": str(patch.parent),
        "STEPS": 1, "RESAMPLE": 1, "OUTPUT": str(tmp_path / "after2.tif"),
        "OUTPUT_MASK": str(tmp_path / "mask2.tif"), "OUTPUT_MAP": str(tmp_path / "map2.tif")})
    edited_map, _ = read(folder["OUTPUT_MAP"])
    window = edited_map[:, row:row + rendered.shape[1], col:col + rendered.shape[2]]
    np.testing.assert_array_equal(window[:, untouched], rendered[:, untouched])
