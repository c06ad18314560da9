"""What-if scenario on the real Aberystwyth scene: a housing estate on farmland east of the town, a lake and a
burned (bare) field, inpainted with the embedded demo model through the real CLI (`mapsynth inpaint-scenario`).

Measures, per edit, the synthetic NDVI inside against the real NDVI distribution of that class in the whole scene
(classes as the demo model's maps derive them), the boundary's seam visibility against BASE's at the same place,
that every pixel outside the edits + margin is BASE's, and the wall time. Writes docs/inpaint.png (before | after
| mask) and, with --write (make bench), its section of docs/BENCHMARKS.md (what-if, scripts/bench_doc.py).

    .venv-backend/bin/python scripts/bench_inpaint.py [--write] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from bench_doc import header, write_section  # noqa: E402

SCENE = Path(os.environ.get("MAPSYNTH_SHARED_DATA") or ROOT.parent / "shared" / "data") / "s2_aberystwyth_20210527"
SCENE_FILE = SCENE / "aberystwyth_s2_20210527_b02_b03_b04_b08_10m_epsg27700.tif"
SCALE = 0.001  # the scene stores reflectance x 1000 (see its PROVENANCE.md)
WINDOW = Window(300, 300, 256, 256)  # col, row, width, height: the town's east edge and the farmland beyond
# (name, class, polygon in crop pixels (col, row)); the demo model knows residential_building as built-up
EDITS = [
    ("housing estate", "residential_building", [(150, 62), (196, 58), (200, 96), (154, 100)]),
    ("lake", "water", [(208, 122), (226, 118), (234, 132), (224, 146), (206, 140)]),
    ("burned field", "bare", [(100, 170), (124, 168), (126, 190), (102, 191)]),
    # the same estate drawn as a user would map one: rows of houses (blocks 20 x 50 m), gardens (the field's
    # grass) in between; one MultiPolygon feature
    ("estate as houses + gardens", "residential_building",
     [[(c, r), (c + 5, r), (c + 5, r + 2), (c, r + 2)] for r in range(97, 134, 5) for c in range(93, 128, 6)]),
]
DERIVED = {"residential_building": "other_building", "water": "water", "bare": "bare"}
SECTION = "## What-if scenarios (inpaint_scenario)"
DEFAULTS = {"steps": 8, "resample": 2, "margin": 4, "jump": 1, "context": 0, "guidance": 0.0}


def geometry(rings: list, transform) -> shapely.MultiPolygon:
    """An edit's polygon(s) from rings in crop pixels (col, row)."""
    rings = rings if isinstance(rings[0], list) else [rings]
    return shapely.MultiPolygon([shapely.Polygon([transform * xy for xy in ring]) for ring in rings])


def ndvi(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values[3] - values[2]) / (values[3] + values[2])


def class_ndvi(scene: np.ndarray) -> dict[str, np.ndarray]:
    """NDVI of each derived class over the whole real scene (the classes the demo model was trained on)."""
    sys.path.insert(0, str(ROOT / "backend" / "src"))
    from mapsynth_backend.prepare.landcover import derive, palette

    derived = derive(scene.astype(np.float32))
    colours = palette()
    index = ndvi(scene)
    out, visible = {}, {}
    for name in set(DERIVED.values()):
        where = (derived.transpose(1, 2, 0) == colours[name]).all(axis=2)
        out[name] = index[where & np.isfinite(index)]
        visible[name] = np.median(scene[:, where], axis=1)
    return out, visible


def true_colour(values: np.ndarray) -> np.ndarray:
    rgb = np.stack([values[2], values[1], values[0]], axis=-1)
    return (np.clip(rgb / 0.12, 0, 1) ** (1 / 1.8) * 255).astype(np.uint8)


def picture(before: np.ndarray, after: np.ndarray, mask: np.ndarray, path: Path) -> None:
    import cv2

    edge = mask > 0
    outline = np.zeros_like(edge)
    outline[1:-1, 1:-1] = edge[1:-1, 1:-1] & ~(edge[:-2, 1:-1] & edge[2:, 1:-1] & edge[1:-1, :-2] & edge[1:-1, 2:])
    mask_rgb = np.full((*mask.shape, 3), 255, np.uint8)
    mask_rgb[mask == 2] = (250, 200, 90)
    mask_rgb[mask == 1] = (200, 30, 30)
    gap = np.full((before.shape[1], 4, 3), 255, np.uint8)
    panel = np.concatenate([true_colour(before), gap, true_colour(after), gap, mask_rgb], axis=1)
    cv2.imwrite(str(path), panel[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])


