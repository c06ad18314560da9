"""The plugin zip (git archive, as `make zip` builds it) and the QGIS-side environment."""

import importlib.util
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_validator():
    spec = importlib.util.spec_from_file_location("validate_zip", ROOT / "scripts" / "validate_zip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plugin_zip_passes_validation_and_ships_the_backend_without_tests(tmp_path):
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout with commits: make zip archives HEAD")
    out = tmp_path / "mapsynth.zip"
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=zip", "--prefix=mapsynth/", "-o", str(out), "HEAD"],
                   check=True)
    assert load_validator().problems(out) == []
    names = zipfile.ZipFile(out).namelist()
    assert "mapsynth/backend/pyproject.toml" in names and "mapsynth/processing_provider/provider.py" in names
    assert not [n for n in names if n.startswith(("mapsynth/tests/", "mapsynth/backend/tests/", "mapsynth/.ci/"))]


def test_validator_rejects_what_plugins_qgis_org_rejects(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("mapsynth-main/__init__.py", "")
        archive.writestr("mapsynth-main/plugin/__pycache__/x.cpython-311.pyc", b"")
        archive.writestr("mapsynth/metadata.txt", "[general]\nname=MapSynth\n")
    found = "\n".join(load_validator().problems(bad))
    for expected in ("one folder 'mapsynth'", "missing mapsynth/LICENSE", "missing mapsynth/__init__.py",
                     "forbidden entry", "lacks about"):
        assert expected in found


def test_qgis_side_numpy_is_the_system_one():
    """numpy 2 in QGIS's Python breaks Debian's GDAL and SciPy ("_ARRAY_API not found")."""
    import numpy
    from osgeo import gdal

    assert int(numpy.__version__.split(".")[0]) < 2 or not numpy.__file__.startswith(str(ROOT))
    assert gdal.VersionInfo()
