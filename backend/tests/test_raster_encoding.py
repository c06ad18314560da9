"""Every reflectance raster MapSynth writes carries GDAL band scale 0.0001 and offset -0.1 (plus nodata 0 and
band names), so rasterio, ``gdal_translate -unscale`` and xarray decode reflectance without our docs."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.generate.command import write_generated
from mapsynth_backend.radiometry import decode_reflectance
from mapsynth_backend.runtime.geotiff import write_geotiff

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid  # noqa: E402
from test_mosaic import COLS, OV, ROWS, P, cut, run, smooth_image, write_candidates  # noqa: E402

NAMES = ["B02", "B03", "B04", "B08"]
GDAL_TRANSLATE = shutil.which("gdal_translate")


def assert_standard_encoding(path: Path) -> np.ndarray:
    """The file's metadata decodes DN to reflectance; returns the reflectance GDAL itself computes."""
    with rasterio.open(path) as src:
        assert src.scales == (0.0001,) * 4 and src.offsets == (-0.1,) * 4, path
        assert src.nodata == 0 and list(src.descriptions) == NAMES
        dn = src.read()
    assert GDAL_TRANSLATE, "gdal_translate (Debian gdal-bin) is needed for this test"
    unscaled = path.with_name(path.stem + ".unscaled.tif")
    subprocess.run(
        [GDAL_TRANSLATE, "-q", "-unscale", "-ot", "Float64", str(path), str(unscaled)], check=True, timeout=60
    )
    with rasterio.open(unscaled) as src:
        reflectance = src.read()
    valid = dn != 0
    assert np.allclose(reflectance[valid], dn[valid] * 1e-4 - 0.1, atol=1e-9)
    assert np.allclose(reflectance[valid], decode_reflectance(dn)[valid], atol=1e-6)
    return reflectance


def test_crop_and_generated_patches_carry_scale_and_offset(tmp_path):
    dn = np.random.default_rng(0).integers(1, 4000, (4, 16, 16)).astype(np.uint16)
    dn[:, 0, 0] = 0
    transform = from_origin(420000, 5809000, 10, 10)
    write_geotiff(tmp_path / "crop.tif", dn, "EPSG:32630", transform, reflectance_bands=NAMES, tags={"encoding": "x"})
    assert_standard_encoding(tmp_path / "crop.tif")
    write_generated(tmp_path / "gen.tif", dn, {"crs": "EPSG:32630", "transform": transform}, NAMES, {})
    assert_standard_encoding(tmp_path / "gen.tif")


@pytest.mark.parametrize("target", [0.0, 20.0], ids=["native", "area-averaged"])
def test_mosaic_cogs_carry_scale_and_offset(tmp_path, target):
    grid = make_grid(tmp_path / "grid.gpkg", ROWS, COLS, P, OV)
    image = smooth_image(np.random.default_rng(3), (ROWS - 1) * (P - OV) + P, (COLS - 1) * (P - OV) + P)
    write_candidates(tmp_path / "gen", grid, lambda r, c, v: cut(image, r, c), 1)
    result = run(tmp_path, tmp_path / "grid.gpkg", tmp_path / "gen", target_pixel_size=target)
    assert_standard_encoding(Path(result["output"]))


def test_netcdf_export_uses_the_same_scale_and_offset(tmp_path):
    """xarray's mask_and_scale on the netCDF gives the reflectance GDAL gives from the mosaic's band scale."""
    import xarray as xr

    from mapsynth_backend.export import COMMANDS as EXPORT
    from mapsynth_backend.runtime.protocol import ConsoleReporter

    grid = make_grid(tmp_path / "grid.gpkg", ROWS, COLS, P, OV)
    image = smooth_image(np.random.default_rng(4), (ROWS - 1) * (P - OV) + P, (COLS - 1) * (P - OV) + P)
    write_candidates(tmp_path / "gen", grid, lambda r, c, v: cut(image, r, c), 1)
    mosaic = Path(run(tmp_path, tmp_path / "grid.gpkg", tmp_path / "gen")["output"])
    from_gdal = assert_standard_encoding(mosaic)
    out = tmp_path / "m.nc"
    EXPORT[0].run(EXPORT[0].resolve({"mosaic": str(mosaic), "output": str(out)}), ConsoleReporter(json_result=False))
    with xr.open_dataset(out, mask_and_scale=True) as ds:
        for i, name in enumerate(NAMES):
            assert ds[name].encoding["scale_factor"] == 0.0001 and ds[name].encoding["add_offset"] == -0.1
            assert np.allclose(ds[name].values, from_gdal[i], atol=1e-6)
