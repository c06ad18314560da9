"""Test bootstrap for the QGIS side: the plugin is imported as package ``mapsynth`` through a symlink, so the
tests work whatever the checkout folder is called; QGIS runs headless with a throw-away profile."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parent))  # appended: the helpers below, never ahead of QGIS's own modules
from shared_data import ABERYSTWYTH_S2, HELSINKI_BBOX, HELSINKI_EXTENT, HELSINKI_OSM, ROOT, SHARED_DATA  # noqa: E402, F401 - for the tests
from strict_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402, F401 - CI: skip = fail
from tiny_model import tiny_pixel_model  # noqa: E402, F401 - one tiny model for every tier

PLUGINS_DIR = Path(tempfile.mkdtemp(prefix="mapsynth-plugins-"))
(PLUGINS_DIR / "mapsynth").symlink_to(ROOT, target_is_directory=True)
sys.path.insert(0, str(PLUGINS_DIR))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = tempfile.mkdtemp(prefix="mapsynth-qgis-profile-")
os.environ["MAPSYNTH_CACHE_DIR"] = tempfile.mkdtemp(prefix="mapsynth-cache-")
BACKEND_PYTHON = Path(os.environ.get("MAPSYNTH_BACKEND_PYTHON") or ROOT / ".venv-backend" / "bin" / "python")
os.environ["MAPSYNTH_BACKEND_PYTHON"] = str(BACKEND_PYTHON)


@pytest.fixture(scope="session")
def qgis_app():
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append(str(Path(QgsApplication.pkgDataPath()) / "python" / "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    yield app


@pytest.fixture(scope="session")
def plugin(qgis_app):
    import mapsynth

    instance = mapsynth.classFactory(None)
    instance.initProcessing()
    yield instance


@pytest.fixture
def run_alg(plugin):
    """processing.run on a MapSynth algorithm, as the toolbox, the modeler and scripts do."""
    import processing
    from qgis.core import QgsProcessingFeedback

    def run(name, params, feedback=None):
        return processing.run(f"mapsynth:{name}", params, feedback=feedback or QgsProcessingFeedback())

    return run


@pytest.fixture(scope="session")
def backend_python():
    assert BACKEND_PYTHON.is_file(), f"backend venv missing at {BACKEND_PYTHON}: run 'make setup'"
    return BACKEND_PYTHON


def write_map_patches(grid, folder: Path, seed: int = 0) -> Path:
    """Map patches for every cell of ``grid`` as render_map_patches writes them: RGB GeoTIFFs of random 8 x 8
    fields of three colours on the cell's georeferencing, and the folder manifest."""
    import json

    import numpy as np
    from mapsynth.plugin.grid import list_patches, read_definition
    from osgeo import gdal

    definition = read_definition(grid)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mapsynth_output.json").write_text(json.dumps(
        {"kind": "map", "grid_fingerprint": definition["fingerprint"], "details": {}}))
    size, pixel = definition["patch_size"], definition["pixel_size"]
    stride = (size - definition["overlap"]) * pixel
    colours = np.array([[40, 90, 200], [140, 205, 95], [180, 40, 40]], np.uint8)
    for patch in list_patches(grid):
        classes = np.random.default_rng((seed, patch["row"], patch["col"])).integers(0, 3, (8, 8))
        rgb = colours[classes.repeat(size // 8, 0).repeat(size // 8, 1)].transpose(2, 0, 1)
        mem = gdal.GetDriverByName("MEM").Create("", size, size, 3, gdal.GDT_Byte)
        mem.SetGeoTransform((definition["origin_x"] + patch["col"] * stride, pixel, 0,
                             definition["origin_y"] - patch["row"] * stride, 0, -pixel))
        mem.SetProjection(definition["crs_wkt"])
        for band in range(3):
            mem.GetRasterBand(band + 1).WriteArray(rgb[band])
        gdal.GetDriverByName("GTiff").CreateCopy(str(folder / f"{patch['patch_id']}.tif"), mem)
    return folder


def pixel_lon_lat(path):
    """Longitude and latitude of every pixel centre of a georeferenced raster (for checks against a lon/lat box)."""
    import numpy as np
    from osgeo import gdal, osr

    ds = gdal.Open(str(path))
    x0, px, _, y1, _, negative = ds.GetGeoTransform()
    cols, rows = np.meshgrid(np.arange(ds.RasterXSize) + 0.5, np.arange(ds.RasterYSize) + 0.5)
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    transform = osr.CoordinateTransformation(osr.SpatialReference(wkt=ds.GetProjection()), wgs84)
    points = np.array(transform.TransformPoints(np.stack([x0 + cols.ravel() * px, y1 + rows.ravel() * negative], 1)))
    return points[:, 0].reshape(cols.shape), points[:, 1].reshape(cols.shape)


def osm_copies(source, folder, suffixes=(".osm.gz", ".osm.bz2")):
    """Real copies of an .osm.pbf in other OSM file formats (XML, gzip/bzip2-compressed), written by libosmium
    (the backend venv's osmium, a test dependency): {suffix: path}. The header's bbox is kept."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    stem = source.name.split(".")[0]
    targets = {suffix: folder / f"{stem}{suffix}" for suffix in suffixes}
    script = ("import sys, osmium\nsrc = sys.argv[1]\nfor out in sys.argv[2:]:\n"
              "    writer = osmium.SimpleWriter(out, header=osmium.io.Reader(src).header())\n"
              "    for obj in osmium.FileProcessor(src):\n        writer.add(obj)\n    writer.close()\n")
    subprocess.run([str(BACKEND_PYTHON), "-c", script, str(source), *map(str, targets.values())], check=True,
                   capture_output=True, text=True, timeout=300)
    return targets


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the process once pytest has reported (summary, exit status): two fresh-clone runs of the qgis tier passed
    every test and then segfaulted in Python's finalisation, where Qt and QGIS objects are destroyed in no fixed
    order (exitQgis at the end of the session did not prevent it). Nothing is left to run or write by then."""
    if _EXIT_STATUS and "qgis" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
