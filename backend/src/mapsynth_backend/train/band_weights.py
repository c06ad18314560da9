"""Per-band loss weights for a pixel model: why the visible bands come out too smooth.

With every band mapped linearly from its clip range to [-1, 1], the dark visible bands (B02 median 0.04 in a
0-0.25 range) vary pixel to pixel 2-3 times less than NIR in the model's units, so a plain mean squared error
spends most of the model on NIR's detail; the embedded models' visible bands lack about half of real's
mid-frequency power while NIR matches (docs/BENCHMARKS.md, realism). ``gradient`` weights each band's error by
the inverse of its pixel-to-pixel variation in the training split, so every band's detail counts alike.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..runtime.protocol import UserError

BAND_WEIGHTINGS = ("none", "gradient")


def gradient_energy(targets: Iterable[tuple[np.ndarray, np.ndarray]], bands: int) -> np.ndarray:
    """Mean squared difference of horizontally and vertically adjacent pixels per band, over pairs of valid
    pixels, of (target (bands, H, W), valid (H, W)) pairs in the model's units."""
    total, count = np.zeros(bands), 0
    for target, valid in targets:
        valid = valid.astype(bool)
        for pair, step in (
            (valid[1:, :] & valid[:-1, :], np.diff(target, axis=1)),
            (valid[:, 1:] & valid[:, :-1], np.diff(target, axis=2)),
        ):
            step = step[:, pair]
            total += (step.astype(np.float64) ** 2).sum(axis=1)
            count += int(pair.sum())
    if count == 0:
        raise UserError("BAND_WEIGHTS: the training split has no two adjacent valid pixels")
    return total / count


def parse_band_weights(spec: str, bands: list[str]) -> dict[str, float] | None:
    """``none`` / ``gradient`` (None: computed from the data) or explicit ``B02:1.5,B08:0.5`` (others 1)."""
    spec = (spec or "none").strip()
    if spec in BAND_WEIGHTINGS:
        return None
    weights = dict.fromkeys(bands, 1.0)
    for part in spec.split(","):
        name, _, value = part.partition(":")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if name.strip() not in weights or weight <= 0:
            raise UserError(
                f"BAND_WEIGHTS: {part!r} is not BAND:WEIGHT with a band of {', '.join(bands)} and a weight > 0;"
                f" or one of {', '.join(BAND_WEIGHTINGS)}"
            )
        weights[name.strip()] = weight
    return weights


def band_weights(spec: str, bands: list[str], targets: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict | None:
    """The card's ``band_loss_weights`` ({band: weight}, mean 1) for SPEC, or None for plain MSE."""
    if (spec or "none") == "none":
        return None
    weights = parse_band_weights(spec, bands)
    if weights is None:
        inverse = 1 / np.maximum(gradient_energy(targets, len(bands)), 1e-12)
        weights = dict(zip(bands, inverse.tolist(), strict=True))
    mean = float(np.mean(list(weights.values())))
    return {band: round(value / mean, 6) for band, value in weights.items()}
