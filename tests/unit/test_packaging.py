"""The plugin zip (built by scripts/build_zip.py, as `make zip` does), its validator, and the QGIS-side
environment."""

import importlib.util
import subprocess
import sys
import zipfile
from configparser import ConfigParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTACTS = {"email": "maintainer@mapsynth-project.eu", "repository": "https://github.com/mapsynth-project/mapsynth",
            "tracker": "https://github.com/mapsynth-project/mapsynth/issues",
            "homepage": "https://mapsynth-project.eu"}


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_validator():
    return load_script("validate_zip")


def build_zip(out: Path, release: bool = False, **contacts: str) -> Path:
    """The zip exactly as `make zip` builds it (git archive of HEAD, then metadata.txt filled in)."""
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode:
        pytest.skip("not a git checkout with commits: make zip archives HEAD")
    return load_script("build_zip").build(out, contacts, release)


def zipped_metadata(path: Path):
    meta = ConfigParser(interpolation=None)
    meta.optionxform = str
    meta.read_string(zipfile.ZipFile(path).read("mapsynth/metadata.txt").decode("utf-8"))
    return meta["general"]


def test_plugin_zip_passes_validation_and_ships_the_backend_without_tests(tmp_path):
    out = build_zip(tmp_path / "mapsynth.zip")
    assert load_validator().problems(out) == []
    names = zipfile.ZipFile(out).namelist()
    assert "mapsynth/backend/pyproject.toml" in names and "mapsynth/processing_provider/provider.py" in names
    assert "mapsynth/LICENSE" in names and "mapsynth/backend/LICENSE" in names
    assert "mapsynth/resources/help/algorithms.html" in names, "the Help buttons' page (processing_provider/base.py)"
    assert not [n for n in names if n.startswith(("mapsynth/tests/", "mapsynth/backend/tests/", "mapsynth/.ci/"))]
    assert not [n for n in names if "/." in n or n.endswith((".whl", ".db"))], "dot-files, wheels or databases"


def test_a_development_zip_says_so_and_a_release_needs_real_contacts(tmp_path):
    committed = (ROOT / "metadata.txt").read_text()
    version = zipped_metadata(build_zip(tmp_path / "dev.zip"))["version"]
    dev = zipped_metadata(tmp_path / "dev.zip")
    assert version.endswith("-dev") and dev["experimental"] == "True"

    placeholder = build_zip(tmp_path / "placeholder.zip", release=True)
    found = "\n".join(load_validator().problems(placeholder, release=True))
    for key in ("email", "tracker", "repository", "homepage"):
        assert f"metadata.txt {key} " in found
    reserved = build_zip(tmp_path / "reserved.zip", release=True,
                         **{**CONTACTS, "email": "me@example.org", "homepage": "https://localhost/mapsynth"})
    found = load_validator().problems(reserved, release=True)
    assert len(found) == 2 and "email" in found[0] and "homepage" in found[1]

    release = build_zip(tmp_path / "release.zip", release=True, **CONTACTS)
    assert load_validator().problems(release, release=True) == []
    meta = zipped_metadata(release)
    assert {k: meta[k] for k in CONTACTS} == CONTACTS and meta["version"] == version.removesuffix("-dev")
    assert (ROOT / "metadata.txt").read_text() == committed, "the committed metadata.txt stays untouched"


