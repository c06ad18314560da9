"""What evaluate says about a mosaic beyond its spectra: how much of it is nodata (no map information) and how
visible its seams are, from the mosaic alone when its label raster is not next to it."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..mosaic.seams import SeamMeter


def grid_labels(shape: tuple[int, int], stride: int, overlap: int = 0) -> np.ndarray:
    """One label per grid cell, with boundaries in the middle of the overlaps (where a cut runs on average; a
    SEAMLESS mosaic has no cut at all). The seam metrics then measure the step across every tile line."""
    offset = overlap // 2
    rows = (np.arange(shape[0]) - offset) // stride + 1
    cols = (np.arange(shape[1]) - offset) // stride + 1
    return (rows[:, None] * (cols[-1] + 2) + cols[None, :]).astype(np.int32)


def seam_metrics(synthetic: np.ndarray, labels: np.ndarray, stride: int) -> tuple[list[float], list[float]]:
    meter = SeamMeter(synthetic.shape[0], synthetic.shape[2], stride)
    meter.add(synthetic, labels)
    return meter.visibility(), meter.periodicity_db()


def nodata_metrics(synthetic: np.ndarray, outside: np.ndarray | None) -> dict[str, Any]:
    """Share of the mosaic that is nodata, split (with a rendered map) into outside the map's data bounds and
    inside them (cells without any mapped feature)."""
    nodata = ~np.isfinite(synthetic).all(axis=0)
    result: dict[str, Any] = {"fraction": float(nodata.mean()), "pixels": int(nodata.sum())}
    if outside is not None:
        result["outside_data_bounds"] = float((nodata & outside).mean())
        result["inside_data_bounds"] = float((nodata & ~outside).mean())
        result["valid_outside_data_bounds"] = float((~nodata & outside).mean())
    return result


def nodata_text(metrics: dict[str, Any]) -> str:
    text = (
        f"{100 * metrics['fraction']:.1f} % of the mosaic is nodata: the map carries no information there, so no "
        "pixel is invented."
    )
    if "outside_data_bounds" in metrics:
        text += (
            f" {100 * metrics['outside_data_bounds']:.1f} % lies outside the map's data bounds, "
            f"{100 * metrics['inside_data_bounds']:.1f} % inside them (cells without any mapped feature)."
            f" Pixels with values outside the data bounds: {100 * metrics['valid_outside_data_bounds']:.2f} %."
        )
    return text
