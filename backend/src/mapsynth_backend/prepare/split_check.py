"""Do a dataset's splits share pixels? Neighbouring patches overlap, so a test patch beside a training patch is
scored partly on pixels the model was trained on. Measured exactly on the grid's pixel lattice, per split."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ..contract import GUARD_SPLIT
from ..grid import Patch, PatchGrid

SPLITS = ("train", "val", "test")


def shared_pixels(grid: PatchGrid, patches: list[Patch]) -> dict[str, dict[str, int]]:
    """Per split: its pixels, counted per patch as a model sees or scores them, and how many of them also lie in a
    patch of another split (among ``patches``). Zero everywhere means no pixel is in two splits."""
    size, stride = grid.patch_size, grid.stride
    reach = (size - 1) // stride  # patches further apart than this many rows or columns share no pixel
    where = {(p.row, p.col): p.split for p in patches}
    totals: Counter[str] = Counter()
    shared: Counter[str] = Counter()
    for patch in patches:
        totals[patch.split] += size * size
        mask = None
        for d_row in range(-reach, reach + 1):
            for d_col in range(-reach, reach + 1):
                other = where.get((patch.row + d_row, patch.col + d_col))
                if other is None or other == patch.split:
                    continue
                if mask is None:
                    mask = np.zeros((size, size), dtype=bool)
                mask[max(0, d_row * stride) : min(size, d_row * stride + size),
                     max(0, d_col * stride) : min(size, d_col * stride + size)] = True  # fmt: skip
        if mask is not None:
            shared[patch.split] += int(mask.sum())
    return {split: {"pixels": totals[split], "shared": shared[split]} for split in sorted(totals)}


def split_check(grid: PatchGrid, patches: list[Patch]) -> dict[str, Any]:
    """What the dataset card and the log say about the split: shared pixels of the pairs written, guard patches of
    the grid, and whether the grid was made with the guard band (grids from before it have no such key)."""
    per_split = shared_pixels(grid, patches)
    total = sum(entry["shared"] for entry in per_split.values())
    guard = sum(1 for p in grid.patches if p.split == GUARD_SPLIT)
    made_with = grid.definition.get("split", {}).get("guard")
    parts = [f"{name} {v['shared']:,} of {v['pixels']:,}" for name, v in per_split.items()]
    summary = (
        f"Pixels shared between splits: {total:,} ({', '.join(parts) or 'no pairs'}; pixels counted per patch)."
        f" Guard patches in the grid (neither trained nor scored): {guard}"
        f" ({'guard band on' if made_with else 'grid made without the guard band'})"
    )
    return {"shared_pixels": total, "per_split": per_split, "guard_patches": guard, "guard_band": bool(made_with),
            "summary": summary}  # fmt: skip


def leak_warning(check: dict[str, Any]) -> str | None:
    """One actionable warning line when the splits share pixels, else None."""
    if not check["shared_pixels"]:
        return None
    held = {name: v for name, v in check["per_split"].items() if name != "train" and v["shared"]}
    where = ", ".join(f"{v['shared']:,} of {v['pixels']:,} {name} pixels" for name, v in held.items())
    return (
        f"The splits share {check['shared_pixels']:,} pixels ({where or 'training pixels only'} lie in patches of"
        " another split): a model trained and scored on this dataset is scored partly on pixels it was trained on."
        " Recreate the grid with create_patch_grid (guard band on, the default) and rebuild the dataset; the map"
        " and Sentinel-2 folders can be reused"
    )
