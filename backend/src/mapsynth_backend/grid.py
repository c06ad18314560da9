"""The patch grid, the spine of the pipeline, read from its GeoPackage (see docs/GRID_FORMAT.md).

The QGIS plugin writes the grid; every backend step reads it through this module with the standard library's
sqlite3 only, so reading a grid needs neither QGIS nor GDAL. Patch bounds are computed from the definition
(row 0 = north, col 0 = west), never from the stored polygons, so they are exact.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .contract import (
    FORMAT_VERSION,
    GEOMETRY_KEYS,
    GRID_FORMAT,
    GRID_TABLE,
    SAFE_PATCH_ID,
    fingerprint,
    patch_id,
    read_status,
    record_status,
)
from .runtime.jobs import Command, Param
from .runtime.protocol import Reporter, UserError

__all__ = ["GRID_FORMAT", "PatchGrid", "fingerprint", "load_grid", "patch_id", "read_status", "record_status"]


@dataclass(frozen=True)
class Patch:
    patch_id: str
    row: int
    col: int
    split: str


@dataclass(frozen=True)
class PatchGrid:
    path: Path
    definition: dict[str, Any]
    patches: tuple[Patch, ...]

    @property
    def pixel_size(self) -> float:
        return float(self.definition["pixel_size"])

    @property
    def patch_size(self) -> int:
        return int(self.definition["patch_size"])

    @property
    def overlap(self) -> int:
        return int(self.definition["overlap"])

    @property
    def stride(self) -> int:
        """Pixels between the west edges of neighbouring patches."""
        return self.patch_size - self.overlap

    @property
    def crs_wkt(self) -> str:
        return str(self.definition["crs_wkt"])

    @property
    def fingerprint(self) -> str:
        return str(self.definition["fingerprint"])

    def bounds(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) of a patch in the grid CRS."""
        size_m = self.patch_size * self.pixel_size
        x_min = self.definition["origin_x"] + col * self.stride * self.pixel_size
        y_max = self.definition["origin_y"] - row * self.stride * self.pixel_size
        return (x_min, y_max - size_m, x_min + size_m, y_max)

    def transform(self, row: int, col: int) -> tuple[float, float, float, float, float, float]:
        """GDAL geotransform of a patch: (x_min, pixel, 0, y_max, 0, -pixel)."""
        x_min, _, _, y_max = self.bounds(row, col)
        return (x_min, self.pixel_size, 0.0, y_max, 0.0, -self.pixel_size)

    def patch(self, pid: str) -> Patch:
        for candidate in self.patches:
            if candidate.patch_id == pid:
                return candidate
        raise UserError(f"PATCH_GRID: no patch {pid!r} in {self.path}")


def load_grid(path: str | Path) -> PatchGrid:
    """Open a grid GeoPackage read-only, check its format and fingerprint, and list its patches."""
    path = Path(path)
    hint = "create it with mapsynth:create_patch_grid"
    if not path.is_file():
        raise UserError(f"PATCH_GRID: file not found: {path}")
    try:
        with sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT definition, fingerprint FROM mapsynth_grid").fetchone()
            records = conn.execute("SELECT patch_id, row, col, split FROM patches ORDER BY row, col").fetchall()
    except sqlite3.DatabaseError as exc:
        raise UserError(f"PATCH_GRID: {path} is not a MapSynth patch grid ({exc}); {hint}") from exc
    if row is None:
        raise UserError(f"PATCH_GRID: {path} has an empty {GRID_TABLE} table; {hint}")
    try:
        definition = json.loads(row[0])
    except ValueError as exc:
        raise UserError(f"PATCH_GRID: {path}: the grid definition is not valid JSON") from exc
    if definition.get("format") != GRID_FORMAT:
        raise UserError(f"PATCH_GRID: {path} is not a MapSynth patch grid; {hint}")
    if definition.get("format_version", 0) > FORMAT_VERSION:
        raise UserError(
            f"PATCH_GRID: {path} has grid format {definition['format_version']}; this backend reads up to"
            f" {FORMAT_VERSION}: update the backend"
        )
    missing = [key for key in GEOMETRY_KEYS if key not in definition]
    if missing:
        raise UserError(f"PATCH_GRID: {path}: grid definition lacks {', '.join(missing)}; {hint}")
    if fingerprint(definition) != definition.get("fingerprint") or row[1] != definition.get("fingerprint"):
        raise UserError(f"PATCH_GRID: {path}: the grid definition was changed after creation (fingerprint mismatch)")
    patches = tuple(Patch(str(pid), int(r), int(c), str(split)) for pid, r, c, split in records)
    rows, cols = definition["rows"], definition["cols"]
    unsafe = [p.patch_id for p in patches if not SAFE_PATCH_ID.fullmatch(p.patch_id)]
    if unsafe:  # patch ids become file names: never let a grid steer writes out of the output folders
        raise UserError(f"PATCH_GRID: {path}: patch id {unsafe[0]!r} is not a plain file name ([A-Za-z0-9_-])")
    if any(not (0 <= p.row < rows and 0 <= p.col < cols) for p in patches):
        raise UserError(f"PATCH_GRID: {path}: a patch lies outside the {rows} x {cols} grid")
    return PatchGrid(path, definition, patches)


def grid_info(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    grid = load_grid(params["patch_grid"])
    info: dict[str, Any] = {
        key: grid.definition[key] for key in ("rows", "cols", "pixel_size", "patch_size", "overlap")
    }
    info["fingerprint"] = grid.fingerprint
    info["crs_authid"] = grid.definition.get("crs_authid")
    info["patch_count"] = len(grid.patches)
    info["splits"] = dict(Counter(p.split for p in grid.patches))
    if grid.patches:
        boxes = [grid.bounds(p.row, p.col) for p in grid.patches]
        info["bounds"] = [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]
    if params["patch_id"]:
        patch = grid.patch(params["patch_id"])
        info["patch"] = {
            "patch_id": patch.patch_id,
            "row": patch.row,
            "col": patch.col,
            "split": patch.split,
            "bounds": list(grid.bounds(patch.row, patch.col)),
            "transform": list(grid.transform(patch.row, patch.col)),
        }
    reporter.progress(1.0, "grid read", "grid-info")
    return info


COMMANDS = (
    Command(
        "grid-info",
        "Read a patch grid GeoPackage, verify its fingerprint and summarise it (optionally one patch).",
        grid_info,
        (
            Param("patch_grid", "path", help="the grid GeoPackage made by mapsynth:create_patch_grid"),
            Param("patch_id", "str", "", "also report this patch's bounds and geotransform"),
        ),
    ),
)


def snapped_grid(transform, width: int, height: int, pixel: float):
    """A raster grid of ``pixel`` m cells covering the given one, its corner snapped to multiples of ``pixel``
    (so a 10 m result lies on the Sentinel-2 grid of its UTM zone): (transform, width, height)."""
    import math

    from rasterio.transform import Affine

    x0, y1 = transform.c, transform.f
    x1, y0 = x0 + width * transform.a, y1 + height * transform.e
    nx0, ny1 = math.floor(x0 / pixel) * pixel, math.ceil(y1 / pixel) * pixel
    return (
        Affine(pixel, 0, nx0, 0, -pixel, ny1),
        math.ceil((x1 - nx0) / pixel - 1e-9),
        math.ceil((ny1 - y0) / pixel - 1e-9),
    )
