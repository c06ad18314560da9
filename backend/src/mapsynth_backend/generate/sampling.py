"""What generation and validation share: per-item noise that depends only on (seed, patch_id, variation), and
the conversion of model outputs back to reflectance through the exact inverse radiometry."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..radiometry import ClipRange
from .sensor_mtf import apply_sensor_mtf


def item_seed(seed: int, key: str, variation: int) -> int:
    digest = hashlib.sha256(f"{seed}|{key}|{variation}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def item_noise(model, seed: int, key: str, variation: int, size: int) -> dict[str, Any]:
    """Noise for one item, drawn on the CPU from its own generator: independent of batch, order and process."""
    import torch

    generator = torch.Generator("cpu").manual_seed(item_seed(seed, key, variation))
    shape = model.noise_shape(size)
    return {name: torch.randn(shape, generator=generator) for name in model.noise_names}


def stack_noise(items: list[dict[str, Any]], device: str) -> dict[str, Any]:
    import torch

    return {name: torch.stack([item[name] for item in items]).to(device) for name in items[0]}


def clip_range(card: dict[str, Any]) -> ClipRange:
    clip = card["radiometry"]["clip"]
    return ClipRange(np.array([clip[b][0] for b in card["bands"]]), np.array([clip[b][1] for b in card["bands"]]))


def to_reflectance(model, outputs: dict[str, Any]) -> np.ndarray:
    """Model outputs in [-1, 1] -> reflectance (B, bands, H, W) in the card's band order, filtered by the card's
    sensor transfer function where it has one (sensor_mtf.py), kept inside the clip range; pixels of classes the card
    holds to their spectra (outputs' "held") are not filtered."""
    clip = clip_range(model.card)
    values = clip.inverse(model.to_unit(outputs), axis=1)
    spec = model.card.get("sensor_mtf")
    if not spec:
        return values
    shape = (1, -1) + (1,) * (values.ndim - 2)
    low, high = np.reshape(clip.low, shape), np.reshape(clip.high, shape)
    filtered = np.clip(apply_sensor_mtf(values, spec, model.card["bands"]), low, high)
    held = outputs.get("held")  # pixels of held classes (class_spectra) stay as sampled, inside their ellipsoid
    return filtered if held is None else np.where(held.cpu().numpy(), values, filtered)


def map_to_model(rgb_uint8: np.ndarray):
    """Map patch (3, H, W) uint8 -> tensor in [-1, 1]."""
    import torch

    return torch.from_numpy(rgb_uint8.astype(np.float32) / 127.5 - 1.0)


def remap_map(rgb_uint8: np.ndarray, table: dict[str, list[int]] | None) -> np.ndarray:
    """Recolour map classes onto the classes a model was trained on (``map_remap`` in its model card)."""
    if not table:
        return rgb_uint8
    codes = (rgb_uint8[0].astype(np.int64) << 16) | (rgb_uint8[1].astype(np.int64) << 8) | rgb_uint8[2]
    out = rgb_uint8.copy()
    for source, target in table.items():
        r, g, b = (int(v) for v in source.split(","))
        mask = codes == ((r << 16) | (g << 8) | b)
        for channel in range(3):
            out[channel][mask] = target[channel]
    return out
