"""mapsynth:assemble_mosaic on the synthetic chain (conftest.py): a COG with labels and seams, loaded styled."""

import re

import pytest
from osgeo import gdal

from .conftest import RecordingFeedback  # noqa: TID252


def test_the_mosaic_is_a_cog_on_the_pixel_grid_with_labels_and_seams(mosaic):
    result = mosaic["mosaic"]
    ds = gdal.Open(result["OUTPUT"])
    assert ds.GetMetadata("IMAGE_STRUCTURE").get("LAYOUT") == "COG" and ds.RasterCount == 4
    x0, px, _, y1, _, _ = ds.GetGeoTransform()
    assert px == 10 and x0 % 10 == 0 and y1 % 10 == 0 and ds.GetProjection()
    assert gdal.OpenEx(result["SEAMS"]).GetLayer(0).GetFeatureCount() > 0
    assert gdal.Open(result["LABELS"]).GetGeoTransform() == ds.GetGeoTransform()


def test_loaded_layers_are_styled_in_one_group(generated, tmp_path):
    """Loaded like the GUI does: true colour and NIR false colour mosaics, seams and labels, in one group."""
    import processing
    from qgis.core import QgsProject

    project = QgsProject.instance()
    processing.runAndLoadResults("mapsynth:assemble_mosaic", {
        "PATCH_GRID": generated["grid"]["OUTPUT"], "GENERATED_DIR": str(generated["root"] / "generated"),
        "OUTPUT": str(tmp_path / "loaded.tif"), "LABELS": str(tmp_path / "loaded_labels.tif"),
        "SEAMS": str(tmp_path / "loaded_seams.gpkg")})
    groups = [g for g in project.layerTreeRoot().findGroups() if g.name().startswith("MapSynth mosaic")]
    assert len(groups) == 1
    layers = {node.layer().name(): node.layer() for node in groups[0].findLayers()}
    assert {"Mosaic (true colour)", "Mosaic (NIR false colour)", "Seam lines", "Label map"} <= set(layers)
    true_colour = layers["Mosaic (true colour)"].renderer()
    false_colour = layers["Mosaic (NIR false colour)"].renderer()
    assert (true_colour.redBand(), true_colour.greenBand(), true_colour.blueBand()) == (3, 2, 1)
    assert (false_colour.redBand(), false_colour.greenBand(), false_colour.blueBand()) == (4, 3, 2)
    assert true_colour.redContrastEnhancement().maximumValue() == 0.25  # reflectance (band scale/offset)
    project.removeAllMapLayers()
    project.layerTreeRoot().removeChildNode(groups[0])


def test_seam_visibility_is_the_mean_of_the_band_indices(generated, tmp_path):
    """SEAM_VISIBILITY is the mean of the four per-band indices the backend logs (3 decimals), not a default."""
    import processing

    feedback = RecordingFeedback()
    result = processing.run("mapsynth:assemble_mosaic", {
        "PATCH_GRID": generated["grid"]["OUTPUT"], "GENERATED_DIR": str(generated["root"] / "generated"),
        "OUTPUT": str(tmp_path / "m.tif"), "LABELS": str(tmp_path / "l.tif"), "SEAMS": str(tmp_path / "s.gpkg")},
        feedback=feedback)
    bands = dict(re.findall(r"(B0[2348]): seam visibility index ([0-9.]+)", "\n".join(feedback.infos)))
    assert sorted(bands) == ["B02", "B03", "B04", "B08"], feedback.infos
    values = [float(v) for v in bands.values()]
    assert result["SEAM_VISIBILITY"] == pytest.approx(sum(values) / 4, abs=5e-4)
