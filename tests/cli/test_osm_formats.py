"""Compressed OpenStreetMap extracts through qgis_process, as a user's script passes them: .osm.gz and .osm.bz2
copies of the real Helsinki extract run render_map_patches and synthesize_city; any other file fails with one
line naming the accepted formats."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from ..conftest import (  # noqa: TID252
    HELSINKI_EXTENT,  # noqa: TID252
    PLUGINS_DIR,
    osm_copies,
    tiny_pixel_model,
)
from ..conftest import HELSINKI_OSM as HELSINKI  # noqa: TID252

QGIS_PROCESS = shutil.which("qgis_process.bin") or "/usr/bin/qgis_process.bin"
EXTENT = "24.9380,24.9480,60.1660,60.1720 [EPSG:4326]"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def qp(tmp_path_factory):
    if not HELSINKI.exists():
        pytest.skip(f"real OSM extract not available at {HELSINKI}")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QGIS_PLUGINPATH": str(PLUGINS_DIR),
           "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path_factory.mktemp("qgis-profile"))}

    def run(*args):
        return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=600)

    run("plugins", "enable", "mapsynth")
    return run


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    return osm_copies(HELSINKI, tmp_path_factory.mktemp("osm-copies"))


def test_render_map_patches_reads_gzip_and_bzip2_extracts(qp, copies, tmp_path):
    grid = tmp_path / "grid.gpkg"
    done = qp("run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", "PATCH_SIZE=32", f"OUTPUT={grid}")
    assert done.returncode == 0, done.stderr
    maps = {}
    for suffix, path in {".osm.pbf": HELSINKI, **copies}.items():
        done = qp("--json", "run", "mapsynth:render_map_patches", "--", f"PATCH_GRID={grid}", f"OSM_FILE={path}",
                  f"OUTPUT_DIR={tmp_path / suffix}")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert json.loads(done.stdout)["results"]["PATCH_COUNT"] >= 4
        maps[suffix] = {p.name: gdal.Open(str(p)).ReadAsArray() for p in sorted((tmp_path / suffix).glob("*.tif"))}
    for suffix in copies:
        assert maps[suffix].keys() == maps[".osm.pbf"].keys()
        assert all(np.array_equal(maps[suffix][name], maps[".osm.pbf"][name]) for name in maps[suffix]), suffix


@pytest.mark.slow
def test_synthesize_city_end_to_end_from_a_bzip2_extract(qp, copies, tmp_path, backend_python):
    """The whole chain through qgis_process, once for the CLI tier: from a .osm.bz2 copy of the Helsinki extract
    (the .osm.pbf gives the same maps, test above; the toolbox model and make demo run it from the .osm.pbf)."""
    proc = qp("--json", "run", "mapsynth:synthesize_city", "--", f"EXTENT={HELSINKI_EXTENT}",
              f"OSM_FILE={copies['.osm.bz2']}", f"MODEL={tiny_pixel_model()}", "VARIATIONS=2",
              f"OUTPUT_DIR={tmp_path / 'city'}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results = json.loads(proc.stdout)["results"]
    city = tmp_path / "city"
    assert Path(results["MOSAIC"]) == city / "mosaic.tif" and (city / "mosaic.tif").is_file()
    assert Path(results["NETCDF"]).is_file() and Path(results["BUILDINGS_MASK"]).is_file()
    assert len(list((city / "maps").glob("r*.tif"))) == 8 and len(list((city / "generated").glob("r*_v*.tif"))) == 16
    mosaic, mask = gdal.Open(str(city / "mosaic.tif")), gdal.Open(results["BUILDINGS_MASK"])
    assert mosaic.GetGeoTransform() == mask.GetGeoTransform() and mosaic.RasterCount == 4
    assert mask.ReadAsArray().sum() > 0


@pytest.mark.parametrize("name", ["extract.osm.xz", "notes.txt"])
def test_other_files_fail_with_the_accepted_formats(qp, tmp_path, name):
    other = tmp_path / name
    other.write_text("not an OSM extract")
    grid = tmp_path / "grid.gpkg"
    assert qp("run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", f"OUTPUT={grid}").returncode == 0
    done = qp("run", "mapsynth:render_map_patches", "--", f"PATCH_GRID={grid}", f"OSM_FILE={other}",
              f"OUTPUT_DIR={tmp_path / 'maps'}")
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert f"OSM_FILE: expected .osm.pbf, .osm, .osm.gz, .osm.bz2 or a GeoPackage of OGR OSM layers (.gpkg), got " \
           f"{other}" in text, text[-2000:]
    assert "Incorrect parameter value" not in text
