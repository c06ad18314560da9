"""Where the patches go: snapped origin, the fewest rows and columns that cover the area, AOI filtering and
the spatial block split. Pure geometry, independent of how the grid is stored."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsRectangle

from .contract import contract

EPS = 1e-9
AUTO_BLOCK_MAX = 8
AUTO_BLOCK_MIN_BLOCKS = 50
GUARD_SPLIT = contract.GUARD_SPLIT
# the grid's guard between splits, one rule for the plugin and the backend: see contract.guard_splits (the
# backend's augmentation experiment does not use it: it keeps training patches a GUARD distance from the
# labelled polygons, experiment/labels.touches)
guard_splits, overlap_reach = contract.guard_splits, contract.overlap_reach


def utm_crs(lon: float, lat: float) -> QgsCoordinateReferenceSystem:
    """The UTM zone of a WGS84 point, as Sentinel-2 tiles use it (no Norway/Svalbard exceptions)."""
    zone = min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))
    return QgsCoordinateReferenceSystem(f"EPSG:{(32600 if lat >= 0 else 32700) + zone}")


def cells_needed(length: float, size: float, stride: float) -> int:
    """Fewest patches of ``size`` at ``stride`` whose union spans ``length`` from the origin."""
    if length <= size * (1 + EPS):
        return 1
    return int(math.ceil((length - size) / stride - EPS)) + 1


@dataclass(frozen=True)
class GridPlan:
    origin_x: float  # west edge of column 0
    origin_y: float  # north edge of row 0
    pixel_size: float
    patch_size: int
    overlap: int
    rows: int
    cols: int

    @property
    def size_m(self) -> float:
        return self.patch_size * self.pixel_size

    @property
    def stride_m(self) -> float:
        return (self.patch_size - self.overlap) * self.pixel_size

    def cell(self, row: int, col: int) -> QgsRectangle:
        x_min = self.origin_x + col * self.stride_m
        y_max = self.origin_y - row * self.stride_m
        return QgsRectangle(x_min, y_max - self.size_m, x_min + self.size_m, y_max)


def plan_grid(bounds: QgsRectangle, pixel_size: float, patch_size: int, overlap: int, align: float = 0.0) -> GridPlan:
    """Snap the north-west corner to multiples of ``align`` (default the pixel size) and cover ``bounds``."""
    align = align or pixel_size
    origin_x = math.floor(bounds.xMinimum() / align + EPS) * align
    origin_y = math.ceil(bounds.yMaximum() / align - EPS) * align
    size_m = patch_size * pixel_size
    stride_m = (patch_size - overlap) * pixel_size
    cols = cells_needed(bounds.xMaximum() - origin_x, size_m, stride_m)
    rows = cells_needed(origin_y - bounds.yMinimum(), size_m, stride_m)
    return GridPlan(origin_x, origin_y, pixel_size, patch_size, overlap, rows, cols)


class TooManyPatches(Exception):
    pass


def select_cells(plan: GridPlan, aoi: QgsGeometry, max_patches: int, feedback=None) -> list[tuple[int, int]]:
    """Cells that intersect (or touch) the AOI, row by row so sparse AOIs stay cheap."""
    if aoi.area() / (plan.stride_m ** 2) > max_patches:
        raise TooManyPatches(int(aoi.area() / plan.stride_m ** 2))
    kept: list[tuple[int, int]] = []
    right = plan.origin_x + (plan.cols - 1) * plan.stride_m + plan.size_m
    for row in range(plan.rows):
        if feedback is not None:
            if feedback.isCanceled():
                return []
            feedback.setProgress(80.0 * row / plan.rows)
        y_max = plan.origin_y - row * plan.stride_m
        strip = aoi.clipped(QgsRectangle(plan.origin_x, y_max - plan.size_m, right, y_max))
        if strip.isEmpty():
            continue
        box = strip.boundingBox()
        first = max(0, int(math.floor((box.xMinimum() - plan.origin_x - plan.size_m) / plan.stride_m)))
        last = min(plan.cols - 1, int(math.floor((box.xMaximum() - plan.origin_x) / plan.stride_m)))
        engine = QgsGeometry.createGeometryEngine(strip.constGet())
        engine.prepareGeometry()
        for col in range(first, last + 1):
            cell = QgsGeometry.fromRect(plan.cell(row, col))  # kept alive: the engine reads its raw pointer
            if engine.intersects(cell.constGet()):
                kept.append((row, col))
        if len(kept) > max_patches:
            raise TooManyPatches(len(kept))
    return kept


def auto_block_size(cells: list[tuple[int, int]]) -> int:
    """Largest block side (patches) that still leaves enough blocks for the split fractions to be met."""
    for block in range(AUTO_BLOCK_MAX, 1, -1):
        if len({(r // block, c // block) for r, c in cells}) >= AUTO_BLOCK_MIN_BLOCKS:
            return block
    return 1


def assign_splits(cells: list[tuple[int, int]], val_fraction: float, test_fraction: float, block: int,
                  seed: int) -> dict[tuple[int, int], str]:
    """Spatial block split: whole blocks of block x block patches go to test, val or train, in a seeded
    random order, each split taking blocks while that brings its share closer to its target."""
    blocks: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for row, col in cells:
        blocks.setdefault((row // block, col // block), []).append((row, col))
    order = sorted(blocks)
    random.Random(seed).shuffle(order)  # nosec B311  # a reproducible seeded split, not a secret
    targets = {"test": test_fraction * len(cells), "val": val_fraction * len(cells)}
    counts = {"test": 0, "val": 0}
    splits: dict[tuple[int, int], str] = {}
    for key in order:
        members = blocks[key]
        chosen = "train"
        for name in ("test", "val"):
            if abs(counts[name] + len(members) - targets[name]) < abs(counts[name] - targets[name]):
                chosen = name
                counts[name] += len(members)
                break
        for cell in members:
            splits[cell] = chosen
    return splits

