"""No data, no pixels: where a map carries no information, generation writes nodata instead of inventing land.

A map pixel carries no information when the map file masks it (GDAL mask band: map_from_land_cover outside its
source) or, in a semantic render, when it lies outside the OSM extract's data bounds (the palette's
``outside_data`` colour, docs/SEMANTIC_STYLE.md). A semantic map patch that shows no mapped feature at all (only
background and outside_data) is nodata as a whole: a model would paint its background class there (the demo
model: meadow). The model still sees such pixels as background, so joint windows stay defined.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.protocol import UserError


def _colours() -> tuple[np.ndarray, np.ndarray]:
    palette = json.loads(resources.files("mapsynth_backend").joinpath("data/semantic_palette.json").read_text())
    background = next(c["rgb"] for c in palette["classes"] if c["key"] == "background")
    return np.array(palette["outside_data"]["rgb"], np.uint8), np.array(background, np.uint8)


def is_semantic(manifest: dict[str, Any]) -> bool:
    """Maps drawn in the semantic palette (render_map_patches from OSM, map_from_land_cover)."""
    return str((manifest.get("details") or {}).get("style", "")).startswith("semantic")


class MapNodata:
    """Per map patch: its pixels without information, and the map the model is given."""

    def __init__(self, semantic: bool) -> None:
        self.semantic = semantic
        self.outside, self.background = _colours()

    def read(self, src) -> tuple[np.ndarray, np.ndarray]:
        """(rgb (3, H, W) uint8 for the model, nodata (H, W) bool) of an open rasterio map patch."""
        rgb = src.read([1, 2, 3])
        nodata = src.dataset_mask() == 0
        if self.semantic:
            outside = (rgb == self.outside[:, None, None]).all(axis=0)
            blank = outside | (rgb == self.background[:, None, None]).all(axis=0)
            nodata |= outside
            if blank.all():
                nodata[:] = True
            rgb = np.where(outside[None], self.background[:, None, None], rgb)
        return rgb, nodata


def refuse_all_nodata(nodata_cells: int, cells: int, map_dir) -> None:
    """A grid whose maps carry no information anywhere is an error (issue 15: no silent blanks), not nodata."""
    if cells and nodata_cells == cells:
        raise UserError(
            f"MAP_DIR: none of the {cells} map patches in {map_dir} shows a mapped feature inside the map's data"
            " bounds: nothing to generate (check that the map source covers this PATCH_GRID)"
        )


def empty_cells(grid, map_dir: Path, reader: MapNodata) -> tuple[list[Any], set[str]]:
    """The grid's patches that have a map, and those whose map carries no information at all (see nodata)."""
    import rasterio

    present = [p for p in grid.patches if (map_dir / f"{p.patch_id}.tif").exists()]
    empty = set()
    for patch in present:
        with rasterio.open(map_dir / f"{patch.patch_id}.tif") as src:
            if reader.read(src)[1].all():
                empty.add(patch.patch_id)
    refuse_all_nodata(len(empty), len(present), map_dir)
    return present, empty
