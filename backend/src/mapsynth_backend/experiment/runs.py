"""The arms of the experiment, one training run each, and their summary over seeds.

Arms, for every real fraction f and seed:
- ``real``: the real pairs of the fraction's contiguous block;
- ``real+same_maps``: those plus K synthetic images from the same maps;
- ``real+unpaired_maps``: those plus K synthetic images from the maps of the rest of the training split, whose
  imagery is withheld (maps everywhere, imagery in a few places; none at f = 1, so that arm is skipped there);
- ``synthetic_only``: the K synthetic images of the block's maps and no real image.
Every arm trains the same number of steps from the same initial weights for a given seed; test pairs never enter
any arm (``train_patches`` of each run record what it saw).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ARMS = ("real", "real+same_maps", "real+unpaired_maps", "synthetic_only")
SOURCES = ("same_maps", "unpaired_maps")


@dataclass(frozen=True)
class Run:
    fraction: float
    arm: str
    seed: int

    @property
    def key(self) -> str:
        return f"f{self.fraction:g}_{self.arm.replace('+', '_')}_s{self.seed}"

    @property
    def synthetic(self) -> str:
        """The synthetic source of the arm as results.json names it."""
        return {"real": "none", "synthetic_only": "same_maps (no real images)"}.get(self.arm, self.arm[5:])


def plan(fractions: list[float], sources: list[str], seeds: int, unpaired_left: dict[float, int]) -> list[Run]:
    """Every run, seed-major so that a partial experiment already has every arm at seed 0."""
    arms = ["real", *(f"real+{s}" for s in sources), *(["synthetic_only"] if "same_maps" in sources else [])]
    return [
        Run(fraction, arm, seed)
        for seed in range(seeds)
        for fraction in fractions
        for arm in arms
        if not (arm == "real+unpaired_maps" and unpaired_left[fraction] == 0)
    ]


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarise(results: list[dict[str, Any]], class_names: list[str]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds per (arm, fraction), overall and per class."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["arm"], result["real_fraction"]), []).append(result)
    summary = []
    for arm in ARMS:
        for fraction in sorted({f for a, f in groups if a == arm}):
            runs = groups[(arm, fraction)]
            miou, miou_std = _mean_std([r["miou"] for r in runs])
            per_class = {}
            for name in class_names:
                iou, iou_std = _mean_std([r["per_class"][name]["iou"] for r in runs])
                f1, f1_std = _mean_std([r["per_class"][name]["f1"] for r in runs])
                per_class[name] = {"iou": iou, "iou_std": iou_std, "f1": f1, "f1_std": f1_std}
            summary.append(
                {
                    "arm": arm,
                    "real_fraction": fraction,
                    "synthetic": runs[0]["synthetic"],
                    "real_images": runs[0]["real_images"],
                    "synthetic_images": runs[0]["synthetic_images"],
                    "seeds": sorted(r["seed"] for r in runs),
                    "miou": miou,
                    "miou_std": miou_std,
                    "per_class": per_class,
                }
            )
    return summary
