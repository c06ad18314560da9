"""The plugin writes backend warnings and job summaries to QGIS's Log Messages panel, under a "MapSynth" tab."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "gui"))
import demo_fixture  # noqa: E402


def test_backend_warnings_and_job_summaries_reach_the_mapsynth_log_tab(run_alg, backend_python, tmp_path):
    from qgis.core import Qgis, QgsApplication, QgsProcessingException

    fixture = demo_fixture.build(tmp_path / "fixture")
    received = []

    def record(message, tag, level):
        received.append((tag, level, message))

    QgsApplication.messageLog().messageReceived.connect(record)
    try:
        result = run_alg("building_masks", {"BUILDINGS": str(demo_fixture.buildings_in_wgs84(tmp_path / "b.gpkg")),
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
