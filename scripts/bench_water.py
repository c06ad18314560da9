"""The 'water' section of docs/BENCHMARKS.md: make demo's water, and the choice of how tightly it is held to real
water's spectra. Runs scripts/demo.sh over the demo area's largest water body (the Gänglesee reservoir at Steg, 7 km²
around it) with make demo's model without and with its water spectra held (card class_spectra,
generate/class_spectra.py) at three coverages, and with its 20-step teacher at three per-class water guidance
scales, and measures the generated NDVI under OSM water by distance from the shore (1 px = the shore pixels, mixed
with land at 10 m), with the near-infrared and red reflectance of the inner pixels; next to it, the same numbers
for the water of the demo model's training patches (real Sentinel-2, the class its derived maps call water). The
coverage in the embedded cards is chosen here (scripts/demo_class_spectra.py); tests/demo checks the target on an
area of the extract that this one does not touch. Run with QGIS's Python (osgeo, numpy); about 8 minutes on 2 cores.

Usage: QGIS_PROCESS=/usr/bin/qgis_process.bin python3 scripts/bench_water.py   (make bench-water)
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from osgeo import gdal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_doc import header, write_section  # noqa: E402
from demo_summary import PALETTE, map_classes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXTENT = "9.560,9.592,47.098,47.120 [EPSG:4326]"
MODELS = ROOT / "resources" / "models"
STUDENT, TEACHER = "mapsynth-demo-pixel-fewstep", "mapsynth-demo-pixel-small"
# runs are kept per version of the embedded weights, so a rerun after a retrain never reuses the old models' images
# (and per student refiner: the card's sampling setting that changes make demo's images besides the weights)
STUDENT_CARD = json.loads((MODELS / STUDENT / "model_card.json").read_text())
WEIGHTS = hashlib.sha256(b"".join(
    p.read_bytes() for name in (STUDENT, TEACHER) for p in sorted((MODELS / name).rglob("*.safetensors")))
    + json.dumps(STUDENT_CARD.get("refiner")).encode())
WORK = ROOT / ".mapsynth-bench-water" / WEIGHTS.hexdigest()[:12]
# (title, model, per-class water guidance, water spectra held at this coverage; None = not held)
CARD_COVERAGE = STUDENT_CARD["class_spectra"]["water"]["coverage"]
REFINED = "refined" if STUDENT_CARD.get("refiner") else "no refiner"
RUNS = [(f"make demo's model (few-step student, {REFINED}), water not held", STUDENT, None, None),
        *((f"make demo's model, water held, coverage {c:g}" + (" (its card's)" if c == CARD_COVERAGE else ""),
           STUDENT, None, c) for c in (0.5, 0.75, 0.95)),
        ("20-step teacher, water guidance 1.75, not held", TEACHER, 1.75, None),
        ("20-step teacher, water guidance 3, not held", TEACHER, 3.0, None),
        ("20-step teacher, water guidance 5, not held", TEACHER, 5.0, None)]
TRAINING = Path(os.environ.get("MAPSYNTH_DEMO_TRAINING", ROOT / ".mapsynth-demo-training")) / "dataset" / "train"


def shore_distance(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` numbered by 4-connected erosion depth: 1 on the shore, 2 one pixel in, ..."""
    depth, current, k = np.zeros(mask.shape, int), mask.copy(), 0
    while current.any():
        k += 1
        depth[current] = k
        inner = current.copy()
        inner[1:] &= current[:-1]
        inner[:-1] &= current[1:]
        inner[:, 1:] &= current[:, :-1]
        inner[:, :-1] &= current[:, 1:]
        current = inner
    return depth


def ndvi_stats(red: np.ndarray, nir: np.ndarray, mask: np.ndarray) -> dict:
    depth = shore_distance(mask)
    ndvi = (nir - red) / (nir + red)
    row = {"pixels": int(mask.sum()), "ndvi": float(np.median(ndvi[mask]))}
    for name, select in (("shore", depth == 1), ("second", depth == 2), ("inner", depth >= 3)):
        row[name] = (float(np.median(ndvi[select])), int(select.sum())) if select.any() else (None, 0)
    inner = depth >= 2
    row["b08"], row["b04"] = float(np.median(nir[inner])), float(np.median(red[inner]))
    return row


def models_with(coverage: float | None) -> Path:
    """Copies of both embedded models side by side (the student's refiner is its sibling), with the water spectra
    held at ``coverage`` or not at all."""
    folder = WORK / f"models-{coverage}"
    if not folder.exists():
        shutil.copytree(MODELS, folder, ignore=shutil.ignore_patterns("*.model3"))
        subprocess.run([str(ROOT / ".venv-backend" / "bin" / "python"), str(ROOT / "scripts" / "demo_class_spectra.py"),
                        str(TRAINING.parent), str(coverage or "none"), str(folder / STUDENT), str(folder / TEACHER)],
                       check=True, stdout=subprocess.DEVNULL)
    return folder


def generated(title: str, model: str, guidance: float | None, coverage: float | None) -> dict:
    out = WORK / "runs" / f"{model}-{guidance or 'card'}-{coverage or 'none'}"
    if not (out / "summary.json").exists():
        env = dict(os.environ, MAPSYNTH_DEMO_DIR=str(out), MAPSYNTH_DEMO_MODEL=str(models_with(coverage) / model),
                   MAPSYNTH_DEMO_EXTENT=EXTENT, MAPSYNTH_DEMO_CLASS_GUIDANCE=f"water={guidance}" if guidance else "")
        print(f"== {title}", flush=True)
        subprocess.run([str(ROOT / "scripts" / "demo.sh")], env=env, check=True, stdout=subprocess.DEVNULL)
    dataset = gdal.Open(str(out / "mosaic.tif"))
    reflectance = dataset.ReadAsArray().astype(np.float64) * 1e-4 - 0.1
    water = map_classes(out, reflectance.shape[1:])["water"] & ~(reflectance <= -0.1).all(axis=0)
    return ndvi_stats(reflectance[2], reflectance[3], water)


