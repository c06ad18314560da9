"""QGIS reads MapSynth's reflectance rasters as reflectance: the GDAL provider reports band scale 0.0001 and
offset -0.1, and Identify (as the map tool calls it) returns DN * 0.0001 - 0.1, not the stored DN."""

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsPointXY, QgsRaster, QgsRasterLayer


@pytest.fixture(scope="module")
def patch(tmp_path_factory, plugin, backend_python):
    """A crop_sentinel2 patch written by the real backend from a generated 4-band scene (DN = reflectance x 1e4)."""
    import processing

    folder = tmp_path_factory.mktemp("encoding")
    rng = np.random.default_rng(0)
    scene = folder / "scene.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(scene), 128, 128, 4, gdal.GDT_UInt16)
    ds.SetGeoTransform((420000, 10, 0, 5809000, 0, -10))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32630)
    ds.SetProjection(srs.ExportToWkt())
    for band in range(1, 5):
        ds.GetRasterBand(band).WriteArray(rng.integers(200, 4000, (128, 128)).astype(np.uint16))
    ds = None
    grid = processing.run("mapsynth:create_patch_grid", {
        "EXTENT": "420100,420900,5808100,5808900 [EPSG:32630]", "CRS": "EPSG:32630", "PATCH_SIZE": 32,
        "OUTPUT": str(folder / "grid.gpkg")})
    processing.run("mapsynth:crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(scene), "SCALE": 0.0001,
                                               "OUTPUT_DIR": str(folder / "s2")})
    return sorted((folder / "s2").glob("*.tif"))[0]


def test_provider_reports_scale_and_offset_and_identify_gives_reflectance(patch):
    layer = QgsRasterLayer(str(patch), "patch", "gdal")
    assert layer.isValid()
    provider = layer.dataProvider()
    for band in range(1, 5):
        assert provider.bandScale(band) == pytest.approx(1e-4) and provider.bandOffset(band) == pytest.approx(-0.1)
        assert provider.sourceNoDataValue(band) == 0
    assert [layer.bandName(b).split(": ")[-1] for b in range(1, 5)] == ["B02", "B03", "B04", "B08"]
    ds = gdal.Open(str(patch))
    dn = ds.ReadAsArray()
    x0, px, _, y0, _, _ = ds.GetGeoTransform()
    row, col = 7, 11
    point = QgsPointXY(x0 + (col + 0.5) * px, y0 - (row + 0.5) * px)
    values = provider.identify(point, QgsRaster.IdentifyFormatValue).results()
    assert dn[:, row, col].min() > 0
    for band in range(1, 5):
        reflectance = dn[band - 1, row, col] * 1e-4 - 0.1
        assert values[band] == pytest.approx(reflectance, abs=1e-6), (band, values[band], dn[band - 1, row, col])
