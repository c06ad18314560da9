"""What a training run shows besides its loss: validation grids (map | real | generated, RGB and NIR false
colour) and the loss plot."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..generate.sampling import item_noise, stack_noise, to_reflectance
from ..radiometry import ClipRange, decode_reflectance
from .data import collate, load_pair


def validation_grid(model, rows: list[dict], clip: ClipRange, steps: int, path: Path, device) -> None:
    """One row per sample: map | real RGB | generated RGB | real NIR false colour | generated false colour."""
    import cv2
    import rasterio

    items = [load_pair(row, model.family, clip) for row in rows]
    size = items[0]["map"].shape[-1]
    maps = collate(items, device)["map"]
    noises = stack_noise([item_noise(model, 0, row["patch_id"], 0, size) for row in rows], device)
    generated = to_reflectance(model, model.sample(maps, noises, steps))
    index = {b: i for i, b in enumerate(model.card["bands"])}

    def view(reflectance: np.ndarray, bands: tuple[str, ...]) -> np.ndarray:
        channels = np.stack([reflectance[index[b]] for b in bands])
        sub = ClipRange(clip.low[[index[b] for b in bands]], clip.high[[index[b] for b in bands]])
        return sub.to_uint8(channels)[0].transpose(1, 2, 0)

    tiles = []
    for row, item, fake in zip(rows, items, generated, strict=True):
        with rasterio.open(Path(row["root"]) / row["multispectral"]) as src:
            real = decode_reflectance(src.read())
        map_rgb = ((item["map"][:3].numpy() + 1) * 127.5).round().astype(np.uint8).transpose(1, 2, 0)
        tiles.append(
            np.concatenate(
                [
                    map_rgb,
                    view(real, ("B04", "B03", "B02")),
                    view(fake, ("B04", "B03", "B02")),
                    view(real, ("B08", "B04", "B03")),
                    view(fake, ("B08", "B04", "B03")),
                ],
                axis=1,
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(tiles, axis=0)[:, :, ::-1])


def plot_losses(csv_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    axes.plot([int(r["step"]) for r in rows], [float(r["loss"]) for r in rows], linewidth=0.8)
    axes.set(xlabel="step", ylabel="loss", yscale="log", title="MapSynth training loss")
    figure.tight_layout()
    figure.savefig(png_path)
    plt.close(figure)
