"""netCDF export: CF-1.8 checked by the IOOS compliance checker, exact values, per-patch files."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr

from mapsynth_backend.export import COMMANDS, export_netcdf
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid  # noqa: E402
from test_mosaic import COLS, OV, ROWS, P, cut, run, smooth_image, write_candidates  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)


@pytest.fixture(scope="module")
def mosaic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    grid = make_grid(folder / "grid.gpkg", ROWS, COLS, P, OV)
    image = smooth_image(np.random.default_rng(1), (ROWS - 1) * (P - OV) + P, (COLS - 1) * (P - OV) + P)
    write_candidates(folder / "gen", grid, lambda r, c, v: cut(image, r, c), 1)
    result = run(folder, folder / "grid.gpkg", folder / "gen")
    with rasterio.open(result["output"]) as src:
        profile = src.profile
        mask = np.linspace(0, 1, src.width * src.height, dtype=np.float32).reshape(src.height, src.width)
    profile.update(driver="GTiff", count=1, dtype="float32", nodata=None)
    profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
    with rasterio.open(folder / "buildings_coverage.tif", "w", **profile) as dst:
        dst.write(mask[None])
        dst.set_band_description(1, "building coverage fraction")
    return folder, result, image, mask


def checker(path: Path) -> dict:
    out = path.with_suffix(".json")
    subprocess.run(
        [
            str(Path(sys.executable).parent / "compliance-checker"),
            "--test=cf:1.8",
            "--format=json",
            f"--output={out}",
            str(path),
        ],
        check=False,
        capture_output=True,
        timeout=300,
    )
    return json.loads(out.read_text())["cf:1.8"]


def failures(report: dict, priority: str) -> list:
    return [item for item in report[f"{priority}_priorities"] if item["value"][0] < item["value"][1]]


def test_mosaic_export_is_cf_compliant_exact_and_georeferenced(mosaic):
    folder, assembled, image, mask = mosaic
    params = COMMANDS[0].resolve(
        {
            "mosaic": assembled["output"],
            "masks": [str(folder / "buildings_coverage.tif")],
            "labels": assembled["labels"],
            "per_patch": str(folder / "grid.gpkg"),
            "output": str(folder / "city.nc"),
        }
    )
    result = export_netcdf(params, REPORTER)
    assert result["variables"] == ["B02", "B03", "B04", "B08", "buildings_coverage", "label"]
    report = checker(folder / "city.nc")
    assert failures(report, "high") == [] and failures(report, "medium") == [], report
    with xr.open_dataset(folder / "city.nc", decode_coords="all") as ds:
        assert ds.rio.crs.to_epsg() == 32630
        assert float(ds.x[0]) == 420005.0 and float(ds.y[0]) == 5808995.0  # pixel centres of the grid origin
        np.testing.assert_allclose(ds["B04"].values, image[2] * 1e-4 - 0.1, atol=1e-9)
        np.testing.assert_array_equal(ds["buildings_coverage"].values, mask)
        assert int(ds["label"].min()) >= 0
        assert "OpenStreetMap contributors" in ds.attrs["attribution"] and "Copernicus" in ds.attrs["attribution"]
        assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["mapsynth_version"]
    files = sorted((folder / "city_patches").glob("*.nc"))
    assert result["patch_files"] == len(files) == ROWS * COLS
    patch_report = checker(files[0])
    assert failures(patch_report, "high") == []
    with xr.open_dataset(folder / "city_patches" / "r0001_c0002.nc", decode_coords="all") as piece:
        assert piece.sizes == {"y": P, "x": P} and piece.rio.crs.to_epsg() == 32630
        np.testing.assert_allclose(piece["B02"].values, cut(image, 1, 2)[0] * 1e-4 - 0.1, atol=1e-9)
        assert piece.attrs["patch_id"] == "r0001_c0002"


def test_masks_on_another_grid_are_refused(mosaic, tmp_path):
    folder, assembled, _, _ = mosaic
    with rasterio.open(folder / "buildings_coverage.tif") as src:
        profile = src.profile
        data = src.read()
    profile.update(
        transform=profile["transform"] * rasterio.Affine.scale(2),
        width=profile["width"] // 2,
        height=profile["height"] // 2,
    )
    with rasterio.open(tmp_path / "coarse.tif", "w", **profile) as dst:
        dst.write(data[:, : profile["height"], : profile["width"]])
    params = COMMANDS[0].resolve(
        {"mosaic": assembled["output"], "masks": [str(tmp_path / "coarse.tif")], "output": str(tmp_path / "x.nc")}
    )
    with pytest.raises(UserError, match="not on the mosaic's grid"):
        export_netcdf(params, REPORTER)
    assert not (tmp_path / "x.nc").exists()
