"""make bench: the few-step student against its teacher, written as its own section of docs/BENCHMARKS.md
(fewstep, scripts/bench_doc.py). Quality and per-patch speed on the demo model's held-out patches
(bench_fewstep_quality.py in the backend venv), then the chain through QGIS Processing (grid, render, generation
of one variation, assembly) with each model, in km² per hour at 10 m.

Run with QGIS's Python: QT_QPA_PLATFORM=offscreen .venv-qgis/bin/python scripts/bench_fewstep.py
Environment: MAPSYNTH_FEWSTEP_TEACHER, MAPSYNTH_FEWSTEP_STUDENT (model folders), MAPSYNTH_FEWSTEP_DATASET (the
demo model's dataset: DEMO_PREPARE_ONLY=1 make train-demo-model), MAPSYNTH_FEWSTEP_SEGMENTER (make experiment's).
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from bench_doc import header  # noqa: E402

MODELS = ROOT / "resources" / "models"
TEACHER = Path(os.environ.get("MAPSYNTH_FEWSTEP_TEACHER", MODELS / "mapsynth-demo-pixel-small"))
STUDENT = Path(os.environ.get("MAPSYNTH_FEWSTEP_STUDENT", MODELS / "mapsynth-demo-pixel-fewstep"))
DATASET = Path(os.environ.get("MAPSYNTH_FEWSTEP_DATASET", ROOT / ".mapsynth-demo-training" / "dataset"))
SEGMENTER = os.environ.get("MAPSYNTH_FEWSTEP_SEGMENTER", str(ROOT / ".mapsynth-experiment" / "results" / "segmenter"))
HEADING = "## Few-step generation"
NEEDS = "the demo dataset (DEMO_PREPARE_ONLY=1 make train-demo-model) and make experiment's segmenter"
# The real OSM extract (1.7 km²): both models, grid / render / generate / assemble
EXTENTS = {"Helsinki extract": "24.9351762,24.9534145,60.1641550,60.1791130 [EPSG:4326]"}
# Throughput on a large area with a map everywhere: the land cover of the real Aberystwyth scene (derive-maps, as
# the demo model's training maps) coded as an ESA WorldCover raster; the chain renders it with map_from_land_cover
WORLDCOVER = {"water": 80, "forest": 10, "grass": 30, "hedge": 30, "bare": 60, "other_building": 50,
              "minor_road": 50}
WORLDCOVER_TABLE = 1  # map_from_land_cover's TABLE index of ESA WorldCover
LAND_COVER_AREA = "Aberystwyth land cover (WorldCover-coded)"


def land_cover_raster(work: Path, scene: Path) -> tuple[Path, str]:
    """Setup (not timed): the scene's derived land cover as a WorldCover-coded GeoTIFF; returns it and its extent."""
    import processing
    from osgeo import gdal

    source = gdal.Open(str(scene))
    x0, px, _, y0, _, py = source.GetGeoTransform()
    size = 64
    rows, cols = source.RasterYSize // size, source.RasterXSize // size
    extent = f"{x0},{x0 + cols * size * px},{y0 + rows * size * py},{y0} [EPSG:27700]"
    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": extent, "PIXEL_SIZE": 10, "PATCH_SIZE": size,
                                                         "OVERLAP": 0, "OUTPUT": str(work / "setup_grid.gpkg")})
    backend = str(ROOT / ".venv-backend" / "bin" / "mapsynth")
    subprocess.run([backend, "crop-sentinel2", "--patch-grid", grid["OUTPUT"], "--input", str(scene), "--scale",
                    "0.001", "--output-dir", str(work / "setup_s2")], check=True, capture_output=True)
    subprocess.run([backend, "derive-maps", "--patch-grid", grid["OUTPUT"], "--s2-dir", str(work / "setup_s2"),
                    "--output-dir", str(work / "setup_maps")], check=True, capture_output=True)
    import numpy as np

    vrt = gdal.BuildVRT(str(work / "setup_maps.vrt"), sorted(str(p) for p in (work / "setup_maps").glob("r*.tif")))
    rgb = vrt.ReadAsArray().astype(np.int64)
    codes = np.zeros(rgb.shape[1:], np.uint8)
    colours = json.loads((ROOT / "backend" / "src" / "mapsynth_backend" / "data" / "semantic_palette.json").read_text())
    rgb_of = {c["key"]: c["rgb"] for c in colours["classes"]}
    for name, code in WORLDCOVER.items():
        codes[(rgb == np.array(rgb_of[name])[:, None, None]).all(axis=0)] = code
    raster = work / "aberystwyth_worldcover.tif"
    out = gdal.GetDriverByName("GTiff").Create(str(raster), codes.shape[1], codes.shape[0], 1, gdal.GDT_Byte)
    out.SetGeoTransform(vrt.GetGeoTransform())
    out.SetProjection(vrt.GetProjection())
    band = out.GetRasterBand(1)
    band.WriteArray(codes)
    band.SetNoDataValue(0)
    out.FlushCache()
    del band, out, vrt, source
    return raster, extent


