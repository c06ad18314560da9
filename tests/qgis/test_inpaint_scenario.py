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
    project.removeAllMapLayers()
    project.layerTreeRoot().removeChildNode(groups[0])


@pytest.mark.parametrize(("crs", "wkt", "name", "message"), [
    ("EPSG:32630", square(X0 + 50000, Y0, 200), "water", "outside BASE"),
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
