"""The 'area-cost' section of docs/BENCHMARKS.md: how the cost of `make demo`'s chain grows with the area. The same
chain (scripts/demo.sh: grid, render, generation, assembly, masks, netCDF, report) runs on the whole OpenStreetMap
extract of Liechtenstein (../shared/data) over about 10, 40 and 160 km², in seamless generation (make demo's mode),
and over the two smaller areas also in independent generation with one variation, the same number of images per patch.
Per step: seconds and peak memory (scripts/run_measured.py, the backend subprocess included); per area: km²/h end
to end and generation seconds per km². Standard library only. About an hour on 2 cores.

Usage: python3 scripts/bench_area.py [--rerun]   (make bench-area; finished areas are kept unless --rerun;
BENCH_AREAS=10km2,40km2 runs a subset)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_doc import header, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MAPSYNTH_SHARED_DATA", ROOT.parent / "shared" / "data"))
OSM = SHARED / "osm_liechtenstein_valhalla" / "liechtenstein.osm.pbf"
WORK = ROOT / ".mapsynth-bench-area"
# (name, extent lon min, lon max, lat min, lat max in WGS84, generation mode): Vaduz; the valley from Triesen to
# Schaan with the slopes east of it; most of the country (the rest of the box is Swiss and Austrian land that the
# extract does not map, left nodata)
RUNS = [
    ("10km2", (9.500, 9.540, 47.125, 47.153), "seamless"),
    ("10km2-independent", (9.500, 9.540, 47.125, 47.153), "independent"),
    ("40km2", (9.490, 9.570, 47.100, 47.160), "seamless"),
    ("40km2-independent", (9.490, 9.570, 47.100, 47.160), "independent"),
    ("160km2", (9.475, 9.635, 47.100, 47.220), "seamless"),
]
STAGES = {"1/7": "grid", "2/7": "render", "3/7": "generation", "4/7": "assembly", "5/7": "building masks",
          "6/7": "netCDF", "7/7": "report"}


def run(name: str, extent: tuple[float, ...], mode: str, rerun: bool) -> dict:
    out = WORK / name
    if rerun or not (out / "summary.json").exists():
        env = dict(os.environ, MAPSYNTH_DEMO_DIR=str(out), MAPSYNTH_DEMO_OSM=str(OSM), MAPSYNTH_DEMO_MODE=mode,
                   MAPSYNTH_DEMO_VARIATIONS="1", MAPSYNTH_DEMO_EXTENT="{},{},{},{} [EPSG:4326]".format(*extent))
        print(f"== {name}: scripts/demo.sh over {extent} ({mode})", flush=True)
        subprocess.run([str(ROOT / "scripts" / "demo.sh")], env=env, check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    summary["mode"] = mode
    return summary


def stage(summary: dict, key: str) -> dict:
    return next(row for row in summary["seconds_per_step"] if row["step"].startswith(key))


def section(results: dict[str, dict]) -> str:
    names = list(results)
    lines = [
        "## How the cost grows with the area",
        "",
        header("scripts/bench_area.py", "make bench-area"),
        "",
        f"`make demo`'s chain (scripts/demo.sh) on the OpenStreetMap extract of Liechtenstein (`{OSM.name}`, "
        "../shared/data), 10 m, 64 px patches, the embedded few-step model; areas are the mosaics' (nodata "
        "included: patches without any mapped feature are not generated). Peak memory is the step's largest "
        "resident set, the backend subprocess included. Independent generation ran with one variation, as many "
        "images per patch as seamless. Every step's seconds include the start of qgis_process and of the backend "
        "and the model's loading, so a small area pays more per km².",
        "",
        "| step | " + " | ".join(f"{n} ({results[n]['area_km2']:.0f} km², {results[n]['mode']})" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, title in STAGES.items():
        cells = [f"{stage(results[n], key)['seconds']:.0f} s, {stage(results[n], key).get('peak_mib', '?')} MiB"
                 for n in names]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    totals = {n: sum(row["seconds"] for row in results[n]["seconds_per_step"]) for n in names}
    lines.append("| all | " + " | ".join(f"{totals[n]:.0f} s" for n in names) + " |")
    lines.append("| km²/h end to end | " + " | ".join(f"{3600 * results[n]['area_km2'] / totals[n]:.0f}"
                                                     for n in names) + " |")
    per_km2 = {n: stage(results[n], "3/7")["seconds"] / results[n]["area_km2"] for n in names}
    lines.append("| generation s per km² | " + " | ".join(f"{per_km2[n]:.1f}" for n in names) + " |")
    lines.append("| nodata share | " + " | ".join(f"{100 * results[n]['nodata_share']:.1f} %" for n in names) + " |")
    seamless = [n for n in names if results[n]["mode"] == "seamless"]
    independent = [n for n in names if results[n]["mode"] == "independent"]
    lines.append("")
    for n in independent:
        twin = next((s for s in seamless if results[s]["area_km2"] == results[n]["area_km2"]), None)
        if twin:
            ratio = per_km2[twin] / per_km2[n]
            lines.append(f"Seamless / independent generation per km² on the same {results[n]['area_km2']:.0f} km²: "
                         f"**{ratio:.2f}x** (target <= 1.5x).")
    if len(results) < len(RUNS):
        lines.append(f"Areas not measured yet: {', '.join(n for n, _, _ in RUNS if n not in results)}.")
    small, large = seamless[0], seamless[-1]
    if small == large:
        return "\n".join(lines)
    growth = results[large]["area_km2"] / results[small]["area_km2"]
    for key, title in (("2/7", "render"), ("4/7", "assembly")):
        a, b = stage(results[small], key).get("peak_mib"), stage(results[large], key).get("peak_mib")
        if a and b:
            lines.append(f"{title.capitalize()}'s peak memory from {results[small]['area_km2']:.0f} to "
                         f"{results[large]['area_km2']:.0f} km² ({growth:.0f}x the area): {a} -> {b} MiB "
                         f"({b / a:.2f}x).")
    return "\n".join(lines)


def main() -> None:
    if not OSM.exists():
        sys.exit(f"bench_area: the Liechtenstein extract is missing: {OSM} (MAPSYNTH_SHARED_DATA names the folder)")
    rerun = "--rerun" in sys.argv[1:]
    started = time.time()
    results = {}
    wanted = os.environ.get("BENCH_AREAS")  # e.g. "10km2,40km2": a subset of RUNS' names
    for name, extent, mode in RUNS:
        if wanted and not any(name.startswith(w) for w in wanted.split(",")):
            continue
        results[name] = run(name, extent, mode, rerun)  # the section after each area: an interrupted run keeps it
        write_section("area-cost", section(results), after="demo-run")
    print(f"bench_area: {time.time() - started:.0f} s; docs/BENCHMARKS.md section area-cost written")


if __name__ == "__main__":
    main()
