"""The downstream task: a small U-Net (MONAI's, random init, nothing downloaded) that maps reflectance bands to map
classes, trained on the CPU in minutes; its scores; and its file format (safetensors + segmenter_card.json), which
`evaluate` reads for the map-adherence score.

MONAI rather than segmentation-models-pytorch: smp's encoders come through timm and torchvision, and torchvision's
wheels are built against CUDA torch, so they do not load next to the CPU build of torch MapSynth installs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .data import IGNORE
from .links import UserError, atomic_write

ARCHITECTURE = {
    "library": "monai",
    "class": "monai.networks.nets.UNet",
    "spatial_dims": 2,
    "channels": [16, 32, 64],
    "strides": [2, 2],
    "num_res_units": 1,
    "norm": "batch",
}
CARD = "segmenter_card.json"
WEIGHTS = "segmenter.safetensors"


def build(in_channels: int, n_classes: int, architecture: dict[str, Any] = ARCHITECTURE):
    from monai.networks.nets import UNet

    return UNet(
        spatial_dims=architecture["spatial_dims"],
        in_channels=in_channels,
        out_channels=n_classes,
        channels=tuple(architecture["channels"]),
        strides=tuple(architecture["strides"]),
        num_res_units=architecture["num_res_units"],
        norm=architecture["norm"],
    )


def band_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-band mean and standard deviation of (N, bands, H, W), ignoring NaN: the input normalisation."""
    flat = images.transpose(1, 0, 2, 3).reshape(images.shape[1], -1)
    mean, std = np.nanmean(flat, axis=1), np.nanstd(flat, axis=1)
    return mean.tolist(), np.maximum(std, 1e-4).tolist()


def normalise(images: np.ndarray, mean: list[float], std: list[float]) -> np.ndarray:
    out = (images - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    return np.nan_to_num(out).astype(np.float32)


def _augment(image: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random one of the 8 flips/rotations (the same for image and target)."""
    turns, flip = int(rng.integers(4)), bool(rng.integers(2))
    image, target = np.rot90(image, turns, axes=(1, 2)), np.rot90(target, turns)
    if flip:
        image, target = image[:, :, ::-1], target[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(target)


def train(
    pools: list[tuple[np.ndarray, np.ndarray]],
    n_classes: int,
    steps: int,
    batch_size: int,
    seed: int,
    learning_rate: float = 3e-3,
    check: Callable[[int], None] | None = None,
):
    """Train on ``pools`` of (images normalised (N, bands, H, W), targets (N, H, W)); every batch takes an equal
    share of each non-empty pool (real and synthetic), so a large synthetic pool does not drown a few real pairs.
    ``seed`` fixes the initial weights and the batches; ``check(step)`` may raise to cancel."""
    import torch

    pools = [pool for pool in pools if len(pool[0])]
    torch.manual_seed(seed)
    model = build(pools[0][0].shape[1], n_classes)
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=steps, pct_start=0.1)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
    rng = np.random.default_rng(seed)
    shares = [batch_size // len(pools) + (i < batch_size % len(pools)) for i in range(len(pools))]
    model.train()
    for step in range(steps):
        if check is not None:
            check(step)
        images, labels = [], []
        for (pool_images, pool_targets), share in zip(pools, shares, strict=True):
            for index in rng.integers(0, len(pool_images), share):
                image, target = _augment(pool_images[index], pool_targets[index], rng)
                images.append(image)
                labels.append(target)
        logits = model(torch.from_numpy(np.stack(images)))
        loss = loss_fn(logits, torch.from_numpy(np.stack(labels).astype(np.int64)))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    model.eval()
    return model


def predict(model, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Class index per pixel of normalised (N, bands, H, W); sizes are padded to a multiple of the stride."""
    import torch

    n, _, height, width = images.shape
    multiple = int(np.prod(ARCHITECTURE["strides"]))  # sizes must be a multiple of the total stride
    pad_h, pad_w = -height % multiple, -width % multiple
    padded = np.pad(images, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode="reflect") if pad_h or pad_w else images
    out = np.empty((n, height, width), np.uint8)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            logits = model(torch.from_numpy(np.ascontiguousarray(padded[start : start + batch_size])))
            out[start : start + batch_size] = logits.argmax(1)[:, :height, :width].numpy().astype(np.uint8)
    return out


def predict_large(model, image: np.ndarray, tile: int = 256) -> np.ndarray:
    """Class per pixel of one normalised (bands, H, W) raster of any size, tile by tile."""
    height, width = image.shape[1:]
    out = np.empty((height, width), np.uint8)
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            window = image[:, y : y + tile, x : x + tile]
            out[y : y + tile, x : x + tile] = predict(model, window[None])[0]
    return out


def confusion(predicted: np.ndarray, target: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = target class, columns = predicted; IGNORE pixels left out."""
    valid = target != IGNORE
    index = target[valid].astype(np.int64) * n_classes + predicted[valid].astype(np.int64)
    return np.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores(matrix: np.ndarray, names: list[str]) -> dict[str, Any]:
    """IoU and F1 per class, and mIoU over the classes present in the target (an absent class has no IoU)."""
    tp = np.diag(matrix).astype(np.float64)
    fp, fn = matrix.sum(0) - tp, matrix.sum(1) - tp
    per_class, ious = {}, []
    for i, name in enumerate(names):
        pixels = int(matrix[i].sum())
        if pixels == 0:
            per_class[name] = {"pixels": 0, "iou": None, "f1": None}
            continue
        iou, f1 = tp[i] / (tp[i] + fp[i] + fn[i]), 2 * tp[i] / (2 * tp[i] + fp[i] + fn[i])
        per_class[name] = {"pixels": pixels, "iou": float(iou), "f1": float(f1)}
        ious.append(iou)
    total = matrix.sum()
    return {
        "miou": float(np.mean(ious)) if ious else None,
        "pixel_accuracy": float(tp.sum() / total) if total else None,
        "per_class": per_class,
    }


def save(folder: Path, model, card: dict[str, Any]) -> None:
    """Weights as safetensors (never a pickle) plus the card that says how to feed and read the network."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(state, str(tmp)))
    card = {**card, "architecture": ARCHITECTURE, "weights": WEIGHTS}
    atomic_write(folder / CARD, lambda tmp: tmp.write_text(json.dumps(card, indent=2), encoding="utf-8"))


def load(folder: str | Path, label: str = "SEGMENTER"):
    """(model, card) from a folder written by :func:`save`."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"{label}: {folder} has no readable {CARD}; give the segmenter folder an experiment wrote"
        ) from exc
    if card.get("architecture", {}).get("class") != ARCHITECTURE["class"]:
        raise UserError(f"{label}: {folder / CARD} describes an unknown network {card.get('architecture')}")
    model = build(len(card["bands"]), len(card["classes"]), card["architecture"])
    try:
        model.load_state_dict(load_file(str(folder / card.get("weights", WEIGHTS))))
    except (OSError, RuntimeError) as exc:
        raise UserError(f"{label}: cannot load {folder / WEIGHTS}: {str(exc).splitlines()[0]}") from exc
    model.eval()
    return model, card
