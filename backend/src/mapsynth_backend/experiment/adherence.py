"""Map adherence for `evaluate`: does the generated image show what the map says? A segmenter trained on real
pairs (written by the augmentation experiment) predicts classes on the synthetic image; mIoU and per-class F1
against the conditioning map, with the same score on the real image of the same grid as the ceiling (the
FCN-score idea of pix2pix)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import segmenter
from .data import IGNORE, targets
from .links import UserError, remap_map


def _score(model, card: dict[str, Any], values: np.ndarray, names: list[str], target: np.ndarray) -> dict[str, Any]:
    missing = [b for b in card["bands"] if b not in names]
    if missing:
        raise UserError(f"SEGMENTER: it reads bands {', '.join(card['bands'])}; the raster lacks {', '.join(missing)}")
    image = np.stack([values[names.index(b)] for b in card["bands"]])
    valid = np.isfinite(image).all(axis=0)
    norm = card["normalisation"]
    predicted = segmenter.predict_large(model, segmenter.normalise(image, norm["mean"], norm["std"]))
    target = np.where(valid, target, IGNORE).astype(np.uint8)
    classes = [c["name"] for c in card["classes"]]
    return segmenter.scores(segmenter.confusion(predicted, target, len(classes)), classes)


def map_adherence(
    segmenter_dir: str, map_codes: np.ndarray, synthetic: tuple[np.ndarray, list[str]], real=None
) -> dict[str, Any]:
    """Scores of the synthetic image (and of the real one, the ceiling) against the map, given as the
    0xRRGGBB code per pixel on the synthetic grid (evaluate.map_classes)."""
    model, card = segmenter.load(segmenter_dir)
    rgb = np.stack([(map_codes >> 16) & 255, (map_codes >> 8) & 255, map_codes & 255]).astype(np.uint8)
    classes = [(c["name"], tuple(c["rgb"])) for c in card["classes"]]
    target = targets(remap_map(rgb, card.get("map_remap")), classes)
    if (target == IGNORE).all():
        raise UserError("SEGMENTER: the map shows none of the segmenter's classes; is it the map of this image?")
    result = {"segmenter": segmenter_dir, "synthetic": _score(model, card, *synthetic, target)}
    if real is not None:
        result["real_ceiling"] = _score(model, card, *real, target)
    return result


def adherence_section(report, result: dict[str, Any]) -> None:
    """The report section: mIoU and per-class F1, synthetic against the real ceiling."""
    report.text(
        "A segmenter trained on real pairs predicts the map classes from the image; the scores compare its"
        " prediction with the map. The real image of the same grid gives the ceiling: a synthetic image that"
        " follows its map as well as reality does scores the same."
    )
    synthetic, real = result["synthetic"], result.get("real_ceiling")
    rows = [["mIoU", synthetic["miou"], real["miou"] if real else "n/a"]]
    for name, entry in synthetic["per_class"].items():
        if entry["pixels"]:
            rows.append([f"F1 {name}", entry["f1"], real["per_class"][name]["f1"] if real else "n/a"])
    report.table(["score", "synthetic", "real (ceiling)"], rows)
