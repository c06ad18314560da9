"""Backend tests run in the backend venv, CPU only, with real subprocesses."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper and test modules the session fixtures import
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


@pytest.fixture(scope="session")
def teacher(tmp_path_factory):
    """A tiny pixel teacher with a map-free branch (map dropout), so guidance can be folded in: trained once per
    session for the distillation, refiner, sampler and class-guidance tests. Read-only: copy it to change its card.
    Returns (folder with grid.gpkg and maps/, dataset, model folder)."""
    from model_fixtures import make_dataset, make_grid
    from test_distill import REPORTER
    from test_models import train_params

    from mapsynth_backend.train.command import train

    folder = tmp_path_factory.mktemp("teacher")
    dataset = make_dataset(folder, make_grid(folder / "grid.gpkg", 2, 3, 16))
    common = {"dataset": str(dataset), "family": "pixel", "preset": "tiny", "max_steps": 2}
    train(train_params(**common, map_dropout=0.5, output_dir=str(folder / "teacher")), REPORTER)
    return folder, dataset, folder / "teacher" / "model"


@pytest.fixture(scope="session")
def student(teacher, tmp_path_factory):
    """The teacher distilled for 2 steps of 2 substeps (test_distill.distill), once per session; read-only.
    Returns (training folder, the distillation's result)."""
    from test_distill import distill

    _, dataset, teacher_dir = teacher
    out = tmp_path_factory.mktemp("student")
    return out, distill(dataset, teacher_dir, out)


@pytest.fixture
def backend_cmd():
    return [sys.executable, "-I", "-m", "mapsynth_backend"]


def pytest_report_header():
    return f"backend python: {sys.executable}"


ROOT = Path(__file__).resolve().parents[2]
