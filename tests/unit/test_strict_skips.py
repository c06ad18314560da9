"""The skip policy of both tiers' conftests (tests/strict_skips.py): with CI set every skip is a failure (a test
skipped in its body, by a skipif mark, in a fixture, or a whole module); without it skips pass and are listed with
their reasons. Each conftest is loaded as a plugin into a pytest run of a tiny test file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = '''
import pytest

@pytest.fixture
def missing_data():
    pytest.skip("no data in the fixture")

def test_skipped_in_its_body():
    pytest.skip("no tool here")

@pytest.mark.skipif(True, reason="marked skip")
def test_marked():
    pass

def test_fixture(missing_data):
    pass

@pytest.mark.xfail(reason="a known bug, not a skip")
def test_expected_failure():
    assert False

def test_passes():
    pass
'''
MODULE = 'import pytest\npytest.skip("whole module: no data", allow_module_level=True)\n'


def run(folder: Path, tmp_path: Path, ci: str | None, name: str = "test_tiny.py") -> subprocess.CompletedProcess:
    (tmp_path / "test_tiny.py").write_text(TESTS)
    (tmp_path / "test_module.py").write_text(MODULE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(folder)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-rs",
                           "-q", "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / name)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("folder", [ROOT / "tests", ROOT / "backend" / "tests"], ids=["qgis-side", "backend"])
def test_skips_fail_in_ci_and_are_listed_elsewhere(folder, tmp_path):
    local = run(folder, tmp_path, None)
    assert local.returncode == 0, local.stdout + local.stderr
    summary = local.stdout.strip().splitlines()[-1]
    assert "1 passed" in summary and "3 skipped" in summary and "1 xfailed" in summary, local.stdout
    for reason in ("no tool here", "marked skip", "no data in the fixture"):
        assert "SKIPPED [1] test_tiny.py" in local.stdout and reason in local.stdout, local.stdout  # -rs: listed
    for value in ("true", "1"):
        ci = run(folder, tmp_path, value)
        assert ci.returncode == 1, ci.stdout + ci.stderr
        assert "skipped" not in ci.stdout.strip().splitlines()[-1], ci.stdout
        assert ci.stdout.count("where every skip is a failure") == 3, ci.stdout
        assert "1 passed" in ci.stdout and "1 xfailed" in ci.stdout, ci.stdout
    assert run(folder, tmp_path, "false").returncode == 0


@pytest.mark.parametrize("folder", [ROOT / "tests", ROOT / "backend" / "tests"], ids=["qgis-side", "backend"])
def test_a_skipped_module_fails_in_ci(folder, tmp_path):
    assert run(folder, tmp_path, None, "test_module.py").returncode == 5  # nothing ran: skipped, not failed
    ci = run(folder, tmp_path, "true", "test_module.py")
    assert ci.returncode != 0 and "where every skip is a failure: Skipped: whole module: no data" in ci.stdout
