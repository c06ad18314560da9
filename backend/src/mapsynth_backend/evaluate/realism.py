"""Realism measures: what a discriminator would see that histograms and per-class medians do not (texture, noise,
joint-band statistics). Pure functions on reflectance tiles (N, bands, H, W); the classifier two-sample test is in
c2st. Real Sentinel-2 scores: gradient ratio 1, high-frequency share equal to real's, correlation difference 0."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..runtime.jsonsafe import strict as finite  # metrics are strict JSON: NaN -> None

TILE = 32
HIGH_FREQUENCY = 0.25  # cycles per pixel: the cut-off of the high-frequency power share
DETAIL_SIGMA = 2.0  # px: the blur whose residual is a tile's detail (texture and noise finer than about 8 px)
# Map classes (semantic palette keys) pooled into the groups measured separately; a tile belongs to a group when
# at least MAJORITY of its pixels are in it (a 32 px tile is 320 m: mostly one kind of land)
CLASS_GROUPS = {
    "built_up": (
        "residential_landuse",
        "nonresidential_landuse",
        "paved",
        "residential_building",
        "other_building",
        "minor_road",
        "major_road",
        "railway",
        "path",
        "wall",
    ),
    "vegetation": ("farmland", "grass", "forest", "wetland", "hedge", "parcel_boundary"),
    "water": ("water", "waterway"),
    "bare": ("bare",),
}
MAJORITY = 0.5
MIN_GROUP_TILES = 8


def cut_tiles(image: np.ndarray, size: int = TILE, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(bands, H, W) -> tiles (N, bands, size, size) on a size grid and their (row, col) origins; a tile with any
    nodata pixel (non-finite, or False in ``valid``) is left out, as is the partial margin."""
    bands, height, width = image.shape
    ok = np.isfinite(image).all(axis=0)
    if valid is not None:
        ok &= valid
    tiles, origins = [], []
    for y in range(0, height - size + 1, size):
        for x in range(0, width - size + 1, size):
            if ok[y : y + size, x : x + size].all():
                tiles.append(image[:, y : y + size, x : x + size])
                origins.append((y, x))
    if not tiles:
        return np.zeros((0, bands, size, size), np.float32), np.zeros((0, 2), np.int64)
    return np.stack(tiles).astype(np.float32), np.array(origins, np.int64)


def block_groups(origins: np.ndarray, block: int) -> np.ndarray:
    """Tile origins (N, 2) -> a group id per spatial block of ``block`` px: neighbouring tiles share texture,
    so cross-validation must keep a block on one side."""
    rows, cols = origins[:, 0] // block, origins[:, 1] // block
    return rows * 100_000 + cols


def detail(tiles: np.ndarray, sigma: float = DETAIL_SIGMA) -> np.ndarray:
    """Each (N, bands, H, W) tile minus its Gaussian blur of ``sigma`` px (edges reflected): the texture and pixel
    noise without the layout and colour, which dominate a whole tile (a classifier on whole tiles misses texture
    that it tells apart on its own)."""
    from scipy.ndimage import gaussian_filter

    tiles = np.asarray(tiles, np.float32)
    return tiles - gaussian_filter(tiles, sigma=(0, 0, sigma, sigma), mode="reflect")


def gradient_energy(tiles: np.ndarray) -> np.ndarray:
    """Per band, the mean squared finite difference (horizontal and vertical pooled), reflectance² per pixel."""
    tiles = np.asarray(tiles, np.float64)
    dx = np.diff(tiles, axis=-1) ** 2
    dy = np.diff(tiles, axis=-2) ** 2
    return (dx.sum(axis=(0, 2, 3)) + dy.sum(axis=(0, 2, 3))) / (dx[:, 0].size + dy[:, 0].size)


def ratio(synthetic: np.ndarray, real: np.ndarray) -> list[float | None]:
    """synthetic / real per band; None where real is 0."""
    return [float(s / r) if r > 0 else None for s, r in zip(synthetic, real, strict=True)]


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Mean over tiles, NaN (no value: a flat band) left out; NaN where no tile has a value, without a warning."""
    count = np.isfinite(values).sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, np.nansum(values, axis=0) / np.maximum(count, 1), np.nan)


def _hann(size: int) -> np.ndarray:
    """Periodic Hann window: a sinusoid on a DFT bin leaks into its two neighbours only."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)


