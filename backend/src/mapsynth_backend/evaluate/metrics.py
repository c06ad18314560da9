"""Pixel statistics of the evaluation, on plain arrays: band lookup, sampling, NDVI, SSIM and PSNR with a robust
data range."""

from __future__ import annotations

import numpy as np

SAMPLE = 200_000
RANGE_PERCENTILES = (0.5, 99.5)  # SSIM/PSNR data range: robust to a few bright pixels


def band_id(description: str | None) -> str | None:
    """'B02', 'B02_blue', 'Sentinel-2 B8A' -> 'B02', 'B02', 'B8A'."""
    import re

    match = re.search(r"\bB(\d{2}|8A)(?![0-9])", description or "")
    return f"B{match.group(1)}" if match else description


def band_index(names: list[str], band: str) -> int | None:
    return names.index(band) if band in names else None


def sample(values: np.ndarray, rng) -> np.ndarray:
    flat = values.reshape(values.shape[0], -1)
    flat = flat[:, np.isfinite(flat).all(axis=0)]
    if flat.shape[1] > SAMPLE:
        flat = flat[:, rng.choice(flat.shape[1], SAMPLE, replace=False)]
    return flat


def ndvi(values: np.ndarray, names: list[str]) -> np.ndarray | None:
    red, nir = band_index(names, "B04"), band_index(names, "B08")
    if red is None or nir is None:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return (values[nir] - values[red]) / (values[nir] + values[red])


def ssim(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """Structural similarity (Gaussian window sigma 1.5, K1 0.01, K2 0.03) over pixels valid in both."""
    valid = np.isfinite(a) & np.isfinite(b)
    if valid.mean() < 0.5:
        return float("nan")
    a, b = np.where(valid, a, np.nanmean(a)), np.where(valid, b, np.nanmean(b))
    return float(ssim_index(a, b, data_range)[valid].mean())


def ssim_index(a: np.ndarray, b: np.ndarray, data_range: float) -> np.ndarray:
    """The per-pixel SSIM index of two finite bands (Wang et al. 2004, Gaussian-weighted statistics)."""
    from scipy.ndimage import gaussian_filter

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = gaussian_filter(a, 1.5), gaussian_filter(b, 1.5)
    var_a = gaussian_filter(a * a, 1.5) - mu_a**2
    var_b = gaussian_filter(b * b, 1.5) - mu_b**2
    cov = gaussian_filter(a * b, 1.5) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    valid = np.isfinite(a) & np.isfinite(b)
    mse = float(np.mean((a[valid] - b[valid]) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(data_range**2 / mse)


def data_range(real: np.ndarray, method: str) -> float:
    """The real band's reflectance range for SSIM/PSNR: 0.5-99.5 percentiles (default) or max - min."""
    finite = real[np.isfinite(real)]
    if method == "minmax":
        return float(finite.max() - finite.min())
    low, high = np.percentile(finite, RANGE_PERCENTILES)
    return float(high - low)
