"""make demo's closing numbers, measured on its own outputs: the unmapped-background share and what the model
painted there, nodata share, seam visibility per band on the full mosaic, NDVI of water / vegetation / built-up
with pixel counts, seconds per step. Printed and written to OUT_DIR/summary.json (strict JSON).
Run with QGIS's Python: python3 scripts/demo_summary.py OUT_DIR MODEL_DIR"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from osgeo import gdal

ROOT = Path(__file__).resolve().parents[1]
PALETTE = json.loads((ROOT / "resources" / "styles" / "semantic_palette.json").read_text(encoding="utf-8"))
# OSM classes of the semantic palette grouped as the demo's quality targets name them
GROUPS = {"water": ("water",), "waterway": ("waterway",), "vegetation": ("grass", "forest"),
          "built-up": ("residential_building", "other_building")}
TARGETS = {"water": ("<", 0.0), "vegetation": (">", 0.6), "built-up": ("<", 0.3)}


def map_classes(out: Path, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Semantic class of every mosaic pixel, from the rendered map patches (identical where they overlap)."""
    mosaic = gdal.Open(str(out / "mosaic.tif"))
    x0, px, _, y1, _, _ = mosaic.GetGeoTransform()
    vrt = gdal.BuildVRT("", [str(p) for p in sorted((out / "maps").glob("r*.tif"))])
    rgb = gdal.Translate("", vrt, format="MEM", projWin=[x0, y1, x0 + shape[1] * px, y1 - shape[0] * px],
                         width=shape[1], height=shape[0]).ReadAsArray()[:3]
    colours = {c["key"]: c["rgb"] for c in PALETTE["classes"]}
    return {key: np.all(rgb == np.array(rgb_value)[:, None, None], axis=0) for key, rgb_value in colours.items()}


def number(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def summarise(out: Path, model: Path) -> dict:
    dn = gdal.Open(str(out / "mosaic.tif")).ReadAsArray().astype(np.float64)
    nodata = (dn == 0).all(axis=0)
    blue, green, red, nir = dn * 1e-4 - 0.1
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    classes = map_classes(out, nodata.shape)
    valid = ~nodata & np.isfinite(ndvi)
    card = json.loads((model / "model_card.json").read_text(encoding="utf-8"))
    remap = {tuple(int(v) for v in key.split(",")): tuple(value) for key, value in card.get("map_remap", {}).items()}
    names = {tuple(c["rgb"]): c["key"] for c in PALETTE["classes"]}
    background_rgb = next(tuple(c["rgb"]) for c in PALETTE["classes"] if c["key"] == "background")
    painted_as = names.get(remap.get(background_rgb, background_rgb), "background")
    background = classes["background"]
    painted = background & valid
    groups = {}
    for group, keys in GROUPS.items():
        mask = np.zeros(nodata.shape, bool)
        for key in keys:
            mask |= classes[key]
        mask &= valid
        groups[group] = {"pixels": int(mask.sum()),
                         "ndvi_median": number(float(np.median(ndvi[mask]))) if mask.any() else None}
        if group in TARGETS:
            sign, limit = TARGETS[group]
            median = groups[group]["ndvi_median"]
            groups[group]["target"] = f"{sign} {limit}"
            groups[group]["met"] = median is not None and (median < limit if sign == "<" else median > limit)
    metrics = json.loads((out / "report" / "metrics.json").read_text(encoding="utf-8"))
    seams = {band: {"visibility": number(values.get("visibility")),
                    "no_cut_range": [number(v) for v in values.get("no_cut_range", [])]}
             for band, values in metrics.get("seams", {}).items() if isinstance(values, dict)}
    timings = []
    timing_file = out / "logs" / "timings.tsv"
    if timing_file.exists():
        for line in timing_file.read_text(encoding="utf-8").splitlines():
            title, seconds, peak = line.split("\t")  # scripts/demo.sh: title, seconds, peak memory (MiB)
            timings.append({"step": title, "seconds": float(seconds), "peak_mib": int(peak)})
    return {
        "mosaic_px": [int(nodata.shape[1]), int(nodata.shape[0])],
        "area_km2": number(nodata.size * 1e-4, 2),
        "nodata_share": number(float(nodata.mean())),
        "unmapped_background": {"share": number(float(background.mean())), "painted_as": painted_as,
                                "ndvi_median": number(float(np.median(ndvi[painted]))) if painted.any() else None,
                                "nodata_share_of_it": number((background & nodata).sum() / max(background.sum(), 1))},
        "ndvi": groups,
        "seam_visibility": seams,
        "seconds_per_step": timings,
        "model": model.name,
        # wall times depend on what else ran: the 1-minute load average when the demo ended
        "load_average": round(os.getloadavg()[0], 1),
        "cores": os.cpu_count(),
    }


def show(summary: dict) -> None:
    background = summary["unmapped_background"]
    print(f"area {summary['area_km2']} km² ({summary['mosaic_px'][0]} x {summary['mosaic_px'][1]} px), "
          f"nodata {100 * summary['nodata_share']:.1f} %")
    print(f"unmapped background (no OSM feature): {100 * background['share']:.1f} % of the mosaic, painted as "
          f"{background['painted_as']} (the model card's map_remap), median NDVI {background['ndvi_median']}; "
          f"{100 * background['nodata_share_of_it']:.1f} % of it is nodata (patches with no mapped feature)")
    for group, values in summary["ndvi"].items():
        target = f" (target {values['target']}: {'met' if values['met'] else 'NOT met'})" if "target" in values else ""
        print(f"NDVI median under OSM {group}: {values['ndvi_median']} over {values['pixels']} px{target}")
    print("seam visibility on the full mosaic: " + ", ".join(
        f"{band} {values['visibility']}" for band, values in summary["seam_visibility"].items()))
    print("seconds per step: " + ", ".join(f"{t['step'].split(' ')[0]} {t['seconds']}"
                                           for t in summary["seconds_per_step"]))


if __name__ == "__main__":
    out_dir, model_dir = Path(sys.argv[1]), Path(sys.argv[2])
    result = summarise(out_dir, model_dir)
    (out_dir / "summary.json").write_text(json.dumps(result, indent=2, allow_nan=False), encoding="utf-8")
    show(result)
