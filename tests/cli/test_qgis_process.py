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
