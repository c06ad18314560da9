"""mapsynth:evaluate on the synthetic chain (conftest.py): the mosaic against the scene it was trained on."""

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from .conftest import ENCODE  # noqa: TID252


def reflectance(path, like=None):
    """Bands (B02, B03, B04, B08) as reflectance with NaN for nodata, on the grid of ``like`` when given."""
    ds = gdal.Open(str(path))
    if like is not None:
        x0, px, _, y1, _, _ = like.GetGeoTransform()
        bounds = (x0, y1 - like.RasterYSize * px, x0 + like.RasterXSize * px, y1)
        ds = gdal.Warp("", ds, format="MEM", outputBounds=bounds, xRes=px, yRes=px, resampleAlg="average")
    bands = []
    for index in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(index)
        dn = band.ReadAsArray().astype(np.float64)
        scale, offset = band.GetScale(), band.GetOffset()
        if scale in (None, 1.0) and not offset:  # the scene declares its encoding in a tag
            scale, offset = 1 / ENCODE, -0.1
        values = dn * scale + offset
        values[dn == (band.GetNoDataValue() if band.GetNoDataValue() is not None else 0)] = np.nan
        bands.append(values)
    return np.array(bands)


def test_the_report_compares_synthetic_with_real(mosaic, run_alg, tmp_path):
    maps = sorted((mosaic["root"] / "maps").glob("r*.tif"))
    vrt = gdal.BuildVRT(str(tmp_path / "maps.vrt"), [str(m) for m in maps])
    vrt = None  # noqa: F841 - flushes the VRT
    evaluated = run_alg("evaluate", {"SYNTHETIC": mosaic["mosaic"]["OUTPUT"], "REAL": str(mosaic["scene"]),
                                     "MAP": str(tmp_path / "maps.vrt"), "C2ST_REPEATS": 2,
                                     "OUTPUT_DIR": str(tmp_path / "report")})
    metrics = json.loads(Path(evaluated["METRICS"]).read_text())
    assert {"wasserstein", "ndvi_per_class", "paired", "seams"} <= set(metrics)
    c2st = metrics["realism"]["c2st"]  # the advanced parameter reaches the backend (this mosaic has too few
    assert c2st["repeats"] == 2 and c2st["accuracy"] is None and "too few" in c2st["note"]  # blocks for C2ST)
    # PSNR recomputed here with GDAL and numpy, on the mosaic's grid, with the real band's 0.5-99.5 % range
    synthetic = reflectance(mosaic["mosaic"]["OUTPUT"])
    real = reflectance(mosaic["scene"], like=gdal.Open(mosaic["mosaic"]["OUTPUT"]))
    for index, name in enumerate(("B02", "B03", "B04", "B08")):
        paired = metrics["paired"][name]
        finite = real[index][np.isfinite(real[index])]
        low, high = np.percentile(finite, (0.5, 99.5))
        assert paired["data_range"] == pytest.approx(high - low, rel=1e-3)
        both = np.isfinite(synthetic[index]) & np.isfinite(real[index])
        mse = np.mean((synthetic[index][both] - real[index][both]) ** 2)
        assert paired["psnr_db"] == pytest.approx(10 * np.log10((high - low) ** 2 / mse), abs=0.01)
        assert -1 <= paired["ssim"] <= 1
    # every figure is an embedded PNG, and there is at least one per section that draws one
    page = Path(evaluated["REPORT"]).read_text()
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= 3 and page.count("<img") == len(images)
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data in images)