def reproduce(args) -> str:
    """The command that reproduces this section: make bench at the defaults, else this script with its options."""
    changed = [f"--{k} {getattr(args, k):g}" for k, v in DEFAULTS.items() if getattr(args, k) != v]
    if not changed and not args.sweep_table:
        return "make bench"
    table = [f"--sweep-table {args.sweep_table}"] if args.sweep_table else []
    return " ".join([".venv-backend/bin/python scripts/bench_inpaint.py --write", *changed, *table])


def machine() -> str:
    import platform

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{model}, {os.cpu_count()} cores shared with other jobs (load {os.getloadavg()[0]:.0f})"


def sweep_table(path: str) -> list[str]:
    """The settings tried (one JSON line per run, --sweep-log) as a Markdown table."""
    if not path:
        return []
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    edits = [e["edit"] for e in rows[0]["edits"]]
    head = " | ".join(f"{name}: NDVI median, in real p10-p90" for name in edits)
    lines = ["| steps x resample | jump | margin | context | guidance | " + head + " | seam (BASE) | s |",
             "|---" * (7 + len(edits)) + "|"]
    for r in rows:
        cells = " | ".join(f"{e['ndvi']:+.2f}, {e['share']:.0%}" for e in r["edits"])
        lines.append(f"| {r['steps']} x {r['resample']} | {r['jump']} | {r['margin']} | {r['context'] or 'auto'} | "
                     f"{r['guidance']:g} | {cells} | {r['seam']:.2f} ({r['seam_base']:.2f}) | {r['seconds']} |")
    return lines