def chain(work: Path, model: Path, extent: str, source: tuple[str, Path], class_guidance: str = "") -> dict:
    """Grid, render (an OSM extract, or a land-cover raster through map_from_land_cover), generate (one
    variation, STEPS 0 and GUIDANCE 0 = the card's defaults), assemble: seconds per stage."""
    import processing

    times, start = {}, time.perf_counter()
    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": extent, "PIXEL_SIZE": 10, "PATCH_SIZE": 64,
                                                         "OUTPUT": str(work / "grid.gpkg")})
    times["grid"] = time.perf_counter() - start
    kind, path = source
    render = (("mapsynth:render_map_patches", {"OSM_FILE": str(path)}) if kind == "osm" else
              ("mapsynth:map_from_land_cover", {"INPUT": str(path), "TABLE": WORLDCOVER_TABLE}))
    for stage, alg, params in (
        ("render", render[0], {"PATCH_GRID": grid["OUTPUT"], **render[1], "OUTPUT_DIR": str(work / "maps")}),
        ("generate", "mapsynth:generate_patches", {"MODEL": str(model), "PATCH_GRID": grid["OUTPUT"],
                                                   "MAP_DIR": str(work / "maps"), "VARIATIONS": 1, "STEPS": 0,
                                                   "CLASS_GUIDANCE": class_guidance,
                                                   "OUTPUT_DIR": str(work / "generated")}),
        ("assemble", "mapsynth:assemble_mosaic", {"PATCH_GRID": grid["OUTPUT"], "OUTPUT": str(work / "mosaic.tif"),
                                                  "GENERATED_DIR": str(work / "generated")}),
    ):
        begin = time.perf_counter()
        processing.run(alg, params)
        times[stage] = time.perf_counter() - begin
    from osgeo import gdal

    mosaic = gdal.Open(str(work / "mosaic.tif"))
    transform = mosaic.GetGeoTransform()
    km2 = mosaic.RasterXSize * mosaic.RasterYSize * abs(transform[1] * transform[5]) / 1e6
    total = sum(times.values())
    return {"patches": grid["PATCH_COUNT"], "km2": km2, "seconds": times, "km2_per_hour": km2 / total * 3600}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f}"


