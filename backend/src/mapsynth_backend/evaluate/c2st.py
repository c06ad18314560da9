"""Classifier two-sample test (C2ST): can a small CNN tell real tiles from synthetic ones? Cross-validated with
folds grouped (by patch, or by spatial block of a mosaic) so that neighbouring tiles never sit on both sides, and
run a second time with shuffled labels as a control. 50 % = indistinguishable; 100 % = always told apart.

One run's accuracy moves by several points with the classifier's seed alone (its folds, initial weights and
batches: a standard deviation of 3-5 points on the same images, docs/BENCHMARKS.md realism-sensor-mtf), so the test
is repeated (repeated cross-validation, ``repeats`` runs with their own seeds) and reports the mean, the spread of
the runs and an interval over patches that holds all runs."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

STEPS = 1000  # optimiser steps per fold: a fixed budget, whatever the number of tiles
BATCH = 32
LEARNING_RATE = 6e-3
BOOTSTRAP = 2000
REPEATS = 5  # evaluate's default: the standard deviation of the mean is about that of one run / sqrt(5)
REPEAT_SEED_STRIDE = 1000  # run k uses seed + 1000 k: its fold seeds (seed + fold) never meet another run's
WORKERS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _network(bands: int):
    """Three strided 3x3 convolutions and global average pooling: sees texture, noise and band mixing."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(bands, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 1),
    )


