"""Per-class map guidance (GUIDANCE 0 = auto, pixel models): for `inpaint-scenario` under edits, and for
`generate` over the whole map when the model card has ``guidance_by_class``.

Measured on the real scene (docs/BENCHMARKS.md): without map guidance a built-up or bare edit matches the real
class, but a lake on fields is only half water (the field shows through); at guidance 1.5 the lake is water but
built-up turns water-like. So auto guidance is a per-pixel weight map: the class's weight under an edit of that
class and its MARGIN, 1.0 (none) elsewhere, and the pixel model computes ``free + w(x) * (mapped - free)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..runtime.protocol import UserError

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


def class_weight_map(maps, by_class: dict[str, float], margin: int, base: float):
    """Generation's per-class guidance: weight (B, 1, H, W) from map patches ``maps`` (B, 3, H, W) in [-1, 1], in
    the model's colours (after ``map_remap``): ``by_class[c]`` on pixels of class ``c`` and within ``margin`` px
    of them (shores are coloured by both sides), ``base`` elsewhere. Pure torch, so distillation folds in exactly
    what generation does."""
    import torch
    import torch.nn.functional as F

    from ..prepare.landcover import palette

    colours = palette()
    weights = torch.full_like(maps[:, :1], float(base))
    for name, value in sorted(by_class.items(), key=lambda item: abs(item[1] - base)):
        colour = torch.tensor(colours[name], dtype=maps.dtype, device=maps.device)[None, :, None, None]
        zone = ((maps - (colour / 127.5 - 1)).abs() < 0.5 / 127.5).all(dim=1, keepdim=True).to(maps.dtype)
        if margin > 0:
            zone = F.max_pool2d(zone, 2 * margin + 1, stride=1, padding=margin)
        weights = torch.where(zone > 0, torch.full_like(weights, float(value)), weights)
    return weights


def generation_weights(model, requested: float, maps):
    """GUIDANCE 0 with a pixel model whose card has ``guidance_by_class``: the weight map for ``maps``
    (B, 3, H, W); else None (one guidance value everywhere: an explicit GUIDANCE, or a card without the table)."""
    table = class_table(model)
    if requested or table is None:
        return None
    from ..prepare.landcover import palette

    unknown = sorted(set(table) - set(palette()))
    if unknown:
        raise UserError(f"MODEL: its card's guidance_by_class names {unknown}, which are no semantic-palette classes")
    margin = int(model.card.get("guidance_by_class_margin", 0))
    return class_weight_map(maps, table, margin, model.guidance_scale(0.0))


def class_table(model) -> dict[str, float] | None:
    """The per-class guidance generation applies at GUIDANCE 0 (recorded in the output's manifest), else None."""
    card = model.card
    if not card.get("guidance_by_class") or not card.get("map_dropout") or card.get("family") != "pixel":
        return None
    return {str(k): float(v) for k, v in card["guidance_by_class"].items()}
