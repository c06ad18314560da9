"""make bench: which generation mode `make demo` should use. Runs scripts/demo.sh once per mode (independent: 4
variations cut along minimum-error seams; seamless: joint denoising, one variation) on the demo's default area (or
--extent) into fresh folders, reads the seam metrics and nodata share from each report (report/metrics.json) and the
step times from demo.sh's output, and rewrites its section of docs/BENCHMARKS.md (demo-modes, scripts/bench_doc.py).
The model, area and steps are demo.sh's (the section names the model and area from demo.sh's output).

The seam visibility index on a single mosaic is noisy, so the same index is also measured on tile lines at 9 other
offsets of each mosaic, where no cut lies: its spread is the noise.

Run in the backend venv: QGIS_PROCESS=/usr/bin/qgis_process.bin .venv-backend/bin/python scripts/bench_demo_modes.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

from mapsynth_backend.evaluate.coverage import grid_labels, seam_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_doc import header, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Demo generation mode"
BANDS = ("B02", "B03", "B04", "B08")
MODES = ("independent", "seamless")


def run_mode(mode: str, folder: Path, extent: str | None) -> dict:
    env = {**os.environ, "MAPSYNTH_DEMO_DIR": str(folder), "MAPSYNTH_DEMO_MODE": mode}
    if extent:
        env["MAPSYNTH_DEMO_EXTENT"] = extent
    start = time.perf_counter()
    done = subprocess.run([str(ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, check=False)
    total = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"demo.sh ({mode}) failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    # demo.sh's step record: title, seconds, peak MiB per line; the title starts with "N/7"
    timings = (folder / "logs" / "timings.tsv").read_text().splitlines()
    seconds = {line.split("/", 1)[0]: float(line.split("\t")[1]) for line in timings if "\t" in line}
    metrics = json.loads((folder / "report" / "metrics.json").read_text())
    disagreement = re.search(r"overlap disagreement before cutting: mean \|difference\| ([0-9.]+)", done.stdout)
    step = re.search(r"^== 3/7 generation with (\S+) ", done.stdout, re.M)
    area = re.search(r"^== 1/7 patch grid over the (.*) area \(", done.stdout, re.M)
    return {"total_s": total, "generation_s": seconds.get("3"), "assembly_s": seconds.get("4"),
            "model": step.group(1) if step else "?", "area": area.group(1) if area else "",
            "seams": metrics["seams"], "nodata": metrics["nodata"], "stride": metrics["seam_stride_px"],
            "disagreement": float(disagreement.group(1)) if disagreement else float("nan"),
            "noise": null_visibility(folder / "mosaic.tif", metrics["seam_stride_px"])}


def null_visibility(mosaic: Path, stride: int) -> dict[str, list[float]]:
    """The seam visibility index on tile lines at 9 offsets past the overlaps (no cut there): min and max per
    band, the index's noise on this mosaic."""
    with rasterio.open(mosaic) as src:
        dn = src.read().astype(np.float32)
    values = np.where(dn == 0, np.nan, dn * 1e-4 - 0.1)
    runs = []
    for offset in np.linspace(0.3 * stride, 0.9 * stride, 9).round().astype(int):  # cuts lie in [0, overlap)
        labels = np.roll(grid_labels(values.shape[1:], stride), (offset, offset), axis=(0, 1))
        runs.append(seam_metrics(values, labels, stride)[0])
    runs = np.array(runs)
    return {band: [float(runs[:, b].min()), float(runs[:, b].max())] for b, band in enumerate(BANDS)}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"when": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu, "cores": os.cpu_count(),
            "load": os.getloadavg()[0], "threads": os.environ.get("OMP_NUM_THREADS", "unset")}


