"""The shared-pixel count of the dataset card against shapely: footprints built here from the grid definition,
intersections and unions by GEOS, areas turned into pixels."""

import random

import pytest
import shapely
from shapely.geometry import box

from mapsynth_backend.contract import guard_splits
from mapsynth_backend.grid import Patch, PatchGrid, fingerprint
from mapsynth_backend.prepare.split_check import leak_warning, shared_pixels, split_check

BASE = {"format_version": 1, "crs_wkt": "PROJCRS[...]", "origin_x": 500000.0, "origin_y": 6600000.0, "rows": 9}


def grid_of(patch_size: int, overlap: int, splits: dict[tuple[int, int], str], guard: bool | None = None) -> PatchGrid:
    definition = {**BASE, "pixel_size": 10.0, "patch_size": patch_size, "overlap": overlap, "cols": 9}
    if guard is not None:
        definition["split"] = {"guard": guard}
    definition["fingerprint"] = fingerprint(definition)
    patches = tuple(Patch(f"r{r:04d}_c{c:04d}", r, c, s) for (r, c), s in sorted(splits.items()))
    return PatchGrid(None, definition, patches)


def footprint(definition: dict, row: int, col: int):
    """Patch footprint straight from docs/GRID_FORMAT.md's formula, not from PatchGrid.bounds."""
    size = definition["patch_size"] * definition["pixel_size"]
    stride = (definition["patch_size"] - definition["overlap"]) * definition["pixel_size"]
    x_min, y_max = definition["origin_x"] + col * stride, definition["origin_y"] - row * stride
    return box(x_min, y_max - size, x_min + size, y_max)


def shapely_shared(grid: PatchGrid) -> dict[str, int]:
    definition, pixel_area = grid.definition, grid.definition["pixel_size"] ** 2
    shapes = [(p.split, footprint(definition, p.row, p.col)) for p in grid.patches]
    out = {}
    for split in {s for s, _ in shapes}:
        others = shapely.union_all([g for s, g in shapes if s != split])
        out[split] = round(sum(g.intersection(others).area for s, g in shapes if s == split) / pixel_area)
    return out


@pytest.mark.parametrize("patch_size, overlap", [(64, 12), (32, 20), (16, 0), (64, 63)])
def test_shared_pixels_equal_the_geometric_intersections(patch_size, overlap):
    rng = random.Random(patch_size * 100 + overlap)
    splits = {(r, c): rng.choice(("train", "train", "val", "test")) for r in range(9) for c in range(9)}
    for cell in rng.sample(sorted(splits), 10):  # holes, as patches dropped from a dataset leave
        del splits[cell]
    grid = grid_of(patch_size, overlap, splits)
    measured = shared_pixels(grid, list(grid.patches))
    expected = shapely_shared(grid)
    assert {s: v["shared"] for s, v in measured.items()} == expected
    assert all(v["pixels"] == patch_size**2 * sum(1 for x in splits.values() if x == s) for s, v in measured.items())
    if overlap == 0:
        assert not any(expected.values()), "edge-adjacent patches share no pixel"
    else:
        assert all(expected.values())


def test_a_grid_with_a_guard_ring_shares_nothing_and_the_leak_is_warned_about():
    # a 2 x 2 test block, its ring of guard patches, training patches beyond (12 px overlap reaches one patch)
    splits = {(r, c): "train" for r in range(9) for c in range(9)}
    for r in range(2, 6):
        for c in range(2, 6):
            splits[(r, c)] = "test" if 3 <= r <= 4 and 3 <= c <= 4 else "guard"
    guarded = grid_of(64, 12, splits, guard=True)
    kept = [p for p in guarded.patches if p.split != "guard"]
    check = split_check(guarded, kept)
    assert check["shared_pixels"] == 0 and check["guard_patches"] == 12 and check["guard_band"]
    assert leak_warning(check) is None
    assert "Pixels shared between splits: 0 " in check["summary"]

    leaky = grid_of(64, 12, {k: ("train" if v == "guard" else v) for k, v in splits.items()})
    check = split_check(leaky, list(leaky.patches))
    test_shared = shapely_shared(leaky)["test"]
    assert check["per_split"]["test"] == {"pixels": 4 * 4096, "shared": test_shared} and test_shared > 0
    assert not check["guard_band"] and check["guard_patches"] == 0
    assert f"{test_shared:,} of 16,384 test pixels" in leak_warning(check)


