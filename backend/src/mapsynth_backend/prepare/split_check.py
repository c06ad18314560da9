"""Do a dataset's splits share pixels? Neighbouring patches overlap, so a test patch beside a training patch is
scored partly on pixels the model was trained on. Measured exactly on the grid's pixel lattice, per split."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ..contract import GUARD_SPLIT
from ..grid import Patch, PatchGrid

SPLITS = ("train", "val", "test")


def _window(stride: int, size: int, d_row: int, d_col: int) -> tuple[slice, slice]:
    """The pixels of a patch that its neighbour ``d_row``, ``d_col`` rows and columns away also covers."""
    return (slice(max(0, d_row * stride), min(size, d_row * stride + size)),
            slice(max(0, d_col * stride), min(size, d_col * stride + size)))  # fmt: skip


def held_out_mask(grid: PatchGrid, patch: Patch, held: set[tuple[int, int]]) -> np.ndarray:
    """True where ``patch`` shares a pixel with a patch at one of the (row, col) in ``held``: what a guard patch
    must hide before it may train (build_training_dataset's train_guard)."""
    size, stride = grid.patch_size, grid.stride
    reach = (size - 1) // stride
    mask = np.zeros((size, size), dtype=bool)
    for d_row in range(-reach, reach + 1):
        for d_col in range(-reach, reach + 1):
            if (patch.row + d_row, patch.col + d_col) in held:
                mask[_window(stride, size, d_row, d_col)] = True
    return mask


def shared_pixels(
    grid: PatchGrid, patches: list[Patch], hidden: dict[str, np.ndarray] | None = None
) -> dict[str, dict[str, int]]:
    """Per split: its pixels, counted per patch as a model sees or scores them, and how many of them also lie in a
    patch of another split (among ``patches``). ``hidden``: per patch_id, pixels written as nodata (a guard patch
    that trains with its shared pixels masked), which neither count nor share. Zero everywhere means no pixel is in
    two splits."""
    size, stride = grid.patch_size, grid.stride
    reach = (size - 1) // stride  # patches further apart than this many rows or columns share no pixel
    hidden = hidden or {}
    where = {(p.row, p.col): p for p in patches}
    totals: Counter[str] = Counter()
    shared: Counter[str] = Counter()
    for patch in patches:
        seen = ~hidden.get(patch.patch_id, np.zeros((size, size), dtype=bool))
        totals[patch.split] += int(seen.sum())
        mask = np.zeros((size, size), dtype=bool)
        for d_row in range(-reach, reach + 1):
            for d_col in range(-reach, reach + 1):
                other = where.get((patch.row + d_row, patch.col + d_col))
                if other is None or other.split == patch.split:
                    continue
                here, there = _window(stride, size, d_row, d_col), _window(stride, size, -d_row, -d_col)
                other_hidden = hidden.get(other.patch_id)
                mask[here] |= True if other_hidden is None else ~other_hidden[there]  # its pixels seen there
        shared[patch.split] += int((mask & seen).sum())
    return {split: {"pixels": totals[split], "shared": shared[split]} for split in sorted(totals)}


def split_check(grid: PatchGrid, patches: list[Patch], hidden: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """What the dataset card and the log say about the split: shared pixels of the pairs written, guard patches of
    the grid, and whether the grid was made with the guard band (grids from before it have no such key)."""
    per_split = shared_pixels(grid, patches, hidden)
    total = sum(entry["shared"] for entry in per_split.values())
    guard = sum(1 for p in grid.patches if p.split == GUARD_SPLIT)
    made_with = grid.definition.get("split", {}).get("guard")
    parts = [f"{name} {v['shared']:,} of {v['pixels']:,}" for name, v in per_split.items()]
    summary = (
        f"Pixels shared between splits: {total:,} ({', '.join(parts) or 'no pairs'}; pixels counted per patch)."
        f" Guard patches in the grid (neither trained nor scored): {guard}"
        f" ({'guard band on' if made_with else 'grid made without the guard band'})"
    )
    if hidden:
        summary = summary.replace(
            "(neither trained nor scored)",
            f"({len(hidden)} train with the {sum(int(m.sum()) for m in hidden.values()):,} pixels they share with"
            " a validation or test patch hidden as nodata)",
        )
    return {"shared_pixels": total, "per_split": per_split, "guard_patches": guard, "guard_band": bool(made_with),
            "guard_trained": len(hidden or {}), "summary": summary}  # fmt: skip


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