def section(quality: dict, e2e: dict, loads: tuple[str, str], cpu: str) -> str:
    t, s = quality["models"]["teacher"], quality["models"]["student"]
    card = json.loads((STUDENT / "model_card.json").read_text())
    bands = list(t["wasserstein"])
    verdicts = []

    def met(ok: bool) -> str:
        verdicts.append(ok)
        return "met" if ok else "**not met**"

    seeds = {who: [m for name, m in quality["models"].items() if name.startswith(who)] for who in ("teacher",
                                                                                                   "student")}

    def spread(get, who: str = "teacher") -> tuple[float, float]:
        values = [get(m) for m in seeds[who]]
        return min(values), max(values)

    def mean(get, who: str) -> float:
        return sum(get(m) for m in seeds[who]) / len(seeds[who])

    def cell(get, who: str, fmt: str = ".4f") -> str:
        low, high = spread(get, who)
        return f"{mean(get, who):{fmt}} ({low:{fmt}}–{high:{fmt}})"

    by_class = t.get("class_guidance") or {}
    teacher_evals = "1 (2 for patches with " + ", ".join(by_class) + ")" if by_class else (
        "2" if t["guidance"] > 1 else "1")
    folded = card["distilled"].get("teacher_class_guidance") or {}
    folded_text = ", ".join(f"{k} {v:g}" for k, v in folded.items())
    n = len(seeds["teacher"])
    rows = [
        f"| measure | teacher: mean of {n} seeds (range) | few-step student: mean of {n} seeds (range) | goal |",
        "|---|---|---|---|",
        f"| steps x network evaluations per step | {t['steps']} x {teacher_evals} (guidance {t['guidance']:g}"
        f"{', ' + folded_text if folded_text else ''}) | {s['steps']} x 1 (guidance folded in) | |",
        f"| seconds per patch (batch 8, taking turns; seed 0) | {t['s_per_patch']:.3f} | {s['s_per_patch']:.3f} "
        f"(**{t['s_per_patch'] / s['s_per_patch']:.1f}x faster**) | >= 5x: "
        f"{met(t['s_per_patch'] >= 5 * s['s_per_patch'])} |",
    ]
    for b in bands:
        get = lambda m, b=b: m["wasserstein"][b]  # noqa: E731
        rows.append(f"| Wasserstein to real, {b} | {cell(get, 'teacher')} | {cell(get, 'student')} | mean <= the "
                    f"teacher's worst seed: {met(mean(get, 'student') <= spread(get)[1])} |")
    for name in quality["real_ndvi_medians"]:
        if all(name in m["ndvi_medians"] for group in seeds.values() for m in group):
            get = lambda m, n=name: m["ndvi_medians"][n]  # noqa: E731
            gap = abs(mean(get, "student") - mean(get, "teacher"))
            real = quality["real_ndvi_medians"][name]
            rows.append(f"| NDVI median, {name} (real {real:.3f}) | {cell(get, 'teacher', '.3f')} | "
                        f"{cell(get, 'student', '.3f')} | gap of the means {gap:.3f} <= 0.03: {met(gap <= 0.03)} |")
    if t.get("water"):
        for key, label in (("b08_median", "water, median B08 reflectance"), ("water_like", "water, water-like share")):
            get = lambda m, k=key: m["water"][k]  # noqa: E731
            rows.append(f"| {label} (information: NDVI is ill-conditioned where NIR is near 0) | "
                        f"{cell(get, 'teacher')} | {cell(get, 'student')} | |")
    if "map_adherence_miou" in t:
        get = lambda m: m["map_adherence_miou"]  # noqa: E731
        rows.append(f"| map adherence, segmenter mIoU (real ceiling {quality['real_ceiling_miou']:.3f}) | "
                    f"{cell(get, 'teacher', '.3f')} | {cell(get, 'student', '.3f')} | mean >= the teacher's worst "
                    f"seed: {met(mean(get, 'student') >= spread(get)[0])} |")
    else:
        missing = os.path.relpath(SEGMENTER, ROOT)
        rows.append(f"| map adherence | not measured: no segmenter at {missing} (make experiment trains it) | | |")
    for band in t["seams"]["seam_visibility"]:
        get = lambda m, b=band: m["seams"]["seam_visibility"][b]  # noqa: E731
        rows.append(f"| seam visibility {band}, 4 x 4 grid, overlap 32 (lower is better) | "
                    f"{cell(get, 'teacher', '.3f')} | {cell(get, 'student', '.3f')} | mean <= the teacher's worst "
                    f"seed: {met(mean(get, 'student') <= spread(get)[1])} |")
    rows.append(f"| generate CLI on those 16 patches, incl. start-up | {t['seams']['generate_cli_s']:.1f} s | "
                f"{s['seams']['generate_cli_s']:.1f} s | |")
    verdict = (
        "**The student meets every goal above**, so `make demo` generates with it (MAPSYNTH_DEMO_MODEL selects "
        "another model)."
        if all(verdicts)
        else f"**The student misses {verdicts.count(False)} of {len(verdicts)} goals above.** `make demo` still "
        "generates with it, for its speed; "
        "MAPSYNTH_DEMO_MODEL=resources/models/mapsynth-demo-pixel-small runs the teacher instead."
    )
    chain_rows = ["| area | model | patches | km² | grid / render / generate / assemble (s) | km² per hour |",
                  "|---|---|---|---|---|---|"]
    for (area, name), r in e2e.items():
        stages = " / ".join(f"{r['seconds'][k]:.1f}" for k in ("grid", "render", "generate", "assemble"))
        chain_rows.append(f"| {area} | {name} | {r['patches']} | {r['km2']:.1f} | {stages} | "
                          f"**{r['km2_per_hour']:.0f}** |")
    return f"""{HEADING}

{header("scripts/bench_fewstep.py", "make bench", on=f"{cpu}, {os.cpu_count()} cores shared with other jobs")}
Needs {NEEDS}. Load average 1 / 5 min: {loads[0]} before, {loads[1]} after; torch {quality['threads']} threads,
fp32. Teacher `{TEACHER.name}`; student `{STUDENT.name}`
({card['distilled']['method']}, {card['steps']} steps from the teacher, {card['distilled']['substeps']} teacher DDIM
steps per student step, DDIM sampling).

Held-out (test split) patches of the demo model's real Aberystwyth dataset, {quality['patches']} patches, one
variation, seeds 0, 1 and 2 per model (the same noise for both models at each seed); the teacher samples with the
guidance the student folded in (make demo's), each model at its default steps:

""" + "\n".join(rows) + f"""

{verdict}

The chain through QGIS Processing (each backend call starts its own process; default grid overlap (12 px);
generation with one variation, STEPS 0 and GUIDANCE 0, i.e. the card's defaults, the teacher with the
CLASS_GUIDANCE the student folded in): the 1.7 km² real OSM extract
(its grid covers 2.6 km²; cells without any mapped feature are nodata and not generated), and the Aberystwyth
scene's derived land cover coded as an ESA WorldCover raster (water, tree cover, grassland, bare, built-up),
rendered with map_from_land_cover: a map everywhere, so every patch is generated. Its setup (cropping the scene,
derive-maps, coding the raster) is not timed.

""" + "\n".join(chain_rows) + f"""

Goal: >= 3,000 km² per hour at 10 m on 2 CPU cores. The backend ran with OMP_NUM_THREADS={os.environ.get(
"OMP_NUM_THREADS", "unset (torch: one thread per core)")}; the small area is dominated by the backend's start-up
and model loading, the large one is the steady state. controlnet-sd15 with a consistency LoRA (4 LCM steps, no
guidance): its GPU row is not measured (no GPU in the session that wrote this section).
"""