def good_zip(path: Path, extra=()) -> Path:
    """A minimal plugin zip that passes, plus the given (ZipInfo or name, data) entries."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mapsynth/__init__.py", "")
        archive.writestr("mapsynth/LICENSE", "GPL")
        archive.writestr("mapsynth/metadata.txt", (ROOT / "metadata.txt").read_text())
        for entry, data in extra:
            archive.writestr(entry, data)
    return path


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16  # what git archive and zip -y write for a symlink
    return info


FORBIDDEN = {
    "symlink": ([(symlink("mapsynth/plugins/mapsynth"), "/")], "symlink mapsynth/plugins/mapsynth"),
    "dot-folder": ([("mapsynth/.mapsynth-demo-training-v2/QGIS3.ini", "")], "dot-file or dot-folder"),
    "dot-file": ([("mapsynth/resources/.env", "")], "dot-file or dot-folder"),
    "wheel": ([("mapsynth/py_spy-0.4.3-py2.py3-none-manylinux1_x86_64.whl", "")], "forbidden entry"),
    "database": ([("mapsynth/profile/qgis-auth.db", "")], "forbidden entry"),
    "pickle": ([("mapsynth/resources/model.pkl", "")], "forbidden entry"),
    "bytecode": ([("mapsynth/plugin/main.cpython-311.pyc", "")], "forbidden entry"),
    "over 20 MB": ([("mapsynth/resources/big.tif", bytes(21 * 2**20))], "more than 20 MB"),
}


@pytest.mark.parametrize("kind", FORBIDDEN)
def test_validator_refuses_each_forbidden_kind(tmp_path, kind):
    assert load_validator().problems(good_zip(tmp_path / "good.zip")) == []
    entries, expected = FORBIDDEN[kind]
    found = load_validator().problems(good_zip(tmp_path / "bad.zip", entries))
    assert len(found) == 1 and expected in found[0], found
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "validate_zip.py"), str(tmp_path / "bad.zip")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and expected in done.stderr


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


TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"


def security_scan(path: Path) -> subprocess.CompletedProcess:
    if not TOOLS_PYTHON.exists():
        pytest.skip("no .venv-tools (bandit, detect-secrets, flake8): `make setup` or `make tools` creates it")
    return subprocess.run([str(TOOLS_PYTHON), str(ROOT / "scripts" / "security_scan.py"), str(path)],
                          capture_output=True, text=True, timeout=600)


def test_the_zip_passes_the_plugins_qgis_org_security_scan(tmp_path):
    done = security_scan(build_zip(tmp_path / "mapsynth.zip"))
    assert done.returncode == 0, done.stderr
    assert "security scan OK" in done.stdout


HOSTILE = {
    "mapsynth/hub.py": 'from transformers import CLIPTextModel\n\nCLIPTextModel.from_pretrained("org/model")\n',
    "mapsynth/hidden.py": 'from transformers import CLIPTextModel\n\nCLIPTextModel.from_pretrained("org/m")  # nosec\n',
    "mapsynth/sql.py": 'def rows(conn, table):\n    return conn.execute("SELECT * FROM " + table).fetchall()\n',
    "mapsynth/undefined.py": "print(undefined_name)\n",
    "mapsynth/docs/NOTES.md": 'key: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"\n',
    "mapsynth/install.sh": "echo hi\n",
    # allowed: a skippable rule with nosec, a pragma'd public id
    "mapsynth/ok.py": 'import subprocess\n\nsubprocess.run(["git", "--version"], check=False)  # nosec B603 B607\n'
                      'COMMIT = "451f4fe16113bff5a5d2269ed5ad43b0592e9a14"  # pragma: allowlist secret\n',
}


def test_the_security_scan_blocks_what_plugins_qgis_org_blocks(tmp_path):
    done = security_scan(good_zip(tmp_path / "hostile.zip", HOSTILE.items()))
    assert done.returncode == 1
    for expected in ("bandit B615 (critical) mapsynth/hub.py:3", "bandit B615 (critical) mapsynth/hidden.py:3: "
                     "silenced with '# nosec'", "bandit B608 (warning) mapsynth/sql.py:2",
                     "flake8 mapsynth/undefined.py:1:7: F821", "detect-secrets Hex High Entropy String "
                     "mapsynth/docs/NOTES.md:1", "FILE_SUSPICIOUS (critical) mapsynth/install.sh"):
        assert expected in done.stderr, done.stderr
    assert "ok.py" not in done.stderr and len(done.stderr.strip().splitlines()) == 6, done.stderr
