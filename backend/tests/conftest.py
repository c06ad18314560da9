"""Backend tests run in the backend venv, CPU only, with real subprocesses."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

# the repository's test helpers for both tiers (standard library only): shared data paths, CI skip policy
sys.path.append(str(Path(__file__).resolve().parents[2] / "tests"))
from strict_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402, F401 - CI: skip = fail


@pytest.fixture
def run_job(tmp_path):
    """Run ``python -I -m mapsynth_backend <command> --job job.json`` as the QGIS plugin does."""

    def run(command: str, params: dict, *, job: dict | None = None, timeout: float = 120):
        job_dir = tmp_path / f"job-{command}"
        job_dir.mkdir(exist_ok=True)
        (job_dir / "job.json").write_text(json.dumps(job or {"v": 1, "command": command, "params": params}))
        with open(job_dir / "backend.log", "wb") as log:
            proc = subprocess.run(
                [sys.executable, "-I", "-m", "mapsynth_backend", command, "--job", "job.json"],
                cwd=job_dir,
                stdout=subprocess.PIPE,
                stderr=log,
                timeout=timeout,
                check=False,
            )
        events = [json.loads(line) for line in proc.stdout.decode("ascii").splitlines()]
        return proc.returncode, events, (job_dir / "backend.log").read_text()

    return run


@pytest.fixture
def backend_cmd():
    return [sys.executable, "-I", "-m", "mapsynth_backend"]


def pytest_report_header():
    return f"backend python: {sys.executable}"


ROOT = Path(__file__).resolve().parents[2]
