"""Crash safety with real processes: the backend is SIGKILLed at random points of crop, generate, assemble and
train, rerun, and must end bitwise where an uninterrupted run ends, with no temporary files or locks left;
output folders are locked against a second job."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.runtime.outputs import OutputLock, lock_path
from mapsynth_backend.runtime.protocol import UserError

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid, synthetic_scene, write_map_patches  # noqa: E402
from tiny_model import tiny_pixel_model  # noqa: E402 - tests/tiny_model.py: one build per source, every tier

ROWS, COLS, SIZE, OVERLAP = 4, 5, 32, 8
KILLS_PER_COMMAND = 4
LEFTOVER_MARKS = (".partial", ".stale", ".mapsynth.lock")


def start(job_dir: Path, command: str, params: dict) -> subprocess.Popen:
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / "job.json").write_text(json.dumps({"v": 1, "command": command, "params": params}))
    with open(job_dir / "backend.log", "a") as log:
        return subprocess.Popen(
            [sys.executable, "-I", "-m", "mapsynth_backend", command, "--job", "job.json"],
            cwd=job_dir,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )


def run(
    job_dir: Path, command: str, params: dict, kill_after: int | None = None, done_before: frozenset = frozenset()
) -> tuple[int, int]:
    """Run a job; with ``kill_after`` SIGKILL it at its kill_after-th progress event of new work: a point in the
    work, not in wall-clock time, which a busy machine would move past the end. crop-sentinel2 reports every
    patch, also those finished before (``done_before``: their ids); the final 1.0 is no new work.
    Returns (exit code, progress events of new work seen)."""
    proc = start(job_dir, command, params)
    events = 0
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] != "progress" or event.get("value") == 1.0:
            continue
        if str(event.get("msg", "")).removeprefix("patch ") in done_before:
            continue
        events += 1
        if events == kill_after:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=600)
    return proc.returncode, events


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 4 x 5 grid of 32 px patches with 8 px overlap, its maps, a Sentinel-2-like raster and a tiny model."""
    root = tmp_path_factory.mktemp("world")
    grid = make_grid(root / "grid.gpkg", ROWS, COLS, SIZE, OVERLAP)
    rng = np.random.default_rng(1)
    stride = SIZE - OVERLAP
    write_map_patches(root, grid, lambda row, col: synthetic_scene(rng, SIZE)[0], SIZE, stride, {"style": "test"})
    make_grid(root / "crop-grid.gpkg", 12, 12, SIZE, OVERLAP)  # crop is fast: more patches to kill it in
    _, reflectance = synthetic_scene(rng, 192)
    with rasterio.open(
        root / "scene.tif",
        "w",
        driver="GTiff",
        width=192,
        height=192,
        count=4,
        dtype="uint16",
        crs="EPSG:32630",
        transform=from_origin(grid["origin_x"] - 200, grid["origin_y"] + 200, 20, 20),
    ) as dst:
        dst.write(np.rint((reflectance + 0.1) * 10000).astype(np.uint16))
    (root / "model-data").symlink_to(Path(tiny_pixel_model(SIZE)).parents[1])  # read-only: dataset, model
    return root


def jobs(world: Path, out: Path) -> dict[str, dict]:
    grid = str(world / "grid.gpkg")
    return {
        "crop-sentinel2": {
            "patch_grid": str(world / "crop-grid.gpkg"),
            "input": str(world / "scene.tif"),
            "scale": 0.0001,
            "offset": -0.1,
            "output_dir": str(out / "s2"),
        },
        "generate": {
            "model": str(world / "model-data" / "training" / "model"),
            "patch_grid": grid,
            "map_dir": str(world / "maps"),
            "variations": 2,
            "steps": 4,
            "batch_size": 2,
            "device": "cpu",
            "output_dir": str(out / "generated"),
        },
        "assemble": {
            "patch_grid": grid,
            "generated_dir": str(world / "reference" / "generated"),
            "output": str(out / "mosaic" / "mosaic.tif"),
        },
    }


