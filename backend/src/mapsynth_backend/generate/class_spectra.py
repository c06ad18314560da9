"""Class spectra held during sampling (model card ``class_spectra``): pixels that the map calls water get a spectrum
within the range real water has in the model's training data.

Why: the demo model learned water from the sea and a few large lakes (13,614 pixels in 9 of its 217 training
patches); on the small lakes and ponds of an OSM map it paints water-meadow blends (median NDVI +0.15 to +0.19 on
make demo's area, real inland water -0.1 to -0.5, docs/BENCHMARKS.md section water). Per-class map guidance moved
the shore but not the rest (+0.08 at weight 3). So the card stores, per class, the mean and covariance of the
real reflectance of the training pixels of that class and the Mahalanobis radius that holds ``coverage`` of them;
at every sampling step the model's clean-image estimate (x0) of each pixel of the class that lies outside that
ellipsoid is pulled back onto it along the line to the class mean (inside it, nothing changes), as diffusers'
dynamic thresholding clips x0, and the network's output is rewritten to match, so the next steps build the
texture around the held spectrum. Pixel models with v-prediction only (every MapSynth pixel model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.protocol import UserError

DEFAULT_COVERAGE = 0.95  # share of the training pixels of a class inside its ellipsoid
DN_STEP = 1e-4  # reflectance step of the patch files' encoding


def measure_class_spectra(dataset: Path, classes: tuple[str, ...], coverage: float = DEFAULT_COVERAGE) -> dict:
    """Per class: mean and covariance of real reflectance under the class in the TRAINING split's maps (never
    validation or test), clipped to the dataset's range as the model saw it, and the Mahalanobis radius holding
    ``coverage`` of those pixels."""
    import cv2
    import rasterio

    from ..prepare.landcover import palette
    from ..radiometry import decode_reflectance

    colours = palette()
    radiometry = json.loads((Path(dataset) / "radiometry.json").read_text())
    low, high = (np.array([radiometry["clip"][b][i] for b in radiometry["bands"]])[:, None, None] for i in (0, 1))
    root = Path(dataset) / "train"
    rows = [json.loads(line) for line in (root / "metadata.jsonl").read_text().splitlines() if line.strip()]
    pixels: dict[str, list[np.ndarray]] = {name: [] for name in classes}
    patches = dict.fromkeys(classes, 0)
    for row in rows:
        image = cv2.imread(str(root / row["conditioning_image"]), cv2.IMREAD_COLOR)
        if image is None:
            raise UserError(f"DATASET: cannot read {root / row['conditioning_image']}")
        rgb = image[:, :, ::-1]
        with rasterio.open(root / row["multispectral"]) as src:
            reflectance = np.clip(decode_reflectance(src.read()).astype(np.float64), low, high)  # NaN stays NaN
        valid = np.isfinite(reflectance).all(axis=0)
        for name in classes:
            mask = np.all(rgb == np.array(colours[name], np.uint8), axis=2) & valid
            if mask.any():
                pixels[name].append(reflectance[:, mask].T)
                patches[name] += 1
    table = {}
    for name in classes:
        if not pixels[name]:
            raise UserError(f"CLASSES: no training pixel of class '{name}' in {root}")
        values = np.concatenate(pixels[name])
        # + the DN step squared on the diagonal: a band clipped flat (one value) would leave it singular
        mean, covariance = values.mean(axis=0), np.cov(values.T) + np.eye(values.shape[1]) * DN_STEP**2
        diff = values - mean
        distance = np.sqrt(np.einsum("ij,jk,ik->i", diff, np.linalg.inv(covariance), diff))
        table[name] = {
            "mean": [round(float(v), 6) for v in mean],
            "covariance": [[float(f"{v:.6g}") for v in line] for line in covariance],
            "radius": round(float(np.quantile(distance, coverage)), 4),
            "coverage": coverage,
            "pixels": int(len(values)),
            "patches": patches[name],
            "split": "train",
        }
    return table


class SpectralHold:
    """The card's ``class_spectra`` in model units, applied to v-predictions at timestep ``t``."""

    def __init__(self, card: dict[str, Any], alphas_cumprod) -> None:
        import torch

        from ..models.band_scaling import linear_part
        from ..prepare.landcover import palette

        radiometry = card["radiometry"]
        low = np.array([radiometry["clip"][b][0] for b in card["bands"]], np.float64)
        high = np.array([radiometry["clip"][b][1] for b in card["bands"]], np.float64)
        scale = 2.0 / (high - low)  # model = scale * (reflectance - low) - 1
        scaling = card.get("band_scaling")  # then the diffusion's band scaling (models/band_scaling.py)
        center = np.asarray(scaling["center"], np.float64) if scaling else np.zeros(len(low))
        mixed = bool(scaling) and scaling.get("method") == "whiten"  # a matrix; otherwise one gain per band
        gain = linear_part(scaling) if mixed else (np.asarray(scaling["scale"], np.float64) if scaling else 1.0)
        colours = palette()
        self.classes = []
        for name, spec in card["class_spectra"].items():
            unit = scale * (np.asarray(spec["mean"], np.float64) - low) - 1 - center
            if mixed:
                mean, to_model = gain @ unit, gain * scale[None, :]
                covariance = to_model @ np.asarray(spec["covariance"], np.float64) @ to_model.T
            else:
                mean = gain * unit
                covariance = np.asarray(spec["covariance"], np.float64) * np.outer(gain * scale, gain * scale)
            colour = torch.tensor(colours[name], dtype=torch.float64) / 127.5 - 1
            self.classes.append(
                (
                    colour[None, :, None, None],
                    torch.from_numpy(mean)[None, :, None, None],
                    torch.from_numpy(np.linalg.inv(covariance)),
                    float(spec["radius"]),
                )
            )
        self.alphas = alphas_cumprod.double()

    def __call__(self, prediction, sample, maps, t):
        """``prediction`` (v) for ``sample`` (x_t) under ``maps`` (B, 3, H, W) in [-1, 1], rewritten so that
        x0 = sqrt(a) x_t - sqrt(1 - a) v lies in each mapped class's ellipsoid (x_t unchanged, so the noise
        estimate absorbs the change: v' = v - (x0' - x0) / sqrt(1 - a))."""
        import torch

        a = self.alphas[t.cpu().long() if torch.is_tensor(t) else int(t)].to(sample.device)
        a = a.reshape(-1, 1, 1, 1) if a.ndim else a
        v, x = prediction.double(), sample.double()
        x0 = a.sqrt() * x - (1 - a).sqrt() * v
        held = x0
        for colour, mean, inverse, radius in self.classes:
            zone = class_zone(maps, colour)
            if not bool(zone.any()):
                continue
            diff = held - mean.to(held.device)
            distance = torch.einsum("bihw,ij,bjhw->bhw", diff, inverse.to(held.device), diff).clamp(min=0).sqrt()
            shrink = (radius / distance.clamp(min=1e-12)).clamp(max=1.0)[:, None]
            held = torch.where(zone, mean.to(held.device) + diff * shrink, held)
        if held is x0:
            return prediction
        return (v - (held - x0) / (1 - a).sqrt()).to(prediction.dtype)


