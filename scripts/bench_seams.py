"""Seam-metric reference on the real Aberystwyth scene, run in the backend venv by scripts/bench.py; prints one JSON
object. The scene is cut by crop-sentinel2 onto a 64 px grid (overlap 16) aligned with its pixels and assembled
back (exactly the real image), then the same patches with per-tile offsets of +-0.003 and +-0.01 reflectance.
Uses the helpers of backend/tests/test_real_assembly.py, which asserts the same reference."""

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend" / "tests"))

from test_real_assembly import SCENE, assemble, cut_and_assemble, offset_copy  # noqa: E402


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
    keys = ("seam_visibility", "periodicity_db", "overlap_disagreement", "width", "height", "patches")
    print(json.dumps({name: {k: r[k] for k in keys} for name, r in rows.items()}))


if __name__ == "__main__":
    main()