def group_folds(groups: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold index per tile; whole groups go to one fold, largest first to the fold with fewest tiles (shuffled
    first, so the seed decides ties)."""
    unique, counts = np.unique(groups, return_counts=True)
    order = rng.permutation(len(unique))
    order = order[np.argsort(-counts[order], kind="stable")]
    sizes, assigned = np.zeros(folds, np.int64), {}
    for k in order:
        fold = int(np.argmin(sizes))
        assigned[unique[k]] = fold
        sizes[fold] += counts[k]
    return np.array([assigned[g] for g in groups], np.int64)


def _augment(batch, generator):
    """A random flip and 90-degree rotation per batch: the task does not depend on orientation."""
    import torch

    k = int(torch.randint(0, 4, (1,), generator=generator))
    batch = torch.rot90(batch, k, dims=(2, 3))
    return torch.flip(batch, dims=(3,)) if bool(torch.randint(0, 2, (1,), generator=generator)) else batch


def _fit_predict(network, x_train, y_train, x_test, steps: int, seed: int) -> np.ndarray:
    """Train on one fold's training tiles (standardised per band with their own statistics) -> test predictions.
    Its own generator draws batches and augmentations: folds may train in parallel threads, deterministically."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-6
    train = torch.from_numpy(((x_train - mean) / std).astype(np.float32))
    test = torch.from_numpy(((x_test - mean) / std).astype(np.float32))
    labels = torch.from_numpy(y_train.astype(np.float32))
    optimiser = torch.optim.AdamW(network.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, LEARNING_RATE, total_steps=steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    network.train()
    for _ in range(steps):
        pick = torch.randint(0, len(train), (min(BATCH, len(train)),), generator=generator)
        loss = loss_fn(network(_augment(train[pick], generator)).squeeze(1), labels[pick])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    network.eval()
    with torch.no_grad():
        return (network(test).squeeze(1) > 0).numpy().astype(np.int64)


def _cross_validate(x, labelings: list[np.ndarray], fold_of, folds: int, steps: int, seed: int) -> list[np.ndarray]:
    """Out-of-fold predictions for each labelling (the real labels, the shuffled control): every tile is predicted
    by a network that never saw its group. Fits run single-threaded, WORKERS at a time."""
    import torch

    jobs = []
    for k, labels in enumerate(labelings):
        for fold in range(folds):
            test = fold_of == fold
            if test.any() and (~test).any():
                torch.manual_seed(seed + fold)  # initial weights drawn here, in order: the same whatever the threads
                jobs.append((k, test, labels, _network(x.shape[1]), seed + fold))

    def fit(job) -> np.ndarray:
        _, test, labels, network, fold_seed = job
        return _fit_predict(network, x[~test], labels[~test], x[test], steps, fold_seed)

    predicted = [np.zeros(len(labels), np.int64) for labels in labelings]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a network this small runs 10x slower on 2 threads per fit when cores are shared
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            for job, out in zip(jobs, pool.map(fit, jobs), strict=True):
                predicted[job[0]][job[1]] = out
    finally:
        torch.set_num_threads(threads)
    return predicted


def group_bootstrap(correct: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95 % percentile interval of the accuracy, resampling whole groups with replacement: tiles of one patch or
    block are not independent, so resampling tiles would give too narrow an interval."""
    unique, index = np.unique(groups, return_inverse=True)
    hits = np.bincount(index, weights=correct, minlength=len(unique))
    sizes = np.bincount(index, minlength=len(unique))
    draws = rng.integers(0, len(unique), (BOOTSTRAP, len(unique)))
    accuracy = hits[draws].sum(axis=1) / np.maximum(sizes[draws].sum(axis=1), 1)
    low, high = np.percentile(accuracy, [2.5, 97.5])
    return float(low), float(high)


def c2st(
    real_tiles: np.ndarray,
    synth_tiles: np.ndarray,
    groups: np.ndarray | tuple[np.ndarray, np.ndarray],
    folds: int = 5,
    seed: int = 0,
    steps: int = STEPS,
    control: bool = True,
    repeats: int = 1,
) -> dict[str, Any]:
    """Accuracy of a small CNN telling real (N, bands, H, W) from synthetic tiles, k-fold cross-validated with
    folds grouped by ``groups`` (one array for real and synthetic tiles together, an array per side, or one array
    shared when both sides have the same tiles' locations). The larger side is subsampled to the smaller one
    (balanced classes, so chance is 50 %). ``control``: the same run with shuffled labels, which should score
    about 50 %; a control far from 50 % means the test itself is biased.

    ``repeats`` > 1: the whole test run that many times (run k with seed ``seed + 1000 k``: other folds, weights and
    batches; run 0 is the single run's result), ``accuracy`` = their mean, ``runs`` = each run's accuracy,
    ``spread_sd`` = their standard deviation, and the interval resamples patches (groups) with every run's
    predictions of their tiles. The control runs once, with run 0."""
    if repeats < 1:
        raise ValueError(f"repeats: {repeats}; at least 1")
    runs = [
        _single(real_tiles, synth_tiles, groups, folds, seed + REPEAT_SEED_STRIDE * k, steps, control and k == 0)
        for k in range(repeats)
    ]
    first = runs[0]
    if first["accuracy"] is None:  # too few tiles or groups: the note, and the runs that were asked for
        return {**first["result"], "repeats": repeats}
    accuracies = [r["accuracy"] for r in runs]
    result = {**first["result"], "repeats": repeats, "runs": accuracies, "spread_sd": None}
    if repeats > 1:
        correct = np.concatenate([r["correct"] for r in runs])
        group = np.concatenate([r["group"] for r in runs])
        low, high = group_bootstrap(correct, group, np.random.default_rng(seed))
        result["accuracy"] = float(np.mean(accuracies))
        result["interval_95"] = [low, high]
        result["spread_sd"] = float(np.std(accuracies, ddof=1))
        result["interval_method"] += f", each tile's predictions in all {repeats} runs"
    return result


def _single(real_tiles, synth_tiles, groups, folds: int, seed: int, steps: int, control: bool) -> dict[str, Any]:
    """One cross-validated run: its result, and per tile whether it was told right and its group."""
    real_tiles, synth_tiles = np.asarray(real_tiles, np.float32), np.asarray(synth_tiles, np.float32)
    n_real, n_synth = len(real_tiles), len(synth_tiles)
    if isinstance(groups, tuple):
        real_groups, synth_groups = (np.asarray(g) for g in groups)
    elif len(groups) == n_real + n_synth:
        real_groups, synth_groups = np.asarray(groups)[:n_real], np.asarray(groups)[n_real:]
    elif len(groups) == n_real == n_synth:
        real_groups = synth_groups = np.asarray(groups)
    else:
        raise ValueError(f"groups: {len(groups)} labels for {n_real} real and {n_synth} synthetic tiles")
    rng = np.random.default_rng(seed)
    n = min(n_real, n_synth)
    keep_real = np.sort(rng.choice(n_real, n, replace=False))
    keep_synth = np.sort(rng.choice(n_synth, n, replace=False))
    x = np.concatenate([real_tiles[keep_real], synth_tiles[keep_synth]])
    y = np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)])
    group = np.concatenate([real_groups[keep_real], synth_groups[keep_synth]])
    n_groups = len(np.unique(group))
    if n < 2 or n_groups < folds:
        note = f"too few tiles or groups for {folds} folds ({n} per side, {n_groups} groups)"
        return {"accuracy": None, "result": {"accuracy": None, "note": note, "tiles": int(2 * n), "folds": folds}}
    fold_of = group_folds(group, folds, rng)
    shuffled = rng.permutation(y)
    predicted = _cross_validate(x, [y, shuffled] if control else [y], fold_of, folds, steps, seed)
    correct = (predicted[0] == y).astype(np.float64)
    low, high = group_bootstrap(correct, group, rng)
    result = {
        "accuracy": float(correct.mean()),
        "interval_95": [low, high],
        "interval_method": "percentile bootstrap over groups (patches or spatial blocks), 2000 resamples",
        "tiles": int(2 * n),
        "groups": int(n_groups),
        "folds": folds,
        "steps_per_fold": steps,
        "seed": seed,
    }
    if control:
        result["shuffled_control_accuracy"] = float((predicted[1] == shuffled).mean())
    return {"accuracy": result["accuracy"], "result": result, "correct": correct, "group": group}
