"""make bench, issue 22: the few-step student against its teacher, written as its own section of
docs/BENCHMARKS.md. Quality and per-patch speed on the demo model's held-out patches (bench_fewstep_quality.py in
the backend venv), then the chain through QGIS Processing (grid, render, generation of one variation, assembly)
with each model, in km² per hour at 10 m.

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
MODELS = ROOT / "resources" / "models"
TEACHER = Path(os.environ.get("MAPSYNTH_FEWSTEP_TEACHER", MODELS / "mapsynth-demo-pixel-small"))
STUDENT = Path(os.environ.get("MAPSYNTH_FEWSTEP_STUDENT", MODELS / "mapsynth-demo-pixel-fewstep"))
DATASET = Path(os.environ.get("MAPSYNTH_FEWSTEP_DATASET", ROOT / ".mapsynth-demo-training" / "dataset"))
SEGMENTER = os.environ.get("MAPSYNTH_FEWSTEP_SEGMENTER", str(ROOT / ".mapsynth-experiment" / "results" / "segmenter"))
HEADING = "## Few-step generation (issue 22)"
# The real OSM extract (1.7 km²) and a 6 km x 6 km square around it (mostly background beyond the extract).
EXTENTS = {
    "Helsinki extract": "24.9351762,24.9534145,60.1641550,60.1791130 [EPSG:4326]",
    "6 x 6 km around it": "382900,388900,6669400,6675400 [EPSG:32635]",
}


def chain(work: Path, model: Path, extent: str, osm: Path) -> dict:
    """Grid, render, generate (one variation, STEPS 0 = the card's default), assemble: seconds per stage."""
    import processing

    times, start = {}, time.perf_counter()
    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": extent, "PIXEL_SIZE": 10, "PATCH_SIZE": 64,
                                                         "OUTPUT": str(work / "grid.gpkg")})
    times["grid"] = time.perf_counter() - start
    for stage, alg, params in (
        ("render", "mapsynth:render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(osm),
                                                   "OUTPUT_DIR": str(work / "maps")}),
        ("generate", "mapsynth:generate_patches", {"MODEL": str(model), "PATCH_GRID": grid["OUTPUT"],
                                                   "MAP_DIR": str(work / "maps"), "VARIATIONS": 1, "STEPS": 0,
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

    rows = [
        "| measure | teacher | few-step student | goal |",
        "|---|---|---|---|",
        f"| steps x network evaluations per step | {t['steps']} x {2 if t['guidance'] > 1 else 1} (guidance "
        f"{t['guidance']:g}) | {s['steps']} x 1 (guidance {card['distilled']['teacher_guidance']:g} folded in) | |",
        f"| seconds per patch (batch 8, taking turns) | {t['s_per_patch']:.3f} | {s['s_per_patch']:.3f} "
        f"(**{t['s_per_patch'] / s['s_per_patch']:.1f}x faster**) | >= 5x: "
        f"{met(t['s_per_patch'] >= 5 * s['s_per_patch'])} |",
    ]
    rows += [f"| Wasserstein to real, {b} | {t['wasserstein'][b]:.4f} | {s['wasserstein'][b]:.4f} | <= the "
             f"teacher's: {met(s['wasserstein'][b] <= t['wasserstein'][b])} |" for b in bands]
    for name in quality["real_ndvi_medians"]:
        if name in t["ndvi_medians"] and name in s["ndvi_medians"]:
            gap = abs(s["ndvi_medians"][name] - t["ndvi_medians"][name])
            real = quality["real_ndvi_medians"][name]
            rows.append(f"| NDVI median, {name} (real {real:.3f}) | {t['ndvi_medians'][name]:.3f} | "
                        f"{s['ndvi_medians'][name]:.3f} (gap {gap:.3f}) | gap <= 0.03: {met(gap <= 0.03)} |")
    if "map_adherence_miou" in t:
        rows.append(f"| map adherence, segmenter mIoU (real ceiling {quality['real_ceiling_miou']:.3f}) | "
                    f"{t['map_adherence_miou']:.3f} | {s['map_adherence_miou']:.3f} | >= the teacher's: "
                    f"{met(s['map_adherence_miou'] >= t['map_adherence_miou'])} |")
    for band in t["seams"]["seam_visibility"]:
        rows.append(f"| seam visibility {band}, 4 x 4 grid, overlap 32 (lower is better) | "
                    f"{t['seams']['seam_visibility'][band]:.3f} | {s['seams']['seam_visibility'][band]:.3f} | <= the "
                    f"teacher's: {met(s['seams']['seam_visibility'][band] <= t['seams']['seam_visibility'][band])} |")
    rows.append(f"| generate CLI on those 16 patches, incl. start-up | {t['seams']['generate_cli_s']:.1f} s | "
                f"{s['seams']['generate_cli_s']:.1f} s | |")
    verdict = (
        "**The student meets every goal above.**"
        if all(verdicts)
        else f"**The student misses {verdicts.count(False)} of {len(verdicts)} goals above**, so it is not "
        "shipped as an embedded model."
    )
    chain_rows = ["| area | model | patches | km² | grid / render / generate / assemble (s) | km² per hour |",
                  "|---|---|---|---|---|---|"]
    for (area, name), r in e2e.items():
        stages = " / ".join(f"{r['seconds'][k]:.1f}" for k in ("grid", "render", "generate", "assemble"))
        chain_rows.append(f"| {area} | {name} | {r['patches']} | {r['km2']:.1f} | {stages} | "
                          f"**{r['km2_per_hour']:.0f}** |")
    return f"""{HEADING}

`scripts/bench_fewstep.py` (run by `make bench`) regenerates this section. Measured {time.strftime('%Y-%m-%d %H:%M')}
on {cpu}, {os.cpu_count()} cores shared with other jobs (load average 1 / 5 min: {loads[0]} before, {loads[1]}
after), torch {quality['threads']} threads, fp32. Teacher `{TEACHER.name}`; student `{STUDENT.name}`
({card['distilled']['method']}, {card['steps']} steps from the teacher, {card['distilled']['substeps']} teacher DDIM
steps per student step, DDIM sampling).

Held-out (test split) patches of the demo model's real Aberystwyth dataset, {quality['patches']} patches, one
variation, seed 0, the same noise for both models:

""" + "\n".join(rows) + f"""

{verdict}

The chain through QGIS Processing (each backend call starts its own process; generation with one variation and
STEPS 0, i.e. the card's default): the 1.7 km² real OSM extract (its grid covers 2.6 km²) with both models, and a
6 x 6 km square around it with the student only (background beyond the extract, so its maps are mostly empty: it
measures throughput, not quality).

""" + "\n".join(chain_rows) + """

Goal: >= 3,000 km² per hour at 10 m on 2 CPU cores. The backend ran with OMP_NUM_THREADS as set for the run (the
shared-machine rule: 1), on a machine loaded by other jobs; the small area is dominated by the backend's start-up
and model loading, the large one is the steady state. controlnet-sd15 with a consistency LoRA (4 LCM steps, no
guidance): its GPU row is not measured (no GPU in the session that wrote this section).
"""


def main() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench import OSM, setup

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
    with tempfile.TemporaryDirectory(prefix="mapsynth-fewstep-chain-") as tmp:
        for area, extent in EXTENTS.items():
            # the teacher only on the small area: at 20 steps x 2 it would take most of the benchmark's time
            for name, model in (("teacher", TEACHER), ("student", STUDENT))[area != next(iter(EXTENTS)) :]:
                work = Path(tmp) / f"{area[:8].strip()}-{name}".replace(" ", "_")
                work.mkdir()
                e2e[(area, name)] = chain(work, model, extent, OSM)
    text = section(quality, e2e, (before, load()), cpu)
    path = ROOT / "docs" / "BENCHMARKS.md"
    previous = path.read_text(encoding="utf-8")
    start = previous.find(HEADING)
    if start >= 0:
        end = previous.find("\n## ", start + len(HEADING))
        previous = previous[:start].rstrip("\n") + ("\n" + previous[end:] if end >= 0 else "")
    path.write_text(previous.rstrip("\n") + "\n\n" + text, encoding="utf-8")
    print(json.dumps({"quality": quality, "chain": {f"{a} / {n}": r for (a, n), r in e2e.items()}}))
    del plugin
    app.exitQgis()


if __name__ == "__main__":
    main()
