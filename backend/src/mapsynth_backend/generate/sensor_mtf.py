"""The sensor's transfer function as a fitted radial gain (model card ``sensor_mtf``): real Sentinel-2 bands are
band-limited by the instrument and the ground processing, so their power falls off towards the highest spatial
frequencies, while a diffusion model's few-step output keeps pixel-scale energy there (issue 28: the few-step
student's texture alone tells it from real 99 % of the time). Per band, the gain at each radial frequency is the
square root of real / generated power, geometric means over the training patches (every patch counts the same, so
the smooth fields, not the few busy town patches, set it), clipped to [1/3, 3]. Applied to every generated patch
in reflectance, a zero-phase linear filter: the patch mean is kept, and a per-item filter does not depend on the
batch, the order or the thread count."""

from __future__ import annotations

from typing import Any

import numpy as np

GAIN_RANGE = (1 / 3, 3.0)
FIT_SIZE = 64  # the fit's patch size: bins are 1/64 cycle per pixel wide


def _window(size: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)


def _radius(height: int, width: int) -> np.ndarray:
    return np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :])


def radial_log_power(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin frequencies (cycles per pixel) and, per band, the log of the radially averaged geometric-mean power:
    each 2-D frequency's power (mean removed, Hann window) averaged in log over the patches (N, bands, S, S)."""
    x = np.asarray(patches, np.float64)
    size = x.shape[-1]
    x = x - x.mean(axis=(-2, -1), keepdims=True)
    power = np.abs(np.fft.fft2(x * (_window(size)[:, None] * _window(size)[None, :]))) ** 2
    geometric = np.exp(np.log(power + 1e-14).mean(axis=0))  # (bands, S, S)
    bins = np.round(_radius(size, size) * size).astype(np.int64).ravel()
    counts = np.bincount(bins)
    radial = np.stack([np.bincount(bins, weights=g.ravel()) / counts for g in geometric])
    return np.arange(len(counts)) / size, np.log(radial)


def fit_sensor_mtf(real: np.ndarray, generated: np.ndarray, bands: list[str]) -> dict[str, Any]:
    """The card entry from real patches and the model's generations of the same maps (N, bands, S, S); patches
    with nodata on either side are left out."""
    keep = np.isfinite(real).all(axis=(1, 2, 3)) & np.isfinite(generated).all(axis=(1, 2, 3))
    if keep.sum() < 2:
        raise ValueError("fit_sensor_mtf: fewer than 2 patches without nodata")
    frequency, log_real = radial_log_power(real[keep])
    _, log_generated = radial_log_power(generated[keep])
    gain = np.clip(np.exp(0.5 * (log_real - log_generated)), *GAIN_RANGE)
    gain[:, 0] = 1.0  # the patch mean is kept
    return {
        "frequency": [round(float(f), 6) for f in frequency],
        "gain": {band: [round(float(g), 4) for g in gain[b]] for b, band in enumerate(bands)},
        "patches": int(keep.sum()),
        "method": "sqrt(real / generated radial power), geometric mean over patches, clipped to [1/3, 3]",
    }


def apply_sensor_mtf(values: np.ndarray, spec: dict[str, Any] | None, bands: list[str]) -> np.ndarray:
    """Generated reflectance (N, bands, H, W) filtered by the card's gains (reflect-padded by half the patch, so
    the filter sees no wrap-around); without a spec, the values unchanged."""
    if not spec:
        return values
    height, width = values.shape[-2:]
    pad_y, pad_x = height // 2, width // 2
    padded = np.pad(np.asarray(values, np.float64), ((0, 0), (0, 0), (pad_y, pad_y), (pad_x, pad_x)), "reflect")
    radius = _radius(*padded.shape[-2:])
    frequency = np.asarray(spec["frequency"])
    out = np.empty(values.shape, np.float64)
    for b, band in enumerate(bands):
        gain = np.interp(radius, frequency, np.asarray(spec["gain"][band]))
        filtered = np.real(np.fft.ifft2(np.fft.fft2(padded[:, b]) * gain))
        out[:, b] = filtered[:, pad_y : pad_y + height, pad_x : pad_x + width]
    return out.astype(values.dtype)
