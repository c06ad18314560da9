"""Test bootstrap for the QGIS side: the plugin is imported as package ``mapsynth`` through a symlink, so the
tests work whatever the checkout folder is called; QGIS runs headless with a throw-away profile."""

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MAPSYNTH_SHARED_DATA") or ROOT.parent / "shared" / "data")
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


HELSINKI_BBOX = (24.9351762, 60.1641550, 24.9534145, 60.1791130)  # lon/lat: the extract's PBF header (PROVENANCE.md)


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
