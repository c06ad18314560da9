"""Synthetic imagery for the experiment: K variations per training map, generated with the MODEL exactly as
`generate` does (noise from (seed, patch_id, variation), the model's guidance and map_remap) and kept as
`<patch_id>_vNN.tif` in the output folder, so a resumed experiment generates nothing twice; or read from a folder
of such files made beforehand (SYNTHETIC_DIR, e.g. the output of `generate` on a GPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .data import Pair
from .links import (
    Reporter,
    UserError,
    decode_reflectance,
    encode_reflectance,
    item_noise,
    load_model,
    map_to_model,
    stack_noise,
    to_reflectance,
    write_generated,
)


def synthetic_path(folder: Path, patch_id: str, variation: int) -> Path:
    return folder / f"{patch_id}_v{variation:02d}.tif"


def generate_missing(
    model_dir: str,
    pairs: list[Pair],
    variations: int,
    folder: Path,
    settings: dict[str, Any],
    reporter: Reporter,
    progress: tuple[float, float],
) -> int:
    """Generate the variations of ``pairs`` that are not in ``folder`` yet; returns how many were written."""
    import torch
    from rasterio.transform import from_origin

    items = [
        (pair, v) for pair in pairs for v in range(variations) if not synthetic_path(folder, pair.patch_id, v).exists()
    ]
    if not items:
        return 0
    model = load_model(model_dir, settings["device"], torch.float32)
    guidance = (
        model.guidance_scale(settings["guidance"]) if model.family != "controlnet-sd15" else settings["guidance"] or 4.0
    )
    size = model.card["patch_size"]
    for start in range(0, len(items), settings["batch_size"]):
        reporter.check_cancel()
        batch = items[start : start + settings["batch_size"]]
        maps = torch.stack([map_to_model(pair.map_rgb) for pair, _ in batch])
        noises = stack_noise(
            [item_noise(model, settings["seed"], pair.patch_id, v, size) for pair, v in batch], settings["device"]
        )
        outputs = model.sample(maps.to(settings["device"]), noises, settings["steps"], guidance=guidance)
        for (pair, variation), values in zip(batch, to_reflectance(model, outputs), strict=True):
            x_min, _, x_max, y_max = pair.bounds
            pixel = (x_max - x_min) / values.shape[2]
            profile = {"crs": pair.crs or None, "transform": from_origin(x_min, y_max, pixel, pixel)}
            dn = encode_reflectance(values, np.ones(values.shape[1:], bool)[None])
            tags = {"patch_id": pair.patch_id, "variation": str(variation), "seed": str(settings["seed"])}
            write_generated(synthetic_path(folder, pair.patch_id, variation), dn, profile, model.card["bands"], tags)
        done = start + len(batch)
        low, high = progress
        reporter.progress(low + (high - low) * done / len(items), f"synthetic {done}/{len(items)}", "generate")
    return len(items)


def read_synthetic(folder: Path, pairs: list[Pair], variations: int, bands: list[str]) -> dict[str, list[np.ndarray]]:
    """patch_id -> reflectance (bands, H, W) of each variation; a missing file is an error naming it."""
    import rasterio

    out: dict[str, list[np.ndarray]] = {}
    for pair in pairs:
        images = []
        for variation in range(variations):
            path = synthetic_path(folder, pair.patch_id, variation)
            if not path.is_file():
                raise UserError(
                    f"SYNTHETIC_DIR: {path.name} is missing in {folder}; generate {variations} variation(s) for"
                    " every training map (generate_patches with VARIATIONS) or leave SYNTHETIC_DIR empty"
                )
            with rasterio.open(path) as src:
                if src.count != len(bands):
                    raise UserError(f"SYNTHETIC_DIR: {path} has {src.count} bands, the dataset has {len(bands)}")
                image = decode_reflectance(src.read())
            if image.shape != pair.image.shape:
                raise UserError(f"SYNTHETIC_DIR: {path} is {image.shape}, its real pair is {pair.image.shape}")
            images.append(image)
        out[pair.patch_id] = images
    return out
