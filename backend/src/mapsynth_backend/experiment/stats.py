"""Scores on independent polygon labels and their uncertainty.

Each labelled polygon is single-class, so a run's result on it is one row of a confusion matrix: how many of its
pixels the segmenter put in each class. Per-class recall pools the pixels of the polygons of a class; macro recall
is the mean over the label classes. Pixels of one polygon are not independent samples, so intervals come from a
cluster bootstrap that resamples whole polygons (within each class, so every class stays present), and a
comparison of two arms resamples the paired seeds as well. Holm's step-down method corrects the secondary
comparisons for their number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..runtime import jsonsafe


def recall_table(counts: np.ndarray, label_class: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(correct pixels, all pixels) per polygon: ``counts`` (polygons, segmenter classes), ``label_class`` the
    label class index of each polygon, ``correct`` (label classes, segmenter classes) True where a prediction
    counts as that label class."""
    hits = (counts * correct[label_class]).sum(axis=1)
    return hits.astype(np.float64), counts.sum(axis=1).astype(np.float64)


def macro_recall(hits: np.ndarray, totals: np.ndarray, label_class: np.ndarray, n_labels: int) -> tuple[float, list]:
    """(macro recall, per-class recall or None for a class without pixels), pixels pooled within a class."""
    per_class: list[float | None] = []
    for index in range(n_labels):
        mask = label_class == index
        total = totals[mask].sum()
        per_class.append(float(hits[mask].sum() / total) if total > 0 else None)
    present = [v for v in per_class if v is not None]
    return (float(np.mean(present)) if present else math.nan), per_class


def _class_resamples(label_class: np.ndarray, n_labels: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, polygons) multiplicity of each polygon in each bootstrap sample, stratified by class."""
    weights = np.zeros((draws, len(label_class)), np.float64)
    for index in range(n_labels):
        members = np.flatnonzero(label_class == index)
        if len(members) == 0:
            continue
        picks = rng.integers(0, len(members), (draws, len(members)))
        for column in range(len(members)):
            np.add.at(weights, (np.arange(draws), members[picks[:, column]]), 1.0)
    return weights


def _macro_weighted(hits: np.ndarray, totals: np.ndarray, weights: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Macro recall for every weighting row: hits, totals (..., polygons); weights (draws, polygons)."""
    class_hits = np.einsum("...p,dp,pc->...dc", hits, weights, onehot)
    class_totals = np.einsum("...p,dp,pc->...dc", totals, weights, onehot)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = class_hits / class_totals
    return np.nanmean(recall, axis=-1)


def bootstrap_interval(
    hits: np.ndarray, totals: np.ndarray, label_class: np.ndarray, n_labels: int, draws: int, seed: int
) -> tuple[float, float]:
    """95 % interval of the seed-mean macro recall: ``hits``/``totals`` (seeds, polygons); polygons resampled."""
    rng = np.random.default_rng(seed)
    weights = _class_resamples(label_class, n_labels, draws, rng)
    onehot = np.eye(n_labels)[label_class]
    values = _macro_weighted(np.atleast_2d(hits), np.atleast_2d(totals), weights, onehot).mean(axis=0)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def paired_comparison(
    a: tuple[np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray],
    label_class: np.ndarray,
    n_labels: int,
    draws: int,
    seed: int,
) -> dict[str, Any]:
    """Arm A minus arm B in macro recall, both (hits, totals) of shape (seeds, polygons) with the same seeds in
    the same rows. The bootstrap resamples seeds (pairs kept together) and polygons (by class); the two-sided p
    is twice the smaller tail of the resampled differences around 0."""
    rng = np.random.default_rng(seed)
    onehot = np.eye(n_labels)[label_class]
    per_seed_a = _macro_weighted(a[0], a[1], np.ones((1, len(label_class))), onehot)[:, 0]
    per_seed_b = _macro_weighted(b[0], b[1], np.ones((1, len(label_class))), onehot)[:, 0]
    observed = float(np.mean(per_seed_a - per_seed_b))
    weights = _class_resamples(label_class, n_labels, draws, rng)
    diff = _macro_weighted(a[0], a[1], weights, onehot) - _macro_weighted(b[0], b[1], weights, onehot)  # (seeds, d)
    seeds = len(per_seed_a)
    seed_picks = rng.integers(0, seeds, (draws, seeds))
    resampled = diff[seed_picks, np.arange(draws)[:, None]].mean(axis=1)
    low, high = np.percentile(resampled, [2.5, 97.5])
    tail = min((resampled <= 0).sum(), (resampled >= 0).sum())
    p_value = min(1.0, 2 * (tail + 1) / (draws + 1))
    return {
        "difference": observed,
        "interval": [float(low), float(high)],
        "p": float(p_value),
        "per_seed_difference": [float(v) for v in per_seed_a - per_seed_b],
        "seeds_a_better": int((per_seed_a > per_seed_b).sum()),
        "seeds": seeds,
    }


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values in the given order: the i-th smallest of m is multiplied by (m - i), made
    monotone, capped at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


strict = jsonsafe.strict  # JSON-safe copy (NaN -> None), shared with every JSON writer