def training_water() -> dict | None:
    """Real Sentinel-2 under the training maps' water class, all training patches together."""
    rgb = next(c["rgb"] for c in PALETTE["classes"] if c["key"] == "water")
    reds, nirs, masks = [], [], []
    for path in sorted(glob.glob(str(TRAINING / "multispectral" / "*.tif"))):
        conditioning = gdal.Open(path.replace("multispectral", "conditioning").replace(".tif", ".png"))
        mask = np.all(conditioning.ReadAsArray()[:3] == np.array(rgb)[:, None, None], axis=0)
        if not mask.any():
            continue
        image = gdal.Open(path)
        bands = [image.GetRasterBand(i + 1) for i in range(image.RasterCount)]
        values = [b.ReadAsArray() * (b.GetScale() or 1.0) + (b.GetOffset() or 0.0) for b in bands]
        reds.append(values[2]), nirs.append(values[3]), masks.append(mask)
    if not masks:
        return None
    row = {"patches": len(masks), "pixels": int(sum(m.sum() for m in masks))}
    per_patch = [ndvi_stats(r, n, m) for r, n, m in zip(reds, nirs, masks)]
    red = np.concatenate([r[m] for r, m in zip(reds, masks)])
    nir = np.concatenate([n[m] for n, m in zip(nirs, masks)])
    row.update(ndvi=float(np.median((nir - red) / (nir + red))), b08=float(np.median(nir)), b04=float(np.median(red)))
    row["largest_share"] = max(p["pixels"] for p in per_patch) / row["pixels"]
    row["patch_pixels"] = sorted(p["pixels"] for p in per_patch)
    return row


def cell(value: tuple[float | None, int]) -> str:
    return "n/a" if value[0] is None else f"{value[0]:+.3f} ({value[1]} px)"


def chosen(rows: dict[str, dict]) -> str:
    """The rule's pick among the held rows of make demo's model: the largest coverage with median NDVI below 0."""
    held = [(coverage, row["ndvi"]) for (_, model, _, coverage), row in zip(RUNS, rows.values(), strict=True)
            if model == STUDENT and coverage is not None]
    below = [coverage for coverage, ndvi in held if ndvi < 0]
    return f"{max(below):g}" if below else "none qualifies"


def section(rows: dict[str, dict], training: dict | None) -> str:
    lines = ["## Water in the demo: held to real water's spectra", "",
             header("scripts/bench_water.py", "make bench-water"), "",
             f"scripts/demo.sh over `{EXTENT}` (Steg: the Gänglesee reservoir, the largest water body of make "
             "demo's area, and the forest and pasture around it), seed 0. NDVI is the median under OSM water, by "
             "distance from the shore; B08 and B04 are medians of the pixels at least 2 px from it. Real inland "
             "water has NDVI about -0.1 to -0.5 and B08 below about 0.04. Held: at every sampling step each pixel "
             "the map calls water (OSM water and waterways) is pulled into the ellipsoid holding the given share of "
             "the real water pixels of the model's training split (their mean and covariance, Mahalanobis radius; "
             f"generate/class_spectra.py). make demo's model holds water at coverage {CARD_COVERAGE:g} (its card's "
             "class_spectra), chosen here as the largest of 0.5 / 0.75 / 0.95 whose median is below 0 (here: "
             f"{chosen(rows)}); tests/demo checks the target on an area of the extract that this one does not "
             "touch. A median NDVI outside -1..1 comes from negative reflectance: the model's NIR range starts at "
             "-0.05, and without the hold strong water guidance drives NIR there.", "",
             "| generation | water px | median NDVI | shore | 2nd px | 3+ px in | B08 | B04 |",
             "|---|---|---|---|---|---|---|---|"]
    for title, row in rows.items():
        lines.append(f"| {title} | {row['pixels']} | {row['ndvi']:+.3f} | {cell(row['shore'])} | "
                     f"{cell(row['second'])} | {cell(row['inner'])} | {row['b08']:.3f} | {row['b04']:.3f} |")
    if training:
        lines += ["", f"What the model learned as water: {training['pixels']:,} pixels in {training['patches']} of the "
                  f"demo dataset's training patches (real Sentinel-2 under the derived maps' water), median NDVI "
                  f"{training['ndvi']:+.3f}, B08 {training['b08']:.3f}, B04 {training['b04']:.3f}; pixels per patch "
                  f"{', '.join(str(p) for p in training['patch_pixels'])} (the largest patch holds "
                  f"{100 * training['largest_share']:.0f} %). Only "
                  f"{sum(p < 300 for p in training['patch_pixels'])} of them have fewer water pixels than this lake "
                  "(under 300): the model saw water mostly as large open surfaces."]
    return "\n".join(lines)


def main() -> None:
    rows = {run[0]: generated(*run) for run in RUNS}
    training = training_water()
    print(json.dumps({"generated": rows, "training": training}, indent=1))
    write_section("water", section(rows, training), after="demo-run")


if __name__ == "__main__":
    main()
