"""The plugin writes backend warnings and job summaries to QGIS's Log Messages panel, under a "MapSynth" tab."""

import sys
from pathlib import Path

import pytest
from osgeo import ogr, osr

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "gui"))
import demo_fixture  # noqa: E402


def buildings_in_wgs84(path: Path) -> Path:
    """Building polygons in EPSG:4326 inside the fixture's UTM 35N extent: the backend reprojects them and warns."""
    utm, wgs84 = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32635)
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_wgs84 = osr.CoordinateTransformation(utm, wgs84)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("buildings", wgs84, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("building", ogr.OFTString))
    for i, kind in enumerate(("house", "retail", "yes")):
        x, y = demo_fixture.X0 + 50 + 150 * i, demo_fixture.Y0 - 60 - 100 * i
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for dx, dy in ((0, 0), (60, 0), (60, -40), (0, -40), (0, 0)):
            ring.AddPoint_2D(x + dx, y + dy)
        polygon = ogr.Geometry(ogr.wkbPolygon)
        polygon.AddGeometry(ring)
        polygon.Transform(to_wgs84)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(polygon)
        feature.SetField("building", kind)
        layer.CreateFeature(feature)
    ds = None  # noqa: F841 - closes the file
    return path


def test_backend_warnings_and_job_summaries_reach_the_mapsynth_log_tab(run_alg, backend_python, tmp_path):
    from qgis.core import Qgis, QgsApplication, QgsProcessingException

    fixture = demo_fixture.build(tmp_path / "fixture")
    received = []

    def record(message, tag, level):
        received.append((tag, level, message))

    QgsApplication.messageLog().messageReceived.connect(record)
    try:
        result = run_alg("building_masks", {"BUILDINGS": str(buildings_in_wgs84(tmp_path / "b.gpkg")),
                                            "TARGET_RASTER": str(fixture / "mosaic.tif"),
                                            "OUTPUT_DIR": str(tmp_path / "masks")})
        with pytest.raises(QgsProcessingException):
            run_alg("building_masks", {"BUILDINGS": str(tmp_path / "b.gpkg"),
                                       "TARGET_RASTER": str(fixture / "mosaic.tif"), "RESIDENTIAL_MAX": 0.9,
                                       "NONRESIDENTIAL_MIN": 0.1, "OUTPUT_DIR": str(tmp_path / "masks2")})
    finally:
        QgsApplication.messageLog().messageReceived.disconnect(record)
    assert Path(result["BUILDINGS_MASK"]).is_file()
    ours = [(level, message) for tag, level, message in received if tag == "MapSynth"]
    warnings = [m for level, m in ours if level == Qgis.Warning]
    assert any("masks: inputs in" in m and "reprojected" in m for m in warnings), ours
    summaries = [m for level, m in ours if level == Qgis.Info and m.startswith("masks finished in ")]
    assert len(summaries) == 1 and "buildings=3" in summaries[0] and "backend.log" in summaries[0], ours
    failures = [m for level, m in ours if level == Qgis.Critical and m.startswith("masks failed after ")]
    assert len(failures) == 1 and "residential" in failures[0].lower(), ours
