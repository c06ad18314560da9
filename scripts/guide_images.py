"""make guide-images: docs/user-guide.md's pictures, taken by the GUI tier (tests/gui: QGIS desktop under Xvfb with
MAPSYNTH_GUI_GUIDE set opens every MapSynth dialog filled in with the demo's inputs, photographs each step's result
and make demo's project). Copies the screenshots the guide uses into docs/images/guide/ with a JSON beside each:
for a dialog, the parameters it showed (which tests/qgis/test_user_guide.py compares with the algorithm's current
ones: a stale picture fails the test) and the values it was filled with; for a result, the layers it shows. Every
record names the GUI run it comes from, so that pictures of different runs cannot be mixed.

Usage: python3 scripts/guide_images.py [GUI_OUT]   (default .mapsynth-test/gui-guide, where make guide-images runs
the GUI tier)
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "images" / "guide"
# The toolbox steps the guide walks through, in its order.
DIALOGS = ("create_patch_grid", "render_map_patches", "crop_sentinel2", "build_training_dataset", "train_model",
           "generate_patches", "assemble_mosaic", "building_masks", "export_netcdf", "evaluate", "inpaint_scenario",
           "map_from_land_cover")
# Result pictures: each step's output as QGIS shows it (tests/gui/guide_results.py), and make demo's project
# (make guide-images runs make demo first when needed).
RESULTS = {**{f"{name}_result": ("guide", name) for name in DIALOGS}, "demo_project": ("demo", None)}


def main(out: Path) -> int:
    results_file = out / "results.json"
    if not results_file.is_file():
        print(f"{results_file} is missing: run the GUI tier first (make guide-images does)", file=sys.stderr)
        return 1
    results = json.loads(results_file.read_text(encoding="utf-8"))
    run = datetime.fromtimestamp(results_file.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    TARGET.mkdir(parents=True, exist_ok=True)
    missing = []
    for name in DIALOGS:
        window = results["windows"].get(f"mapsynth:{name}")
        if not window or "parameters" not in window or not window.get("values"):
            missing.append(f"{name} (dialog filled in)")
            continue
        copy_png(window["screenshot"], TARGET / f"{name}.png")
        record = {"algorithm": f"mapsynth:{name}", "title": window["title"], "parameters": window["parameters"],
                  "values": window["values"], "run": run}
        write(TARGET / f"{name}.json", record)
    for name, (key, step) in RESULTS.items():
        shown = results.get(key, {}).get(step) if step else results.get(key)
        if not shown or not Path(shown.get("screenshot", "")).is_file():
            missing.append(name)
            continue
        copy_png(shown["screenshot"], TARGET / f"{name}.png")
        details = {k: v for k, v in shown.items() if k not in ("screenshot", "seconds", "legend")}
        record = {"window": name, **({"result_of": f"mapsynth:{step}"} if step else {}), **details, "run": run}
        write(TARGET / f"{name}.json", record)
    if missing:
        print(f"not photographed by the GUI tier: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"{len(DIALOGS) + len(RESULTS)} pictures in {TARGET.relative_to(ROOT)} (GUI run {run})")
    return 0


def copy_png(source: str, target: Path) -> None:
    """The screenshot in 256 colours (octree: legend swatches keep their exact colours), a third of its size: the
    pictures travel in the plugin zip (docs/), which plugins.qgis.org caps at 25 MB. Without Pillow, as it is."""
    try:
        from PIL import Image
    except ImportError:
        shutil.copyfile(source, target)
        return
    with Image.open(source) as image:
        image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(target, optimize=True)


def write(path: Path, record: dict) -> None:
    """The record with paths inside the checkout relative to it (the picture shows them as they were)."""
    def relative(value):
        if isinstance(value, dict):
            return {k: relative(v) for k, v in value.items()}
        if isinstance(value, list):
            return [relative(v) for v in value]
        return value.replace(f"{ROOT}/", "") if isinstance(value, str) else value

    path.write_text(json.dumps(relative(record), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".mapsynth-test" / "gui-guide"))
