"""The training data: a dataset folder's splits and radiometry, one pair per row (the map, the prompt and the
family's targets), batches drawn from seeded permutations so a resumed run sees the same samples, and the optional
dihedral augmentation (a patch seen from above has no preferred orientation at 10 m: flips and quarter turns of
map and image together are new, equally valid pairs for a dataset of a few hundred patches)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..generate.sampling import map_to_model
from ..models import family_class
from ..radiometry import ClipRange
from ..runtime.protocol import UserError

SPLIT_FOLDERS = ("train", "validation", "test")
AUGMENTATIONS = ("none", "d4")


def read_dataset(folder: Path) -> tuple[dict[str, list[dict]], dict[str, Any], dict[str, Any]]:
    try:
        radiometry = json.loads((folder / "radiometry.json").read_text())
    except (OSError, ValueError) as exc:
        raise UserError(
            f"DATASET: {folder} has no readable radiometry.json; build it with build_training_dataset"
        ) from exc
    splits = {}
    for split in SPLIT_FOLDERS:
        path = folder / split / "metadata.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
        splits[split] = [{**row, "root": str(folder / split)} for row in rows]
    if not splits["train"]:
        raise UserError(f"DATASET: {folder}/train/metadata.jsonl lists no training pairs")
    manifest_path = folder / "mapsynth_output.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return splits, radiometry, manifest


def load_pair(row: dict, family: str, clip: ClipRange) -> dict[str, Any]:
    """One training pair: the map, the prompt and the family's targets."""
    import cv2

    root = Path(row["root"])

    def png(name: str) -> np.ndarray:
        image = cv2.imread(str(root / row[name]), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise UserError(f"DATASET: cannot read {root / row[name]}")
        return image[None] if image.ndim == 2 else image[:, :, ::-1].transpose(2, 0, 1)

    item = {"map": map_to_model(png("conditioning_image")), "text": row.get("text", "")}
    if row.get("tone_image"):  # a tone layout's channels after the map's (prepare/tone_layout.py; an experiment)
        import torch

        item["map"] = torch.cat([item["map"], map_to_model(png("tone_image"))])
    return {**item, **family_class(family).training_item(row, png, clip)}


def collate(items: list[dict], device) -> dict[str, Any]:
    import torch

    return {
        key: [i[key] for i in items] if key == "text" else torch.stack([i[key] for i in items]).to(device)
        for key in items[0]
    }


def batch_indices(n: int, batch: int, step: int, seed: int) -> list[int]:
    """The samples of global step ``step``: epochs are seeded permutations, so steps are reproducible."""
    start = step * batch
    out = []
    while len(out) < batch:
        epoch, offset = divmod(start + len(out), n)
        order = np.random.default_rng([seed, epoch]).permutation(n)
        out.extend(order[offset : offset + batch - len(out)].tolist())
    return out


def dihedral(item: dict[str, Any], k: int) -> dict[str, Any]:
    """The pair under the k-th of the 8 symmetries of the square (k % 4 quarter turns, then a left-right flip when
    k >= 4), applied alike to every image of the item (map, targets, valid mask); the prompt is left as it is."""
    import torch

    def turn(value):
        if not isinstance(value, torch.Tensor) or value.ndim < 2:
            return value
        value = torch.rot90(value, k % 4, dims=(-2, -1))
        return torch.flip(value, dims=(-1,)) if k >= 4 else value

    return {key: turn(value) for key, value in item.items()}


def augmentation(kind: str, seed: int, step: int, position: int) -> int:
    """The symmetry (0 = identity) of the sample at ``position`` in global step ``step``: seeded by both, so a
    resumed run draws the same ones."""
    if kind == "none":
        return 0
    return int(np.random.default_rng([seed, 4099, step, position]).integers(8))
