"""Segmenter training of the polygon-scored experiment: fixed real exposure, extras on top, early stopping.

Every step takes ``batch_size`` real samples, drawn by a generator seeded with the run's seed alone, so every arm
of a seed sees exactly the same real samples in the same order from the same initial weights; an arm's extra
samples (synthetic images, or classically augmented real ones in the control arm) are added on top of them with
their own generator, never in their place. Training stops early when the loss on the validation block (weak
labels: derived maps) has not improved for ``patience`` checks, and the best weights are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import segmenter
from .data import IGNORE

BRIGHTNESS = (0.8, 1.2)  # reflectance scale range of the classical augmentation


@dataclass
class Pool:
    images: np.ndarray  # (N, bands, H, W) reflectance, NaN = nodata
    targets: np.ndarray  # (N, H, W) class index, IGNORE = unknown
    classical: bool = False  # flips, rotations and brightness on every draw (the control arm)


@dataclass
class Schedule:
    max_steps: int
    batch_size: int
    extra_per_step: int
    validate_every: int
    patience: int
    learning_rate: float = 3e-3


def classical(image: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One of the 8 flips/rotations and a brightness scale of the reflectance."""
    image, target = segmenter._augment(image, target, rng)
    return image * np.float32(rng.uniform(*BRIGHTNESS)), target


def _batch(pool: Pool, count: int, rng: np.random.Generator, drawn=None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    images, labels = [], []
    indices = rng.integers(0, len(pool.images), count)
    if drawn is not None:
        drawn.update(indices.tobytes())
    for index in indices:
        image, target = pool.images[index], pool.targets[index]
        if pool.classical:
            image, target = classical(image, target, rng)
        images.append(image)
        labels.append(target)
    return images, labels


def step_batch(
    real: Pool,
    extra: Pool | None,
    schedule: Schedule,
    real_rng: np.random.Generator,
    extra_rng: np.random.Generator,
    drawn=None,
) -> tuple[np.ndarray, np.ndarray]:
    """The images and targets of one step, not yet normalised: ``batch_size`` real samples first, then
    ``extra_per_step`` samples of ``extra`` (if any) on top of them. The real draws use ``real_rng`` alone, so they
    are the same whether or not (and whatever) extras are added."""
    images, labels = _batch(real, schedule.batch_size, real_rng, drawn)
    if extra is not None and schedule.extra_per_step:
        more_images, more_labels = _batch(extra, schedule.extra_per_step, extra_rng)
        images, labels = images + more_images, labels + more_labels
    return np.stack(images), np.stack(labels)


def validation_loss(model, images: np.ndarray, labels: np.ndarray, batch: int = 16) -> float:
    import torch

    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE, reduction="sum")
    total, count = 0.0, int((labels != IGNORE).sum())
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            logits = model(torch.from_numpy(images[start : start + batch]))
            total += float(loss_fn(logits, torch.from_numpy(labels[start : start + batch].astype(np.int64))))
    return total / max(count, 1)


def train(
    real: Pool,
    extra: Pool | None,
    validation: Pool,
    stats: tuple[list[float], list[float]],
    n_classes: int,
    schedule: Schedule,
    seed: int,
    check: Callable[[int], None] | None = None,
):
    """(model with the best validation weights, {steps, best_step, best_validation_loss, validation_losses,
    initial_weights, real_samples}): validation_losses are the [step, loss] of every check; the last two are
    digests of the initial weights and of the real samples drawn in the steps before the first check (which every
    run makes), which the arms of one seed share."""
    import torch

    torch.manual_seed(seed)
    model = segmenter.build(real.images.shape[1], n_classes)
    initial = hashlib.sha256()
    for value in model.state_dict().values():
        initial.update(value.detach().cpu().numpy().tobytes())
    drawn = hashlib.sha256()
    optimiser = torch.optim.AdamW(model.parameters(), lr=schedule.learning_rate, weight_decay=1e-4)
    if schedule.max_steps >= 3:  # one-cycle needs a warm-up phase of at least one step
        warmup = min(0.5, max(0.1, 2.5 / schedule.max_steps))
        lr = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, schedule.learning_rate, total_steps=schedule.max_steps, pct_start=warmup
        )
    else:
        lr = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda _: 1.0)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
    real_rng, extra_rng = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    val_images = segmenter.normalise(validation.images, *stats)
    best, best_state, best_step, waited, step, history = np.inf, None, 0, 0, 0, []
    for step in range(1, schedule.max_steps + 1):
        if check is not None:
            check(step)
        model.train()
        images, labels = step_batch(
            real, extra, schedule, real_rng, extra_rng, drawn if step <= schedule.validate_every else None
        )
        inputs = segmenter.normalise(images, *stats)
        loss = loss_fn(model(torch.from_numpy(inputs)), torch.from_numpy(labels.astype(np.int64)))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        lr.step()
        if step % schedule.validate_every == 0 or step == schedule.max_steps:
            model.eval()
            value = validation_loss(model, val_images, validation.targets)
            history.append([step, value])
            if value < best:
                best, best_step, waited = value, step, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= schedule.patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, {
        "steps": step,
        "best_step": best_step,
        "best_validation_loss": float(best),
        "validation_losses": history,
        "initial_weights": initial.hexdigest()[:16],
        "real_samples": drawn.hexdigest()[:16],
    }
