"""The realism block of the embedded models' cards (held_out_evaluation.realism): measure_realism.py --write stores
its row for each model sampled with the card's own settings, so a user reads in the card how easily a classifier
tells the model's images from real, against the targets, without opening BENCHMARKS."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def card_steps(folder: Path) -> int:
    from mapsynth_backend.generate.command import default_steps

    return default_steps({"steps": 0}, json.loads((Path(folder) / "model_card.json").read_text()))


TARGETS = {
    "c2st_accuracy_max": 0.65,
    "gradient_ratio": [0.9, 1.15],
    "high_frequency_share_within": 0.20,
    "band_correlation_within": 0.03,
}


RUNS = ("repeats", "runs", "spread_sd")  # a C2ST averaged over classifier runs (c2st.py): how many, each, spread


def met_counts(entry: dict) -> dict:
    """Which targets a measured row (measure_realism's entry) meets: C2ST (bool) and how many bands / band pairs
    meet the gradient-ratio, HF-share and correlation targets. The sections' sentences count with this too."""
    test = entry.get("c2st") or {}
    low, high = TARGETS["gradient_ratio"]
    return {
        "c2st": test.get("accuracy") is not None and test["accuracy"] <= TARGETS["c2st_accuracy_max"],
        "gradient_ratio": sum(
            v["ratio"] is not None and low <= v["ratio"] <= high for v in entry["gradient_energy"].values()
        ),
        "high_frequency_share": sum(
            abs(v["synthetic"] - v["real"]) <= TARGETS["high_frequency_share_within"] * v["real"]
            for v in entry["high_frequency_share"].values()
        ),
        "band_correlation": sum(
            abs(v["synthetic"] - v["real"]) <= TARGETS["band_correlation_within"]
            for v in entry["band_correlation"].values()
        ),
    }


def card_realism(summary: dict, name: str) -> dict:
    """The realism block of a model card: this run's row for the model at its card's settings, with the targets
    and which of them it meets (a user reads the card, not BENCHMARKS)."""
    entry = summary["models"][name]
    test = entry.get("c2st") or {}
    grad = {b: v["ratio"] for b, v in entry["gradient_energy"].items()}
    share = {b: {"synthetic": v["synthetic"], "real": v["real"]} for b, v in entry["high_frequency_share"].items()}
    corr = {p: {"synthetic": v["synthetic"], "real": v["real"]} for p, v in entry["band_correlation"].items()}
    met = met_counts(entry)
    return {
        "what": "can a classifier tell this model's images from real Sentinel-2? Held-out patches of the demo "
        "dataset, generated once with the card's settings, cut into 32 px tiles (evaluate's Realism measures; "
        "docs/BENCHMARKS.md, 'Realism: what a discriminator sees')",
        "measured_by": "make bench-realism (scripts/measure_realism.py --write)",
        "date": time.strftime("%Y-%m-%d"),
        "split": summary["splits"],
        "patches": summary["patches"],
        "tiles_per_side": summary["tiles"]["real"],
        "settings": {k: entry["settings"][k] for k in ("steps", "sampler", "guidance", "refiner")},
        "c2st": {k: test.get(k) for k in ("accuracy", "interval_95", "shuffled_control_accuracy", *RUNS)},
        "c2st_detail": {k: (entry.get("c2st_detail") or {}).get(k) for k in ("accuracy", "interval_95", *RUNS)},
        "gradient_energy_ratio": grad,
        "high_frequency_share": share,
        "band_correlation": corr,
        "targets": TARGETS,
        "targets_met": {
            **met,
            "of": {"gradient_ratio": len(grad), "high_frequency_share": len(share), "band_correlation": len(corr)},
        },
        "real_reference": "real tiles score C2ST 50 %, gradient ratio 1 and the 'real' values",
        "held_out": "the model was trained on the guarded split: no training pixel lies in these patches (the "
        "dataset card's shared_pixels is 0)",
    }


def class_spectra(real: np.ndarray, synthetic: np.ndarray, maps: np.ndarray) -> dict:
    """Median NDVI per map class (classes with at least 1,000 px), real and synthetic, on the same patches."""
    from mapsynth_backend.evaluate.spectra import class_masks, class_ndvi
    from mapsynth_backend.prepare.landcover import palette

    masks = class_masks(maps, palette())
    bands = ["B02", "B03", "B04", "B08"]
    return {
        "min_pixels": 1000,
        "real": class_ndvi(real, masks, bands, 1000),
        "synthetic": class_ndvi(synthetic, masks, bands, 1000),
    }


def write_card(folder: Path, summary: dict, name: str, ndvi: dict) -> None:
    """Store card_realism() and the per-class NDVI of the same images in the model card's held_out_evaluation
    (created when the card has none: a distilled student's)."""
    path = Path(folder) / "model_card.json"
    card = json.loads(path.read_text())
    block = card_realism(summary, name)
    block["per_class_ndvi_median"] = ndvi
    card.setdefault("held_out_evaluation", {})["realism"] = block
    path.write_text(json.dumps(card, indent=2, allow_nan=False) + "\n")