def guidance_text(result: dict) -> str:
    """The guidance used: one value, or GUIDANCE 0's per-class weights (those above the rest, then the rest)."""
    by_class = result.get("guidance_by_class") or {}
    raised = {k: v for k, v in by_class.items() if v != result["guidance"]}
    if not raised:
        return f"{result['guidance']:g}"
    return "auto: " + ", ".join(f"{k} {v:g}" for k, v in sorted(raised.items())) + f", else {result['guidance']:g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md and docs/inpaint.png")
    parser.add_argument("--work", default="", help="working folder (default: a temporary one)")
    parser.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    parser.add_argument("--resample", type=int, default=DEFAULTS["resample"])
    parser.add_argument("--margin", type=int, default=DEFAULTS["margin"])
    parser.add_argument("--jump", type=int, default=DEFAULTS["jump"])
    parser.add_argument("--context", type=int, default=DEFAULTS["context"])
    parser.add_argument("--guidance", type=float, default=DEFAULTS["guidance"])
    parser.add_argument("--sweep-log", default="", help="append this run's numbers as one JSON line (no docs)")
    parser.add_argument("--sweep-table", default="", help="with --write: the runs of a --sweep-log as a table")
    parser.add_argument("--sweep-label", default="", help="what the sweep ran on, when not the current model")
    args = parser.parse_args()
    if not SCENE_FILE.exists():
        print(f"the real scene is absent ({SCENE_FILE}); nothing measured")
        return 1
    work = Path(args.work or tempfile.mkdtemp(prefix="mapsynth-inpaint-"))
    work.mkdir(parents=True, exist_ok=True)
    with rasterio.open(SCENE_FILE) as src:
        scene = src.read().astype(np.float64) * SCALE
        transform = src.window_transform(WINDOW)
        profile = {**src.profile, "width": WINDOW.width, "height": WINDOW.height, "transform": transform}
        crop = src.read(window=WINDOW)
    base = work / "base.tif"
    with rasterio.open(base, "w", **profile) as dst:
        dst.write(crop)
        for i, band in enumerate(("B02", "B03", "B04", "B08"), start=1):
            dst.set_band_description(i, band)
    import pyogrio

    polygons = [geometry(rings, transform) for _, _, rings in EDITS]
    pyogrio.raw.write(str(work / "edits.gpkg"), geometry=shapely.to_wkb(polygons), geometry_type="MultiPolygon",
                      field_data=[np.array([c for _, c, _ in EDITS], dtype=object)], fields=["class"],
                      crs="EPSG:27700", driver="GPKG")
    command = [sys.executable, "-m", "mapsynth_backend", "inpaint-scenario", "--json",
               "--base", str(base), "--edits", str(work / "edits.gpkg"), "--scale", str(SCALE),
               "--margin", str(args.margin), "--steps", str(args.steps), "--resample", str(args.resample),
               "--jump", str(args.jump), "--context", str(args.context), "--guidance", str(args.guidance),
               "--device", "cpu", "--output", str(work / "after.tif"), "--output-mask", str(work / "mask.tif"),
               "--output-map", str(work / "map.tif")]
    for name in ("after.tif", "mask.tif", "map.tif"):
        (work / name).unlink(missing_ok=True)
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'backend' / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        print(done.stdout[-2000:], done.stderr[-2000:])
        return done.returncode
    result = json.loads(done.stdout[done.stdout.index("{\n") :])  # --json: the result, indented
    with rasterio.open(work / "after.tif") as src:
        after_dn = src.read()
    with rasterio.open(work / "mask.tif") as src:
        mask = src.read(1)
    before = crop.astype(np.float64) * SCALE
    after = after_dn.astype(np.float64) * SCALE
    outside_equal = bool((after_dn[:, mask == 0] == crop[:, mask == 0]).all())
    real, real_visible = class_ndvi(scene)
    from rasterio.features import rasterize

    rows, numbers = [], []
    for (name, cls, _), polygon in zip(EDITS, polygons, strict=True):
        inside = rasterize([(polygon, 1)], out_shape=mask.shape, transform=transform) == 1
        synthetic, was = ndvi(after)[inside], ndvi(before)[inside]
        reference = real[DERIVED[cls]]
        p10, p50, p90 = np.percentile(reference, [10, 50, 90])
        share = float(np.mean((synthetic >= p10) & (synthetic <= p90)))
        visible = np.median(after[:, inside], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            water_like = float(np.mean((after[1] - after[3])[inside] / (after[1] + after[3])[inside] > 0))
        numbers.append({"edit": name, "ndvi": float(np.median(synthetic)),
                        "ndvi_p10": float(np.percentile(synthetic, 10)),
                        "ndvi_p90": float(np.percentile(synthetic, 90)), "real_ndvi": float(p50), "share": share,
                        "water_like": water_like, "bands": visible.round(4).tolist(),
                        "real_bands": real_visible[DERIVED[cls]].round(4).tolist()})
        rows.append(f"| {name} (`{cls}` -> {DERIVED[cls]}) | {int(inside.sum())} | {np.median(was):.2f} | "
                    f"{np.median(synthetic):.2f} [{np.percentile(synthetic, 10):.2f}, "
                    f"{np.percentile(synthetic, 90):.2f}] | {p50:.2f} [{p10:.2f}, {p90:.2f}] (n={reference.size}) | "
                    f"{share:.0%} | {water_like:.0%} | {', '.join(f'{v:.3f}' for v in visible)} / "
                    f"{', '.join(f'{v:.3f}' for v in real_visible[DERIVED[cls]])} |")
    variation = result["variations"][0]
    if args.sweep_log:
        settings = {k: getattr(args, k) for k in ("steps", "resample", "jump", "margin", "context", "guidance")}
        settings["guidance"] = result.get("guidance", args.guidance)  # 0 = auto: the value used
        line = {**settings, "seconds": round(seconds), "seam": variation["seam_visibility"],
                "seam_base": variation["seam_visibility_base"], "outside_equal": outside_equal, "edits": numbers}
        with open(args.sweep_log, "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
        name = "_".join(f"{k}{v}" for k, v in settings.items())
        picture(before, after, mask, Path(args.sweep_log).with_name(f"inpaint_{name}.png"))
        print(json.dumps(line))
        return 0
    text = "\n".join([
        SECTION,
        "",
        header("scripts/bench_inpaint.py", reproduce(args), on=machine())
        + f" Settings: {args.steps} DDIM steps x {args.resample} RePaint visits, jump "
        f"{args.jump}, MARGIN {args.margin}, context {args.context or 'auto'}, guidance {guidance_text(result)}; on "
        f"the real Aberystwyth scene (256 x 256 px crop at 10 m, EPSG:27700), embedded demo model, CPU, seed 0: "
        f"{result['edited_pixels']} px edited, {result['regenerated_pixels']} px regenerated on "
        f"{result['canvases']} canvas(es), {seconds:.0f} s wall time (whole CLI run, model loading included).",
        "",
        "| edit | px | NDVI before (median) | synthetic NDVI inside, median [p10, p90] | real NDVI of the class in the "
        "scene, median [p10, p90] | synthetic inside the real p10-p90 | water-like (NDWI > 0) | B02, B03, B04, "
        "B08 median: synthetic / real class |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Pixels outside the edits + margin equal to BASE's DNs: {'all' if outside_equal else 'NOT all'}. Seam "
        f"visibility of the regenerated zone's boundary (mean |difference| across it / 4 px inside, the mosaic's "
        f"metric, mean of the bands): {variation['seam_visibility']:.2f}; real BASE at the same boundary: "
        f"{variation['seam_visibility_base']:.2f}.",
        "",
        *([f"Settings tried{args.sweep_label} (`--sweep-log`, same crop, first three edits and seed; wall times on "
           "the shared machine vary with its load; guidance 2 was the demo model card's, which GUIDANCE 0 used "
           "before it meant auto):", "",
           *sweep_table(args.sweep_table), ""] if args.sweep_table else []),
    ])
    print(text)
    if args.write:
        picture(before, after, mask, ROOT / "docs" / "inpaint.png")
        write_section("what-if", text, after="gpu")
    return 0 if outside_equal else 1


if __name__ == "__main__":
    sys.exit(main())
