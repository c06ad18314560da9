"""Seam-metric reference on the real Aberystwyth scene, run in the backend venv by scripts/bench.py; prints one JSON
object. The scene is cut by crop-sentinel2 onto a 64 px grid (overlap 16) aligned with its pixels and assembled
back (exactly the real image), then the same patches with per-tile offsets of +-0.003 and +-0.01 reflectance.
Then independent vs joint (SEAMLESS) generation with the embedded demo model on maps derived from the real patches
(as scripts/train_demo_model.sh does), on the grid the demo uses (64 px, overlap 12), joint at several window
strides, all assembled the same way, each timed: the seamless default stride is chosen here, on Aberystwyth, not on
the Liechtenstein demo that the demo test checks. Uses the helpers of
backend/tests/test_real_assembly.py, which asserts the same reference."""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rasterio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "tests"))  # tests/shared_data.py: where the shared data is (MAPSYNTH_SHARED_DATA)

from model_fixtures import make_grid  # noqa: E402
from test_real_assembly import SCENE, assemble, cut_and_assemble, offset_copy  # noqa: E402

BACKEND = ROOT / ".venv-backend" / "bin" / "mapsynth"
DEMO_MODEL = ROOT / "resources" / "models" / "mapsynth-demo-pixel-small"
GENERATION = {"rows": 8, "cols": 8, "patch": 64, "overlap": 12, "first_pixel": (300, 300), "steps": 20, "seed": 0}
WINDOW_STRIDES = (32, 40, 48)  # 32 = half a patch, the old default
KEYS = ("seam_visibility", "periodicity_db", "overlap_disagreement", "width", "height", "patches")


def backend(folder: Path, *args: str) -> dict:
    done = subprocess.run(
        [str(BACKEND), *args, "--json", "--log-file", str(folder / "bench.log")], check=True, capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def generation(folder: Path) -> dict:
    """Independent vs SEAMLESS generation of the same area with the embedded demo model, then assemble."""
    g = GENERATION
    with rasterio.open(SCENE) as src:
        x, y = src.transform * (g["first_pixel"][1], g["first_pixel"][0])
    grid = folder / "gen_grid.gpkg"
    make_grid(grid, g["rows"], g["cols"], g["patch"], g["overlap"], 27700, (x, y))
    backend(folder, "crop-sentinel2", "--patch-grid", str(grid), "--input", str(SCENE), "--scale", "0.001",
            "--output-dir", str(folder / "gen_s2"))  # fmt: skip
    backend(folder, "derive-maps", "--patch-grid", str(grid), "--s2-dir", str(folder / "gen_s2"),
            "--output-dir", str(folder / "gen_maps"))  # fmt: skip
    result = {}
    runs = [("independent", None, ["--no-seamless"])]
    runs += [(f"joint (SEAMLESS), window stride {w}", w, ["--seamless", "--window-stride", str(w)])
             for w in WINDOW_STRIDES]
    for number, (mode, stride, flags) in enumerate(runs):
        out = folder / f"gen_{number}"
        start = time.perf_counter()
        generated = backend(folder, "generate", "--model", str(DEMO_MODEL), "--patch-grid", str(grid), "--map-dir",
                            str(folder / "gen_maps"), "--variations", "1", "--steps", str(g["steps"]), "--seed",
                            str(g["seed"]), "--device", "cpu", *flags, "--output-dir", str(out))  # fmt: skip
        seconds = time.perf_counter() - start
        assembled = backend(folder, "assemble", "--patch-grid", str(grid), "--generated-dir", str(out),
                            "--output", str(folder / f"{out.name}.tif"))  # fmt: skip
        result[mode] = {**{k: assembled[k] for k in KEYS}, "generation_s": seconds, "windows": generated.get("windows"),
                        "window_stride": stride}
    return {"setup": g, "rows": result}


def main() -> None:
    if not SCENE.exists():
        print(json.dumps({"skipped": f"no real scene at {SCENE}"}))
        return
    folder = Path(tempfile.mkdtemp(prefix="mapsynth-bench-seams-"))
    _, clean = cut_and_assemble(folder, SCENE, 27700, 0.001)
    rows = {"real image, cut and reassembled": clean}
    for amplitude in (0.003, 0.01):
        rows[f"per-tile offsets +-{amplitude}"] = assemble(
            folder, offset_copy(folder, folder / "s2", amplitude), f"offset{amplitude}.tif"
        )
    reference = {name: {k: r[k] for k in KEYS} for name, r in rows.items()}
    print(json.dumps({"reference": reference, "generation": generation(folder)}))


if __name__ == "__main__":
    main()
