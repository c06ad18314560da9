"""Per-class map guidance for `inpaint-scenario` (GUIDANCE 0 = auto, pixel models).

Measured on the real scene (docs/BENCHMARKS.md): without map guidance a built-up or bare edit matches the real
class, but a lake on fields is only half water (the field shows through); at guidance 1.5 the lake is water but
built-up turns water-like. So auto guidance is a per-pixel weight map: the class's weight under an edit of that
class and its MARGIN, 1.0 (none) elsewhere, and the pixel model computes ``free + w(x) * (mapped - free)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_GUIDANCE_BY_CLASS = {"water": 1.5}  # a model card's ``inpaint_guidance_by_class`` replaces it


def guidance_by_class(card: dict[str, Any]) -> dict[str, float]:
    """The card's ``inpaint_guidance_by_class`` (class name -> weight), else the measured default."""
    table = card.get("inpaint_guidance_by_class")
    return {str(k): float(v) for k, v in (DEFAULT_GUIDANCE_BY_CLASS if table is None else table).items()}


def guidance_map(
    edits: list[tuple[Any, str]], index: np.ndarray, margin: int, by_class: dict[str, float], base: float = 1.0
) -> np.ndarray | None:
    """Weight per pixel (H, W) float32: ``by_class[c]`` on the pixels of edits of class ``c`` and those within
    ``margin`` px of them (the largest weight where zones meet), ``base`` elsewhere. None when every pixel would
    get ``base`` (the run is then plain uniform guidance)."""
    from scipy.ndimage import distance_transform_edt

    weights = np.full(index.shape, base, np.float32)
    for name, value in by_class.items():
        numbers = [n for n, (_, edit_class) in enumerate(edits) if edit_class == name]
        zone = np.isin(index, numbers) if numbers else np.zeros(index.shape, bool)
        if not zone.any() or value == base:
            continue
        if margin > 0:
            zone = distance_transform_edt(~zone) <= margin
        weights[zone] = np.maximum(weights[zone], value) if value > base else np.minimum(weights[zone], value)
    return None if (weights == base).all() else weights
