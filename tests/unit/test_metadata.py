"""metadata.txt as plugins.qgis.org validates it, and versions that must agree."""

import re
import tomllib
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker",
            "repository")


def metadata():
    parser = ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    return parser["general"]


def test_required_fields_present_and_valid():
    meta = metadata()
    for key in REQUIRED:
        assert meta.get(key, "").strip(), key
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert meta["experimental"] in ("True", "False") and meta["deprecated"] in ("True", "False")
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"])
    assert meta["tracker"].startswith("https://") and meta["repository"].startswith("https://")
    assert (ROOT / meta["icon"]).is_file()
    assert "PyTorch" in meta["about"], "external dependencies must be stated in about"


def test_plugin_and_backend_versions_agree():
    backend = tomllib.loads((ROOT / "backend" / "pyproject.toml").read_text())["project"]["version"]
    init = (ROOT / "backend" / "src" / "mapsynth_backend" / "__init__.py").read_text()
    assert backend == metadata()["version"]
    assert f'__version__ = "{backend}"' in init


def test_license_is_apache():
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
