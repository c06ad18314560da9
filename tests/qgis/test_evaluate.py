"""mapsynth:evaluate on the synthetic chain (conftest.py): the mosaic against the scene it was trained on."""

import json
from pathlib import Path

from osgeo import gdal


def test_the_report_compares_synthetic_with_real(mosaic, run_alg, tmp_path):
    maps = sorted((mosaic["root"] / "maps").glob("r*.tif"))
    vrt = gdal.BuildVRT(str(tmp_path / "maps.vrt"), [str(m) for m in maps])
    vrt = None  # noqa: F841 - flushes the VRT
    evaluated = run_alg("evaluate", {"SYNTHETIC": mosaic["mosaic"]["OUTPUT"], "REAL": str(mosaic["scene"]),
                                     "MAP": str(tmp_path / "maps.vrt"), "OUTPUT_DIR": str(tmp_path / "report")})
    metrics = json.loads(Path(evaluated["METRICS"]).read_text())
    assert {"wasserstein", "ndvi_per_class", "paired", "seams"} <= set(metrics)
    assert "<img" in Path(evaluated["REPORT"]).read_text()
