"""Per-band data scaling of a pixel model's diffusion space (train-model DATA_SCALING), why the visible bands matter.

Every band is mapped linearly from its clip range to [-1, 1]; the dark visible bands then spread less than half as
much as NIR (the demo scene's training split: B02 standard deviation 0.16 in model units, B03 0.13, B04 0.18, B08
0.35), so at every noise level their signal-to-noise ratio is 8-16 times lower than the schedule assumes for data
of spread 0.5 (NIR's 2 times): their structure is settled only in the last few sampling steps. ``std`` diffuses
each band as ``(x - mean) * 0.5 / std`` (the training split's mean and standard deviation in model units; 0.5 is
EDM's sigma_data), as latent diffusion scales its latents to unit spread; everything outside the diffusion (maps,
[-1, 1] outputs, the card's class spectra) is unchanged. Absent from a card = no scaling.

``whiten`` (an experiment: make bench-realism-whiten) diffuses ``W (x - mean)`` with ``W = 0.5 C^(-1/2)``, C the
training split's band covariance in model units (ZCA whitening: each channel stays closest to its band). ``std``
scales each band alone, so the network's errors, about alike in every channel, come back independent per band,
while the real bands move together (B02-B04 correlation 0.94 within a tile): the generated bands are decorrelated.
Whitened, the same errors come back with the data's own band covariance.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..runtime.protocol import UserError

DATA_SCALINGS = ("none", "std", "whiten")
SPREAD = 0.5  # the spread each band is scaled to (EDM's sigma_data)


def measure_band_scaling(
    targets: Iterable[tuple[np.ndarray, np.ndarray]], bands: list[str], method: str = "std"
) -> dict[str, Any]:
    """The card's ``band_scaling`` from (target (bands, H, W) in [-1, 1], valid (H, W)) pairs: the centre (mean)
    and, per band (``std``) or for the bands together (``whiten``, a matrix), the scale that gives the valid pixels
    a spread of SPREAD."""
    total, products, count = np.zeros(len(bands)), np.zeros((len(bands), len(bands))), 0
    for target, valid in targets:
        pixels = target[:, valid.astype(bool)].astype(np.float64)
        total += pixels.sum(axis=1)
        products += pixels @ pixels.T
        count += pixels.shape[1]
    if count == 0:
        raise UserError("DATA_SCALING: the training split has no valid pixel")
    mean = total / count
    covariance = products / count - np.outer(mean, mean)
    std = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    if np.any(std < 1e-6):
        flat = [b for b, s in zip(bands, std, strict=True) if s < 1e-6]
        raise UserError(f"DATA_SCALING: band(s) {', '.join(flat)} have one value in the training split; use none")
    card = {"bands": list(bands), "center": [round(float(m), 6) for m in mean]}
    if method == "whiten":
        values, vectors = np.linalg.eigh(covariance)
        if values.min() < 1e-9 * values.max():
            raise UserError("DATA_SCALING: the bands are linearly dependent in the training split; use std")
        matrix = SPREAD * (vectors / np.sqrt(values)) @ vectors.T
        return card | {"matrix": [[round(float(v), 6) for v in row] for row in matrix], "method": "whiten"}
    return card | {"scale": [round(float(SPREAD / s), 6) for s in std], "method": "std"}


def linear_part(scaling: dict[str, Any]) -> np.ndarray:
    """The (bands, bands) matrix that to_diffusion applies after subtracting the centre."""
    if scaling.get("method") == "whiten":
        return np.asarray(scaling["matrix"], np.float64)
    return np.diag(np.asarray(scaling["scale"], np.float64))


def _per_band(values: list[float], like):
    """One value per band, shaped to broadcast over (B, bands, H, W) or (bands, H, W) like ``like``."""
    import torch

    shape = (1, -1) + (1,) * (like.ndim - 2) if like.ndim == 4 else (-1,) + (1,) * (like.ndim - 1)
    return torch.tensor(values, dtype=like.dtype, device=like.device).reshape(shape)


def _mix(matrix: np.ndarray, values):
    """``matrix`` applied to the band axis of (B, bands, H, W) or (bands, H, W) values."""
    import torch

    weights = torch.tensor(matrix, dtype=values.dtype, device=values.device)
    return (
        torch.einsum("ij,bj...->bi...", weights, values)
        if values.ndim == 4
        else torch.einsum("ij,j...->i...", weights, values)
    )


def to_diffusion(card: dict[str, Any], values):
    """Model units ([-1, 1] per band; (B, bands, H, W) or (bands, H, W)) -> the space the model diffuses in."""
    scaling = card.get("band_scaling")
    if not scaling:
        return values
    centred = values - _per_band(scaling["center"], values)
    if scaling.get("method") == "whiten":
        return _mix(linear_part(scaling), centred)
    return centred * _per_band(scaling["scale"], values)


def from_diffusion(card: dict[str, Any], values):
    """The inverse of to_diffusion."""
    scaling = card.get("band_scaling")
    if not scaling:
        return values
    if scaling.get("method") == "whiten":
        return _mix(np.linalg.inv(linear_part(scaling)), values) + _per_band(scaling["center"], values)
    return values / _per_band(scaling["scale"], values) + _per_band(scaling["center"], values)