def section(measured: dict) -> str:
    """The BENCHMARKS.md section from one measurement (what main() saves as bench_demo_modes.json)."""
    rows, m, extent = measured["rows"], measured["machine"], measured.get("extent")
    first = next(iter(rows.values()))
    lines = [HEADING, "",
             header("scripts/bench_demo_modes.py", "make bench", when=m["when"],
                    on=f"{m['cpu']}, {m['cores']} cores, load average {m['load']:.1f} at the end (the wall times "
                    "depend on what else ran)") + f" CPU only, OMP_NUM_THREADS={m['threads']}. "
             f"`make demo`'s whole chain per mode on "
             f"{'the extent ' + extent if extent else 'its default area'}"
             f"{' (' + first['area'] + ')' if first.get('area') else ''}, the model demo.sh uses "
             f"({first.get('model', '?')}, its card's steps), seed 0; seam metrics from each demo's evaluation report "
             "(SeamMeter on the mosaic and its label raster; 1 = invisible, periodicity about 0 dB = no tiling).", "",
             "| generation | seam visibility B02 / B03 / B04 / B08 | same index on 9 lines without a cut (min-max) | "
             "periodicity (dB) | overlap disagreement | nodata | generation | assembly | whole demo |",
             "|---|---|---|---|---|---|---|---|---|"]
    names = {"independent": "independent, 4 variations, seam cuts", "seamless": "SEAMLESS (joint), 1 variation"}
    for mode, r in rows.items():
        vis = " / ".join(f"{r['seams'][b]['visibility']:.3f}" for b in BANDS)
        per = " / ".join(f"{r['seams'][b]['periodicity_db']:.1f}" for b in BANDS)
        noise = " / ".join(f"{r['noise'][b][0]:.2f}-{r['noise'][b][1]:.2f}" for b in BANDS)
        lines.append(f"| {names[mode]} | {vis} | {noise} | {per} | {r['disagreement']:.4f} | "
                     f"{100 * r['nodata']['fraction']:.1f} % | {r['generation_s']:.0f} s | {r['assembly_s']:.0f} s | "
                     f"{r['total_s']:.0f} s |")
    best = min(rows, key=lambda mode: max(rows[mode]["seams"][b]["visibility"] for b in BANDS))
    inside = {mode: sum(r["noise"][b][0] <= r["seams"][b]["visibility"] <= r["noise"][b][1] for b in BANDS)
              for mode, r in rows.items()}
    low = min(r["noise"][b][0] for r in rows.values() for b in BANDS)
    high = max(r["noise"][b][1] for r in rows.values() for b in BANDS)
    lines += ["", "Overlap disagreement: mean |difference| (reflectance) between the chosen candidates of neighbouring "
              "patches in their overlaps, before cutting (assemble_mosaic's log); joint denoising makes the overlaps "
              "identical. Nodata: the mosaic's pixels without a generated value (outside the extract, or in patches "
              "without any mapped feature, which are not generated).", "",
              f"Noise: on lines where no cut lies the same index ranges {low:.2f}-{high:.2f} on these mosaics "
              f"({measured.get('size', '?')} px, {len(BANDS)} bands), and the values at the cuts lie inside that "
              "range in " + ", ".join(f"{inside[mode]} of 4 bands ({mode})" for mode in rows) + ". "
              + ("Every band of every mode lies inside that range: at this size the index does not tell the modes "
                 "apart, and what decides is the overlap disagreement (0 for joint denoising: no seam to cut) and "
                 "the larger comparison in 'Independent vs joint generation'."
                 if all(v == len(BANDS) for v in inside.values()) else
                 "Values above the range are seams the index resolves; values inside it are no more visible than "
                 "a line where no cut lies."), "",
              f"Lowest worst-band seam visibility here: {names[best]}. `make demo` uses MAPSYNTH_DEMO_MODE=seamless "
              "by default (scripts/demo.sh); MAPSYNTH_DEMO_MODE=independent runs the other row. Target: "
              "<= 1.05 in every band."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run the demos into DIR/<mode> and keep them")
    parser.add_argument("--extent", help="another extent than the demo's default (as MAPSYNTH_DEMO_EXTENT)")
    parser.add_argument("--from-json", type=Path, help="only rewrite the section from a saved measurement")
    args = parser.parse_args()
    if args.from_json:
        measured = json.loads(args.from_json.read_text())
    else:
        base = args.keep or Path(tempfile.mkdtemp(prefix="mapsynth-bench-demo-"))
        rows = {mode: run_mode(mode, base / mode, args.extent) for mode in MODES}
        with rasterio.open(base / MODES[0] / "mosaic.tif") as src:
            size = f"{src.width} x {src.height}"
        measured = {"rows": rows, "machine": machine(), "extent": args.extent, "size": size}
        (base / "bench_demo_modes.json").write_text(json.dumps(measured, indent=1))
    print(json.dumps(measured, indent=1))
    text = section(measured)
    write_section("demo-modes", text, after="demo")
    print(text)


if __name__ == "__main__":
    main()
