"""Spectra in range: per-class median NDVI (real vs synthetic) and the fraction of pixels pinned at a band's clip
floor or ceiling. Guidance that overshoots leaves classes at the clip limits (water NIR 0, NDVI -1); these two
numbers show it, on held-out patches of the demo model and on any generated mosaic."""

from __future__ import annotations

import numpy as np

from .metrics import ndvi


def class_masks(maps: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> dict[str, np.ndarray]:
    """Map RGB (N, 3, H, W) or (3, H, W) uint8 -> {class key: boolean mask (N, H, W) or (H, W)}."""
    maps = np.asarray(maps)
    codes = (maps[..., 0, :, :].astype(np.int64) << 16) | (maps[..., 1, :, :].astype(np.int64) << 8)
    codes |= maps[..., 2, :, :]
    return {key: codes == ((r << 16) | (g << 8) | b) for key, (r, g, b) in palette.items()}


def class_ndvi(values: np.ndarray, masks: dict[str, np.ndarray], bands: list[str], min_pixels: int) -> dict:
    """Reflectance (N, bands, H, W) -> {class: median NDVI} for classes with at least ``min_pixels`` pixels."""
    index = ndvi(np.moveaxis(values, 1, 0), bands)
    out = {}
    for key, mask in masks.items():
        picked = index[mask]
        picked = picked[np.isfinite(picked)]
        if picked.size >= min_pixels:
            out[key] = round(float(np.median(picked)), 3)
    return out


def saturated_fraction(values: np.ndarray, low: np.ndarray, high: np.ndarray, bands: list[str]) -> dict:
    """Per band, the fraction of pixels at (within 1e-6 of) the clip floor or ceiling, reflectance (N, bands, H, W)."""
    out = {}
    for i, band in enumerate(bands):
        v = values[:, i]
        finite = np.isfinite(v)
        floor = (v <= low[i] + 1e-6) & finite
        ceiling = (v >= high[i] - 1e-6) & finite
        n = max(int(finite.sum()), 1)
        out[band] = {"floor": round(float(floor.sum() / n), 4), "ceiling": round(float(ceiling.sum() / n), 4)}
    return out
