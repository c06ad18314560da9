"""The report's street section: do the roads of the MAP show as lines in the synthetic mosaic (issue 19)?

Uses ``streets.mosaic_street_contrast`` on the map raster warped to the mosaic's grid. Headline: roads the map draws
at >= 10 m (``major_road``, 14 m); all roads (minor ones are drawn 8 m) alongside. 32-px blocks, so that a small
area still has several units for the 95 % bootstrap interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .report import Report
from .streets import ROAD_CLASSES, mosaic_street_contrast

BLOCK = 32
SETS = {"major_roads": ("major_road",), "all_roads": ROAD_CLASSES}


def street_metrics(synthetic: np.ndarray, bands: list[str], codes: np.ndarray, palette_path: str) -> dict:
    """Reflectance (bands, H, W), map colour codes (H, W) as map_classes returns them -> contrast per road set."""
    palette = {c["key"]: tuple(c["rgb"]) for c in json.loads(Path(palette_path).read_text())["classes"]}
    map_rgb = np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255]).astype(np.uint8)
    out = {
        name: mosaic_street_contrast(synthetic, bands, map_rgb, palette, BLOCK, roads=roads)
        for name, roads in SETS.items()
    }
    out["block_px"] = BLOCK
    return out


def street_section(report: Report, metrics: dict) -> None:
    """Table: per road set and index, mean contrast with its 95 % interval over blocks."""
    rows = []
    for name in SETS:
        for index in ("ndvi", "visible"):
            entry = metrics[name][index]
            interval = "-" if entry["mean"] is None else f"[{entry['low']:.3f}, {entry['high']:.3f}]"
            rows.append([name, index, metrics[name]["road_pixels"], entry["units"], entry["mean"], interval])
    report.table(["roads", "index", "road pixels", "blocks", "contrast (line - beside)", "95 % interval"], rows)
    report.note(
        f"Median of the index on the road line minus its median within 2 px beside it, per {metrics['block_px']}-px"
        " block; mean over blocks with a bootstrap interval. Streets visible: NDVI contrast below 0 (interval"
        " excluding 0). major_roads = roads drawn >= 10 m wide."
    )