def power_spectra(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per tile and band, the 2-D power spectrum of the mean-removed, Hann-windowed tile (N, bands, H, W), and
    the radial frequency (cycles per pixel) of each bin (H, W)."""
    tiles = np.asarray(tiles, np.float64)
    height, width = tiles.shape[-2:]
    centred = tiles - tiles.mean(axis=(-2, -1), keepdims=True)
    window = _hann(height)[:, None] * _hann(width)[None, :]
    power = np.abs(np.fft.fft2(centred * window)) ** 2
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    return power, np.sqrt(fy**2 + fx**2)


def high_frequency_share(tiles: np.ndarray, cutoff: float = HIGH_FREQUENCY) -> np.ndarray:
    """Per band, the share of spectral power above ``cutoff`` cycles per pixel (radial), DC left out, averaged
    over tiles (flat tiles, with no power, are left out)."""
    power, radius = power_spectra(tiles)
    ac = radius > 0
    total = power[..., ac].sum(axis=-1)
    high = power[..., radius > cutoff].sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, high / total, np.nan)
    return _nanmean(share) if len(share) else np.full(power.shape[1], np.nan)


def radial_spectrum(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum: bin centres (cycles per pixel, 0 < f <= 0.5, bins 1/size wide) and the
    mean power per band and bin (bands, bins), averaged over tiles."""
    power, radius = power_spectra(tiles)
    size = tiles.shape[-1]
    index = np.rint(radius * size).astype(int)  # bin k: radius within half a bin of k / size
    bins = np.arange(1, size // 2 + 1)
    mean = power.mean(axis=0)
    spectrum = np.stack([mean[:, index == k].mean(axis=-1) for k in bins], axis=-1)
    return bins / size, spectrum


def band_correlation(tiles: np.ndarray) -> np.ndarray:
    """Mean over tiles of the per-tile Pearson correlation between bands (bands, bands); a flat band in a tile
    has no correlation and that tile is left out of that pair."""
    tiles = np.asarray(tiles, np.float64)
    flat = tiles.reshape(tiles.shape[0], tiles.shape[1], -1)
    centred = flat - flat.mean(axis=-1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=-1))
    cov = np.einsum("nip,njp->nij", centred, centred)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / (norm[:, :, None] * norm[:, None, :])
    return _nanmean(corr) if len(corr) else np.full(cov.shape[1:], np.nan)


def tile_groups(classes: np.ndarray, names: dict[int, str]) -> np.ndarray:
    """Class codes per tile pixel (N, H, W) -> the CLASS_GROUPS key each tile belongs to ('' when no group
    covers MAJORITY of it)."""
    out = np.full(len(classes), "", dtype=object)
    codes = classes.reshape(len(classes), -1)
    for group, keys in CLASS_GROUPS.items():
        members = [code for code, name in names.items() if name in keys]
        share = np.isin(codes, members).mean(axis=1) if len(codes) else np.zeros(0)
        out[(share >= MAJORITY) & (out == "")] = group
    return out


def statistics(real: np.ndarray, synthetic: np.ndarray, bands: list[str]) -> dict[str, Any]:
    """Gradient energy, high-frequency share and band correlations of real and synthetic tiles, with the
    comparisons a report states (ratios per band, correlation differences per band pair)."""
    g_real, g_synth = gradient_energy(real), gradient_energy(synthetic)
    h_real, h_synth = high_frequency_share(real), high_frequency_share(synthetic)
    c_real, c_synth = band_correlation(real), band_correlation(synthetic)
    pairs = {
        f"{bands[i]}-{bands[j]}": {
            "real": c_real[i, j],
            "synthetic": c_synth[i, j],
            "difference": c_synth[i, j] - c_real[i, j],
        }
        for i in range(len(bands))
        for j in range(i + 1, len(bands))
    }
    return finite(
        {
            "tiles": {"real": int(len(real)), "synthetic": int(len(synthetic))},
            "gradient_energy": {
                b: {"real": g_real[i], "synthetic": g_synth[i], "ratio": ratio(g_synth, g_real)[i]}
                for i, b in enumerate(bands)
            },
            "high_frequency_share": {
                b: {
                    "real": h_real[i],
                    "synthetic": h_synth[i],
                    "ratio": ratio(h_synth, h_real)[i],
                }
                for i, b in enumerate(bands)
            },
            "band_correlation": pairs,
            "correlation_matrix": {"real": c_real, "synthetic": c_synth, "difference": c_synth - c_real},
        }
    )


def per_group(
    real: np.ndarray,
    synthetic: np.ndarray,
    real_groups: np.ndarray,
    synth_groups: np.ndarray,
    bands: list[str],
    min_tiles: int = MIN_GROUP_TILES,
) -> dict[str, Any]:
    """statistics() per CLASS_GROUPS group that has at least ``min_tiles`` tiles on both sides."""
    out = {}
    for group in CLASS_GROUPS:
        r, s = real[real_groups == group], synthetic[synth_groups == group]
        if len(r) >= min_tiles and len(s) >= min_tiles:
            out[group] = statistics(r, s, bands)
    return out


def spectra_figure(real: np.ndarray, synthetic: np.ndarray, bands: list[str]):
    """Radially averaged power spectra, real vs synthetic, one panel per band (log power): a matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    freq, p_real = radial_spectrum(real)
    _, p_synth = radial_spectrum(synthetic)
    figure, axes = plt.subplots(1, len(bands), figsize=(3.2 * len(bands), 3), squeeze=False)
    for i, (axis, band) in enumerate(zip(axes[0], bands, strict=True)):
        axis.semilogy(freq, p_real[i], label="real")
        axis.semilogy(freq, p_synth[i], label="synthetic")
        axis.axvline(HIGH_FREQUENCY, color="grey", lw=0.8, ls="--")
        axis.set_title(band)
        axis.set_xlabel("cycles per pixel")
    axes[0][0].set_ylabel("power (reflectance², Hann window)")
    axes[0][0].legend()
    figure.tight_layout()
    return figure
