"""Reflectance encodings and the exact, invertible map between reflectance and a model's value range.

Patch files store surface reflectance as uint16 with the Sentinel-2 L2A (baseline >= 04.00) convention:
``reflectance = DN / 10000 - 0.1``, DN 0 = nodata. Models see reflectance clipped to per-band ranges and
mapped linearly to [0, 1] (8-bit images: x 255, rounded) or [-1, 1]; :meth:`ClipRange.inverse` undoes it
exactly (the prior art's per-image min-max stretch on the way back was not an inverse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .runtime.protocol import UserError

ENCODING = {
    "dtype": "uint16",
    "scale": 1e-4,
    "offset": -0.1,
    "nodata": 0,
    "formula": "reflectance = DN * 0.0001 - 0.1; DN 0 = nodata",
}
_DN_MAX = np.iinfo(np.uint16).max


def encode_reflectance(reflectance: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Reflectance (float) -> uint16 DN, rounded; invalid pixels -> 0; valid pixels never collide with 0."""
    dn = np.rint((reflectance - ENCODING["offset"]) / ENCODING["scale"])
    dn = np.clip(dn, 1, _DN_MAX)
    return np.where(valid, dn, ENCODING["nodata"]).astype(np.uint16)


def set_band_encoding(dst, names: list[str] | tuple[str, ...]) -> None:
    """Write the encoding where every reader looks: GDAL band scale/offset (QGIS Identify and raster
    calculator, rasterio ``scales``/``offsets``, ``gdal_translate -unscale``, xarray ``mask_and_scale``), nodata
    and band descriptions. ``dst`` is a rasterio dataset open for writing (``w`` or ``r+``)."""
    dst.nodata = ENCODING["nodata"]
    dst.scales = (ENCODING["scale"],) * dst.count
    dst.offsets = (ENCODING["offset"],) * dst.count
    for index, name in enumerate(names, start=1):
        dst.set_band_description(index, name or f"band {index}")


SCALE_TAGS = ("scale", "reflectance_scale", "scale_factor")
OFFSET_TAGS = ("offset", "reflectance_offset", "add_offset")
_TIMES = re.compile(r"(?:^|\s)(?:x|\u00d7|\*)\s*(\d+(?:\.\d+)?)(?:\s|\)|$)", re.IGNORECASE)


def reflectance_encoding(src, label: str) -> tuple[list[float], list[float]]:
    """Per band (scale, offset) with reflectance = DN * scale + offset, read from the file, never guessed from
    its values: GDAL band scale/offset first; else the tags, case-insensitive: MapSynth's ``encoding``, or
    ``scale`` / ``reflectance_scale`` / ``scale_factor`` (a number, or a text such as "reflectance x 1000"
    meaning DN = reflectance x 1000) with an optional numeric ``offset`` / ``reflectance_offset`` /
    ``add_offset``. Anything else is a UserError asking for the encoding."""
    scales, offsets = list(src.scales), list(src.offsets)
    if any(s not in (None, 1.0) for s in scales) or any(o not in (None, 0.0) for o in offsets):
        return [1.0 if s is None else float(s) for s in scales], [0.0 if o is None else float(o) for o in offsets]
    tags = {key.lower(): value.strip() for key, value in src.tags().items()}
    count = src.count
    if tags.get("encoding") == ENCODING["formula"]:
        return [ENCODING["scale"]] * count, [ENCODING["offset"]] * count
    scale_key = next((key for key in SCALE_TAGS if key in tags), None)
    offset_key = next((key for key in OFFSET_TAGS if key in tags), None)
    ask = (
        f"set its GDAL band scale/offset (e.g. gdal_edit.py -scale 0.001 -offset 0 {src.name} for DN = reflectance"
        " x 1000) or a SCALE tag; MapSynth never guesses it from the values"
    )
    if scale_key is None:
        raise UserError(f"{label}: {src.name} does not say how its values encode reflectance: {ask}")
    try:
        scale = float(tags[scale_key])
    except ValueError:
        times = _TIMES.search(tags[scale_key])
        if not times or float(times.group(1)) == 0:
            raise UserError(
                f"{label}: the {scale_key.upper()} tag of {src.name} ({tags[scale_key]!r}) is neither a number nor"
                f" 'reflectance x N': {ask}"
            ) from None
        scale = 1.0 / float(times.group(1))
    try:
        offset = float(tags[offset_key]) if offset_key else 0.0
    except ValueError:
        raise UserError(f"{label}: the {offset_key.upper()} tag of {src.name} is not a number: {ask}") from None
    return [scale] * count, [offset] * count


def decode_reflectance(dn: np.ndarray) -> np.ndarray:
    """uint16 DN -> float32 reflectance with NaN for nodata."""
    reflectance = dn.astype(np.float32) * np.float32(ENCODING["scale"]) + np.float32(ENCODING["offset"])
    return np.where(dn == ENCODING["nodata"], np.float32(np.nan), reflectance)


@dataclass(frozen=True)
class ClipRange:
    """Per-band reflectance range [low, high] mapped onto [0, 1]."""

    low: np.ndarray
    high: np.ndarray

    def __post_init__(self) -> None:
        if np.any(np.asarray(self.high) <= np.asarray(self.low)):
            raise ValueError("each band's high must exceed its low")

    def _shape(self, values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        shape = [1] * values.ndim
        shape[axis] = -1
        return np.asarray(self.low, np.float64).reshape(shape), np.asarray(self.high, np.float64).reshape(shape)

    def forward(self, reflectance: np.ndarray, axis: int = 0) -> tuple[np.ndarray, int]:
        """Reflectance -> [0, 1]; also returns how many finite values had to be clipped."""
        low, high = self._shape(reflectance, axis)
        finite = np.isfinite(reflectance)
        clipped = int(np.count_nonzero(finite & ((reflectance < low) | (reflectance > high))))
        return (np.clip(reflectance, low, high) - low) / (high - low), clipped

    def inverse(self, unit: np.ndarray, axis: int = 0) -> np.ndarray:
        low, high = self._shape(unit, axis)
        return low + np.asarray(unit, np.float64) * (high - low)

    def to_uint8(self, reflectance: np.ndarray, axis: int = 0) -> tuple[np.ndarray, int]:
        unit, clipped = self.forward(reflectance, axis)
        return np.rint(np.nan_to_num(unit) * 255).astype(np.uint8), clipped

    def from_uint8(self, values: np.ndarray, axis: int = 0) -> np.ndarray:
        return self.inverse(values.astype(np.float64) / 255, axis)

    def step(self, levels: int = 255) -> np.ndarray:
        """Reflectance per quantisation step; round trips are exact to half of it."""
        return (np.asarray(self.high) - np.asarray(self.low)) / levels

    def to_json(self, bands: tuple[str, ...]) -> dict:
        return {band: [float(lo), float(hi)] for band, lo, hi in zip(bands, self.low, self.high, strict=True)}


def percentile_range(samples: np.ndarray, low_pct: float = 1.5, high_pct: float = 98.5) -> ClipRange:
    """Per-band percentiles of valid (finite) reflectance; samples shaped (bands, n)."""
    low = np.array([np.nanpercentile(band, low_pct) for band in samples])
    high = np.array([np.nanpercentile(band, high_pct) for band in samples])
    return ClipRange(low, np.maximum(high, low + 1e-4))