def main() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench import OSM, SCENE, setup
    from bench_doc import write_section

    app, plugin = setup()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    before = load()
    python = str(ROOT / ".venv-backend" / "bin" / "python")
    saved = Path(os.environ.get("MAPSYNTH_FEWSTEP_QUALITY", ""))  # a previous run's quality JSON, to redo the chain
    if saved.is_file():
        quality = json.loads(saved.read_text())
    else:
        quality = json.loads(subprocess.run(
            [python, str(ROOT / "scripts" / "bench_fewstep_quality.py"), str(TEACHER), str(STUDENT), str(DATASET),
             SEGMENTER], check=True, capture_output=True, text=True).stdout)
        Path(tempfile.gettempdir(), "mapsynth_fewstep_quality.json").write_text(json.dumps(quality))
    e2e = {}
    distilled = json.loads((STUDENT / "model_card.json").read_text())["distilled"]
    folded = ",".join(f"{k}={v}" for k, v in (distilled.get("teacher_class_guidance") or {}).items())
    with tempfile.TemporaryDirectory(prefix="mapsynth-fewstep-chain-") as tmp:
        raster, scene_extent = land_cover_raster(Path(tmp), SCENE)
        areas = {"Helsinki extract": (EXTENTS["Helsinki extract"], ("osm", OSM)),
                 LAND_COVER_AREA: (scene_extent, ("land cover", raster))}
        for area, (extent, source) in areas.items():
            # the teacher only on the small area: on the large one it would take most of the benchmark's time
            for name, model in (("teacher", TEACHER), ("student", STUDENT))[area != "Helsinki extract" :]:
                work = Path(tmp) / f"{area[:8].strip()}-{name}".replace(" ", "_")
                work.mkdir()
                e2e[(area, name)] = chain(work, model, extent, source, folded if name == "teacher" else "")
    text = section(quality, e2e, (before, load()), cpu)
    write_section("fewstep", text, after="demo-modes")
    print(json.dumps({"quality": quality, "chain": {f"{a} / {n}": r for (a, n), r in e2e.items()}}))
    del plugin
    app.exitQgis()


if __name__ == "__main__":
    main()
