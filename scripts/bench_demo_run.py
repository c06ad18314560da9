"""The 'demo-run' section of docs/BENCHMARKS.md: what `make demo` measured on its own outputs (summary.json,
written by scripts/demo_summary.py): unmapped background and how it was painted, nodata, NDVI per class group with
pixel counts and targets, seam visibility per band on the full mosaic, seconds per step. Standard library only.

Usage: python3 scripts/bench_demo_run.py DEMO_OUTPUT_DIR   (make bench runs it on the demo it times)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_doc import cpu_model, header, write_section  # noqa: E402


def section(summary: dict, when: str) -> str:
    background = summary["unmapped_background"]
    load = summary.get("load_average")
    on = f"{cpu_model()}, {summary.get('cores') or '?'} cores, " + (
        f"load average {load} when the demo ended" if load is not None else "load when the demo ran not recorded"
    )
    lines = [
        "## make demo on its default area",
        "",
        header("scripts/bench_demo_run.py", "make bench  (scripts/demo.sh, then scripts/bench_demo_run.py)", when, on),
        "",
        f"Model `{summary['model']}`, {summary['area_km2']:.1f} km², mosaic {summary['mosaic_px'][0]} x "
        f"{summary['mosaic_px'][1]} px at 10 m. Unmapped background (no land-use polygon): "
        f"{100 * background['share']:.1f} % of the mosaic, painted as {background['painted_as']} by the model card's"
        f" map_remap (median NDVI {background['ndvi_median']:.3f}); {100 * background['nodata_share_of_it']:.1f} %"
        f" of it lies in patches with no mapped feature and stays nodata. Nodata in all:"
        f" {100 * summary['nodata_share']:.1f} %.",
        "",
        "| OSM class group | pixels | median NDVI | target | met |",
        "|---|---|---|---|---|",
    ]
    for name, row in summary["ndvi"].items():
        met = "" if "met" not in row else ("yes" if row["met"] else "**no**")
        median = "n/a" if row["ndvi_median"] is None else f"{row['ndvi_median']:+.3f}"
        lines.append(f"| {name} | {row['pixels']:,} | {median} | {row.get('target', '')} | {met} |")
    lines += ["", "| band | seam visibility (target <= 1.05) | same index on lines without a cut |", "|---|---|---|"]
    for band, row in summary["seam_visibility"].items():
        low, high = row["no_cut_range"]
        lines.append(f"| {band} | {row['visibility']:.3f} | {low:.3f}-{high:.3f} |")
    lines += ["", "| step | seconds | peak memory (MiB, the backend subprocess included) |", "|---|---|---|"]
    lines += [f"| {row['step']} | {row['seconds']:.0f} | {row.get('peak_mib', 'not recorded')} |"
              for row in summary["seconds_per_step"]]
    total = sum(row["seconds"] for row in summary["seconds_per_step"])
    lines.append(f"| all | {total:.0f} | |")
    return "\n".join(lines)


def main() -> None:
    folder = Path(sys.argv[1])
    path = folder / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(path.stat().st_mtime))
    write_section("demo-run", section(summary, when), after="demo")


if __name__ == "__main__":
    main()
