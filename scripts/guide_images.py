"""make guide-images: docs/user-guide.md's pictures, taken by the GUI tier (tests/gui: QGIS desktop under Xvfb opens
every MapSynth dialog and the demo project and photographs them). Copies the screenshots the guide uses into
docs/images/guide/ with a JSON beside each: for a dialog, the parameters it showed, which
tests/qgis/test_user_guide.py compares with the algorithm's current ones (a stale picture fails the test).

Usage: python3 scripts/guide_images.py [GUI_OUT]   (default .mapsynth-test/gui-guide, where make guide-images runs
the GUI tier)
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "images" / "guide"
# The toolbox steps the guide walks through, in its order.
DIALOGS = ("create_patch_grid", "render_map_patches", "crop_sentinel2", "build_training_dataset", "train_model",
           "generate_patches", "assemble_mosaic", "building_masks", "export_netcdf", "evaluate", "inpaint_scenario",
           "map_from_land_cover")
# Whole-window picture of the results: make demo's project (make guide-images runs make demo first when needed;
# the GUI tier's own toolbox run works on fixture rasters, not worth showing).
RESULTS = {"demo_project": "demo"}


def main(out: Path) -> int:
    results_file = out / "results.json"
    if not results_file.is_file():
        print(f"{results_file} is missing: run the GUI tier first (make guide-images does)", file=sys.stderr)
        return 1
    results = json.loads(results_file.read_text(encoding="utf-8"))
    TARGET.mkdir(parents=True, exist_ok=True)
    missing = []
    for name in DIALOGS:
        window = results["windows"].get(f"mapsynth:{name}")
        if not window or "parameters" not in window:
            missing.append(name)
            continue
        shutil.copyfile(window["screenshot"], TARGET / f"{name}.png")
        record = {"algorithm": f"mapsynth:{name}", "title": window["title"], "parameters": window["parameters"]}
        (TARGET / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    for name, key in RESULTS.items():
        if key not in results:
            missing.append(name)
            continue
        shutil.copyfile(results[key]["screenshot"], TARGET / f"{name}.png")
        record = {"window": name, "layers": results[key].get("tree") or list(results[key].get("groups", {}))}
        (TARGET / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    if missing:
        print(f"not photographed by the GUI tier: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"{len(DIALOGS) + len(RESULTS)} pictures in {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".mapsynth-test" / "gui-guide"))