def class_zone(maps, colour):
    """(B, 1, H, W) bool: where ``maps`` (B, 3, H, W) in [-1, 1] shows ``colour`` ((1, 3, 1, 1) in [-1, 1])."""
    return ((maps.double() - colour.to(maps.device)).abs() < 0.5 / 127.5).all(dim=1, keepdim=True)


def held_zone(card: dict[str, Any], maps):
    """(B, 1, H, W) bool: where ``maps`` (B, 3, H, W) in [-1, 1] shows a class the card holds; None without any."""
    import torch

    from ..prepare.landcover import palette

    if not card.get("class_spectra"):
        return None
    colours = palette()
    zone = torch.zeros((maps.shape[0], 1, *maps.shape[2:]), dtype=torch.bool, device=maps.device)
    for name in card["class_spectra"]:
        zone |= class_zone(maps, torch.tensor(colours[name], dtype=torch.float64)[None, :, None, None] / 127.5 - 1)
    return zone


def spectral_hold(card: dict[str, Any], scheduler_factory) -> SpectralHold | None:
    """The hold for a model card (None without ``class_spectra``); ``scheduler_factory()`` gives its training
    scheduler (for alphas_cumprod)."""
    if not card.get("class_spectra"):
        return None
    if card.get("train_scheduler", {}).get("prediction_type") != "v_prediction":
        raise UserError("MODEL: class_spectra in the model card needs a v-prediction pixel model")
    return SpectralHold(card, scheduler_factory().alphas_cumprod)
