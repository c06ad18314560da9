"""One tiny pixel model for every QGIS-side tier: built once by backend/tests/make_tiny_pixel_model.py into a cache
folder keyed by the backend's source, then shared by the modules that only need *a* trained model (the model is
their input, not what they test; training itself is tested through processing.run in tests/qgis/conftest.py).

Tiers may run at the same time (scripts/test_tiers.sh), so the build holds a file lock and marks the folder
finished last: a reader uses a complete model or builds one. Tests must not write into it: copy first.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from shared_data import ROOT

BACKEND_PYTHON = Path(os.environ.get("MAPSYNTH_BACKEND_PYTHON") or ROOT / ".venv-backend" / "bin" / "python")
BUILDER = ROOT / "backend" / "tests" / "make_tiny_pixel_model.py"
CACHE = Path(os.environ.get("MAPSYNTH_TEST_CACHE") or ROOT / ".mapsynth-test" / "cache")


def source_key(patch_size: int) -> str:
    """Changes whenever the backend's code, the builder or its fixtures change (and with the backend venv)."""
    digest = hashlib.sha256(f"{patch_size}|{BACKEND_PYTHON.resolve()}".encode())
    files = sorted((ROOT / "backend" / "src").rglob("*.py")) + sorted((ROOT / "backend" / "src").rglob("*.json"))
    for path in [*files, BUILDER, BUILDER.parent / "model_fixtures.py"]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def tiny_pixel_model(patch_size: int = 64) -> str:
    """The folder of a tiny pixel model trained for 2 steps on a synthetic 2 x 2-patch dataset (read-only); its
    builder's folder (dataset, training checkpoints) is ``Path(model).parents[1]``."""
    target = CACHE / f"tiny-pixel-{patch_size}px-{source_key(patch_size)}"
    model, finished = target / "training" / "model", target / "finished"
    if finished.is_file():
        return str(model)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"tiny-pixel-{patch_size}px.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another tier may be building it right now: wait for that one
        if not finished.is_file():
            shutil.rmtree(target, ignore_errors=True)  # a build that was interrupted
            code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
                    "from make_tiny_pixel_model import build; print(build(Path(sys.argv[2]), int(sys.argv[3])))")
            done = subprocess.run([str(BACKEND_PYTHON), "-c", code, str(BUILDER.parent), str(target),
                                   str(patch_size)], capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"tiny model build failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            assert Path(done.stdout.strip().splitlines()[-1]) == model, done.stdout[-500:]
            finished.write_text("complete\n")  # last: a reader sees a finished model or builds one
    return str(model)