@pytest.mark.parametrize("patch_size, overlap", [(64, 12), (32, 20), (16, 0)])
def test_the_guard_rule_leaves_no_shared_area_and_keeps_the_last_split_whole(patch_size, overlap):
    rng = random.Random(overlap)
    blocks = {(r, c): rng.choice(("train", "train", "val", "test")) for r in range(3) for c in range(3)}
    splits = {(r, c): blocks[(r // 3, c // 3)] for r in range(9) for c in range(9)}
    guarded = guard_splits(splits, patch_size, overlap)
    grid = grid_of(patch_size, overlap, {k: v for k, v in guarded.items() if v != "guard"})
    assert not any(shapely_shared(grid).values())
    assert {k for k, v in guarded.items() if v == "test"} == {k for k, v in splits.items() if v == "test"}
    assert ("guard" in guarded.values()) == (overlap > 0)
    # folds: any order of split names works, e.g. the rest of the area against one held-out fold
    folds = guard_splits({k: "held" if v == "val" else "rest" for k, v in splits.items()}, patch_size, overlap,
                         order=("rest", "held"))  # fmt: skip
    assert not any(
        shapely_shared(grid_of(patch_size, overlap, {k: v for k, v in folds.items() if v != "guard"})).values()
    )


@pytest.mark.parametrize("patch_size, overlap", [(64, 12), (32, 20), (64, 63)])
def test_guard_patches_trained_with_hidden_pixels_share_none(patch_size, overlap):
    """build-training-dataset --train-guard: each guard patch hides exactly its intersection with the held-out
    patches (shapely), and then no split shares a pixel; one pixel left visible is counted on both sides."""
    from dataclasses import replace

    import numpy as np

    from mapsynth_backend.prepare.split_check import held_out_mask

    rng = random.Random(patch_size + overlap)
    splits = {(r, c): rng.choice(("train", "train", "train", "val", "test")) for r in range(9) for c in range(9)}
    guarded = guard_splits(splits, patch_size, overlap)
    grid = grid_of(patch_size, overlap, guarded, guard=True)
    held = {(p.row, p.col) for p in grid.patches if p.split in ("val", "test")}
    held_union = shapely.union_all([footprint(grid.definition, r, c) for r, c in held])
    guards = [p for p in grid.patches if p.split == "guard"]
    hidden = {p.patch_id: held_out_mask(grid, p, held) for p in guards}
    for p in guards:
        expected = footprint(grid.definition, p.row, p.col).intersection(held_union).area / 100
        assert hidden[p.patch_id].sum() == round(expected) > 0
    patches = [replace(p, split="train") if p.split == "guard" else p for p in grid.patches]
    measured = shared_pixels(grid, patches, hidden)
    assert not any(v["shared"] for v in measured.values())
    assert measured["train"]["pixels"] == patch_size**2 * len(patches) - sum(
        int(m.sum()) for m in hidden.values()
    ) - patch_size**2 * len(held)
    leaky = dict(hidden)
    first = guards[0].patch_id
    leaky[first] = hidden[first].copy()
    leaky[first][tuple(np.argwhere(hidden[first])[0])] = False
    measured = shared_pixels(grid, patches, leaky)
    held_shared = sum(v["shared"] for name, v in measured.items() if name != "train")
    assert measured["train"]["shared"] == 1 and held_shared >= 1
    check = split_check(grid, patches, hidden)
    assert check["shared_pixels"] == 0 and check["guard_trained"] == len(guards)
    assert f"{len(guards)} train with the {sum(int(m.sum()) for m in hidden.values()):,} pixels" in check["summary"]
