"""metadata.txt as plugins.qgis.org validates it, and versions that must agree."""

import re
import tomllib
from configparser import ConfigParser
from pathlib import Path
from urllib.parse import urlparse

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


def test_licences_plugin_gpl2_or_later_backend_apache():
    """plugins.qgis.org asks for GPLv2-or-later; the backend, a separate program behind a process boundary, stays
    Apache-2.0. The root LICENSE says what covers what and carries the full GPLv2 text (Debian's copy)."""
    root, backend = (ROOT / "LICENSE").read_text(), (ROOT / "backend" / "LICENSE").read_text()
    header, gpl = root.split("GNU GENERAL PUBLIC LICENSE", 1)
    assert "GPL-2.0-or-later" in header and "Apache-2.0" in header and "backend/LICENSE" in header
    assert "Version 2, June 1991" in gpl and "END OF TERMS AND CONDITIONS" in gpl
    debian = Path("/usr/share/common-licenses/GPL-2")
    if debian.is_file():
        assert root.endswith(debian.read_text())
    assert "Apache License" in backend and "Version 2.0" in backend and "GNU" not in backend
    assert tomllib.loads((ROOT / "backend" / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"
    assert "GPL-2.0-or-later" in metadata()["about"] and "Apache-2.0" in metadata()["about"]


def test_contacts_are_declared_placeholders_until_a_release_fills_them():
    """The committed contacts sit on the reserved .invalid domain (never plausible fakes such as example.org or
    a made-up GitHub project); `make zip RELEASE=1` must replace them (tests/unit/test_packaging.py)."""
    meta = metadata()
    hosts = [meta["email"].rsplit("@", 1)[-1]] + [urlparse(meta[k]).hostname for k in ("tracker", "repository",
                                                                                        "homepage")]
    assert all(host.endswith(".invalid") for host in hosts), hosts
    assert "Development placeholders" in (ROOT / "metadata.txt").read_text()


def test_plugin_and_backend_pin_the_same_sd15_commit():
    pattern = re.compile(r'^SD15_REVISION = "([0-9a-f]{40})"', re.M)
    plugin = pattern.search((ROOT / "processing_provider" / "train_model.py").read_text())
    backend = pattern.search((ROOT / "backend" / "src" / "mapsynth_backend" / "models" / "sd_base.py").read_text())
    assert plugin and backend and plugin.group(1) == backend.group(1)
