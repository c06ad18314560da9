"""Per-class map guidance (pixel models with a map-free branch): for `inpaint-scenario` under edits (GUIDANCE 0 =
auto), and for `generate` over the whole map (CLASS_GUIDANCE, e.g. ``water=1.75``; also folded into distilled
students by `train-model --distill-class-guidance`).

Measured on the real scene (docs/history/measurements-2026-11.md): without map guidance a built-up or bare edit
matches the real class, but a lake on fields is only half water (the field shows through); at guidance 1.5 the lake
is water but built-up turns water-like. So auto guidance is a per-pixel weight map: the class's weight under an edit
of that class and its MARGIN, 1.0 (none) elsewhere, and the pixel model computes ``free + w(x) * (mapped - free)``.
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


DEFAULT_CLASS_MARGIN = 2  # px around a class that share its weight (a shore belongs to both sides)


def parse_class_guidance(text: str, name: str = "CLASS_GUIDANCE") -> dict[str, float]:
    """'water=1.75, forest=1.2' -> {"water": 1.75, "forest": 1.2}; one clear error for anything else."""
    from ..prepare.landcover import palette

    table: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        try:
            weight = float(value) if sep else float("nan")
        except ValueError:
            weight = float("nan")
        if not weight >= 0:
            raise UserError(f"{name}: '{item}' is not class=weight (e.g. water=1.75, weight >= 0)")
        if key.strip() not in palette():
            raise UserError(f"{name}: '{key.strip()}' is no semantic-palette class (docs/SEMANTIC_STYLE.md keys)")
        table[key.strip()] = weight
    return table


def check_class_guidance(model, table: dict[str, float], name: str = "CLASS_GUIDANCE") -> None:
    """Per-class guidance needs a map-free branch: a pixel model trained with map dropout."""
    card = model.card
    if table and (card.get("family") != "pixel" or not card.get("map_dropout")):
        raise UserError(
            f"{name}: a {card.get('family')} model"
            + ("" if card.get("family") != "pixel" else " trained without map dropout (e.g. a few-step student)")
            + f" has no map-free branch to guide with; leave {name} empty"
        )


def generation_weights(model, table: dict[str, float], margin: int, base: float, maps):
    """The per-pixel guidance weight (B, 1, H, W) for map patches ``maps`` (B, 3, H, W): ``table``'s weights on
    their classes and ``margin`` px around, ``base`` elsewhere; None without a table."""
    if not table:
        return None
    check_class_guidance(model, table)
    return class_weight_map(maps, table, margin, base)
