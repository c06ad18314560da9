"""qgis_process smoke tier: the plugin as users and CI scripts see it (Debian's wrapper is broken, so
qgis_process.bin). `plugins enable` succeeds even when the import fails, hence the check on `list`."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import PLUGINS_DIR  # noqa: TID252 - tests are not part of the plugin

QGIS_PROCESS = shutil.which("qgis_process.bin") or "/usr/bin/qgis_process.bin"
EXTENT = "385003,391517,6671004,6675999 [EPSG:32635]"


@pytest.fixture(scope="module")
def qp(tmp_path_factory):
    if not Path(QGIS_PROCESS).exists():
        pytest.fail("qgis_process.bin not found: install QGIS ('make setup' does it as root)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QGIS_PLUGINPATH": str(PLUGINS_DIR),
           "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path_factory.mktemp("qgis-profile"))}

    def run(*args, check=True):
        proc = subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=300)
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    run("plugins", "enable", "mapsynth")
    return run


def expected_algorithms():
    from mapsynth.processing_provider.provider import ALGORITHMS

    return {f"mapsynth:{cls().name()}" for cls in ALGORITHMS}


def test_list_shows_every_mapsynth_algorithm(qp, plugin):
    listed = {word for line in qp("list").stdout.splitlines() for word in line.split() if word.startswith("mapsynth:")}
    assert listed == expected_algorithms()


def test_help_documents_the_parameters(qp):
    text = qp("help", "mapsynth:create_patch_grid").stdout
    for name in ("EXTENT", "AOI", "CRS", "PIXEL_SIZE", "PATCH_SIZE", "OVERLAP", "VAL_FRACTION", "TEST_FRACTION",
                 "OUTPUT"):
        assert name in text


def test_json_run_creates_the_grid(qp, tmp_path):
    out = tmp_path / "a grid ø.gpkg"
    proc = qp("--json", "run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", f"OUTPUT={out}")
    results = json.loads(proc.stdout)["results"]
    assert results["PATCH_COUNT"] == 130 and results["CRS"] == "EPSG:32635"
    assert Path(results["OUTPUT"]) == out and out.is_file()


def test_bad_input_gives_one_clear_line_and_exit_1(qp, tmp_path):
    out = tmp_path / "grid.gpkg"
    proc = qp("run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", "PATCH_SIZE=64", "OVERLAP=64",
              f"OUTPUT={out}", check=False)
    assert proc.returncode == 1
    text = proc.stdout + proc.stderr
    errors = [line for line in text.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1
    assert "OVERLAP (64 px) must be at least 0 and smaller than PATCH_SIZE" in errors[0]
    assert "Traceback" not in text
    assert not out.exists()


def one_error_line(proc):
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, text
    return errors[0]


def test_backend_and_prepare_errors_are_one_line_too(qp, tmp_path):
    grid = tmp_path / "grid.gpkg"
    qp("run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", f"OUTPUT={grid}")
    raster = tmp_path / "scene.tif"
    subprocess.run(["gdal_create", "-of", "GTiff", "-outsize", "10", "10", "-bands", "4", "-ot", "UInt16",
                    "-a_srs", "EPSG:32635", "-a_ullr", "385000", "6676000", "385100", "6675900", str(raster)],
                   check=True, capture_output=True)
    line = one_error_line(qp("run", "mapsynth:crop_sentinel2", "--", f"PATCH_GRID={grid}", f"INPUT={raster}",
                             f"OUTPUT_DIR={tmp_path / 's2'}", check=False))
    assert "SCALE: give the factor" in line and "backend.log" in line
    line = one_error_line(qp("run", "mapsynth:render_map_patches", "--", f"PATCH_GRID={grid}",
                             f"OUTPUT_DIR={tmp_path / 'maps'}", check=False))
    assert "exactly one" in line


def test_synthesize_city_end_to_end_with_a_tiny_model(qp, tmp_path, backend_python):
    from ..conftest import HELSINKI_EXTENT  # noqa: TID252
    from ..conftest import HELSINKI_OSM as osm  # noqa: TID252
    if not osm.exists():
        pytest.skip(f"real OSM extract not available at {osm}")
    from ..conftest import tiny_pixel_model  # noqa: TID252
    model_dir = tiny_pixel_model()
    proc = qp("--json", "run", "mapsynth:synthesize_city", "--",
              f"EXTENT={HELSINKI_EXTENT}", f"OSM_FILE={osm}",
              f"MODEL={model_dir}", "VARIATIONS=2", f"OUTPUT_DIR={tmp_path / 'city'}")
    results = json.loads(proc.stdout)["results"]
    city = tmp_path / "city"
    assert Path(results["MOSAIC"]) == city / "mosaic.tif" and (city / "mosaic.tif").is_file()
    assert Path(results["NETCDF"]).is_file() and Path(results["BUILDINGS_MASK"]).is_file()
    assert len(list((city / "maps").glob("r*.tif"))) == 8 and len(list((city / "generated").glob("r*_v*.tif"))) == 16
    from osgeo import gdal

    mosaic, mask = gdal.Open(str(city / "mosaic.tif")), gdal.Open(results["BUILDINGS_MASK"])
    assert mosaic.GetGeoTransform() == mask.GetGeoTransform() and mosaic.RasterCount == 4
    assert mask.ReadAsArray().sum() > 0