def files(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_no_leftovers(folder: Path) -> None:
    leftovers = [name for name in files(folder) if any(mark in name for mark in LEFTOVER_MARKS)]
    assert not leftovers, f"left behind: {leftovers}"
    for name, path in files(folder).items():
        if name.endswith(".tif"):
            with rasterio.open(path) as src:
                src.read()  # every raster complete and readable


def same_content(a: Path, b: Path) -> bool:
    if a.suffix == ".gpkg":  # GeoPackages stamp their modification time: compare the features
        from pyogrio.raw import read

        (_, _, geom_a, fields_a), (_, _, geom_b, fields_b) = read(a), read(b)
        return list(geom_a) == list(geom_b) and all(
            np.array_equal(x, y) for x, y in zip(fields_a, fields_b, strict=True)
        )
    return a.read_bytes() == b.read_bytes()


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_output(world):
    rng = random.Random(20261121)
    reference, resumed = world / "reference", world / "resumed"
    kills = []
    for command in ("crop-sentinel2", "generate", "assemble"):
        code, events = run(world / "jobs" / f"ref-{command}", command, jobs(world, reference)[command])
        assert code == 0, (world / "jobs" / f"ref-{command}" / "backend.log").read_text()[-2000:]
        params = jobs(world, resumed)[command]
        for attempt in range(KILLS_PER_COMMAND):
            # each attempt gets at most a 1/(KILLS + 1) share of the work, so every kill lands before the end
            at = rng.randint(1, max(1, events // (KILLS_PER_COMMAND + 1)))
            done = frozenset(p.name.removesuffix(".tif") for p in (resumed / "s2").glob("*.tif"))
            code, _ = run(world / "jobs" / f"{command}-{attempt}", command, params, kill_after=at, done_before=done)
            kills.append((command, at, code))
        code, _ = run(world / "jobs" / f"{command}-final", command, params)
        assert code == 0, (world / "jobs" / f"{command}-final" / "backend.log").read_text()[-2000:]
    landed = [k for k in kills if k[2] == -signal.SIGKILL]
    assert len(landed) >= 10, f"only {len(landed)} kills landed before the job ended: {kills}"
    for sub in ("s2", "generated", "mosaic"):
        expected, got = files(reference / sub), files(resumed / sub)
        assert set(got) == set(expected), sub
        assert_no_leftovers(resumed / sub)
        different = [name for name in expected if not same_content(expected[name], got[name])]
        assert not different, f"{sub}: differs from the uninterrupted run: {different}"


@pytest.mark.slow
def test_training_killed_after_a_checkpoint_resumes_on_the_same_loss_curve(world):
    dataset = world / "model-data" / "dataset"
    common = {
        "dataset": str(dataset),
        "family": "pixel",
        "preset": "tiny",
        "max_steps": 8,
        "batch_size": 2,
        "checkpoint_every": 2,
        "validation_every": 0,
        "device": "cpu",
    }
    assert run(world / "jobs" / "train-ref", "train", {**common, "output_dir": str(world / "t-ref")})[0] == 0
    out = world / "t-killed"
    proc = start(world / "jobs" / "train-kill", "train", {**common, "output_dir": str(out)})
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "metric" and event.get("step", 0) >= 5:
            os.killpg(proc.pid, signal.SIGKILL)  # checkpoint-4 is on disk, steps 5.. are lost
            break
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert not (out / "model").exists(), "a killed run must not leave a model that looks complete"
    code, _ = run(world / "jobs" / "train-resume", "train", {**common, "output_dir": str(out), "resume": "latest"})
    assert code == 0
    assert (out / "loss.csv").read_text() == (world / "t-ref" / "loss.csv").read_text()
    ref = files(world / "t-ref" / "model")
    got = files(out / "model")
    weights = [n for n in ref if n.endswith(".safetensors")]
    assert weights and all(ref[n].read_bytes() == got[n].read_bytes() for n in weights)
    assert_no_leftovers(out)


def test_a_second_job_on_the_same_output_is_refused_and_stale_locks_are_recovered(world, tmp_path):
    target = tmp_path / "out"
    with OutputLock(target, True, "generate"):
        with pytest.raises(UserError, match=r"in use by another MapSynth job \(generate, pid \d+"):
            OutputLock(target, True, "assemble").__enter__()
        lock = json.loads(lock_path(target, True).read_text())
        assert lock["pid"] == os.getpid() and lock["host"] == socket.gethostname()
    assert not target.exists(), "a folder the job created and left empty goes with its lock"

    target.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock_path(target, True).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": "x"}))
    (target / ".r0000_c0000_v00.1234abcd.partial.tif").write_bytes(b"torn")
    with OutputLock(target, True, "generate"):
        assert json.loads(lock_path(target, True).read_text())["pid"] == os.getpid()
    assert files(target) == {} and target.is_dir(), "the stale lock and the torn temporary file must be gone"

    lock_path(target, True).write_text("")  # its writer died between create and write
    with OutputLock(target, True, "generate"):
        pass
    lock_path(target, True).write_text(json.dumps({"pid": 1, "host": "elsewhere", "command": "train"}))
    with pytest.raises(UserError, match="on elsewhere"):
        OutputLock(target, True, "generate").__enter__()

    # through the real CLI: one error event naming the folder, exit code 1, and nothing written
    params = jobs(world, tmp_path)["generate"]
    params["output_dir"] = str(target)
    proc = start(tmp_path / "job", "generate", params)
    events = [json.loads(line) for line in proc.stdout]
    assert proc.wait() == 1
    errors = [e["message"] for e in events if e["type"] == "error"]
    assert len(errors) == 1 and "in use by another MapSynth job (train" in errors[0] and str(target) in errors[0]
    assert sorted(files(target)) == [".mapsynth.lock"]


def test_a_grid_cannot_steer_writes_out_of_the_output_folder(world, tmp_path):
    import shutil
    import sqlite3

    evil = tmp_path / "grid.gpkg"
    shutil.copyfile(world / "grid.gpkg", evil)
    with sqlite3.connect(evil) as conn:
        conn.execute("UPDATE patches SET patch_id = '../../escaped' WHERE row = 0 AND col = 0")
    params = {**jobs(world, tmp_path)["crop-sentinel2"], "patch_grid": str(evil)}
    proc = start(tmp_path / "job", "crop-sentinel2", params)
    events = [json.loads(line) for line in proc.stdout]
    assert proc.wait() == 1
    assert any("is not a plain file name" in e.get("message", "") for e in events if e["type"] == "error")
    assert not list(tmp_path.parent.rglob("escaped*")) and not (tmp_path / "s2").exists()
