"""Building coverage masks (the fractions `building-masks` writes) updated by what-if edits, on BASE's grid.

An edit states what covers its area after the change, so the masks follow from its class and geometry: the
area of a `residential_building` edit becomes building coverage (residential), an `other_building` edit
becomes building coverage that is non-residential (the palette's other/unknown building is what an industrial
or commercial what-if is drawn with), and every other class (water, bare, grass, ...) removes the buildings
under it. Per pixel, with f = the fraction of its area under the edits (later features on top, as in the map):
new = old x (1 - f_all) + f_building (non-residential mask: + f_other_building). Pixels no edit touches keep
their value bit for bit; the margin keeps it too (blended imagery, not a change of use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.protocol import UserError
from .scenario import Base, open_georeferenced

# edit class -> (building, non-residential) coverage it brings; every other class clears both
BUILDING_CLASSES = {"residential_building": (1.0, 0.0), "other_building": (1.0, 1.0)}
SUPERSAMPLE = 8  # sub-pixels per pixel side for the edits' area fractions (as building-masks' default)
MASKS = (
    ("building_coverage", "building coverage fraction", 0),
    ("nonresidential_coverage", "non-residential building coverage fraction", 1),
)


def read_coverage(path: str, base: Base, name: str) -> np.ndarray:
    """A coverage raster on BASE's grid: read as is when the grids agree, else averaged onto it; NaN where it
    does not reach."""
    from rasterio.warp import Resampling, reproject

    label = name.upper()
    with open_georeferenced(path, label, "give building-masks' coverage GeoTIFF") as src:
        profile = base.profile
        same = (src.crs, src.transform, src.width, src.height) == (
            profile["crs"],
            profile["transform"],
            profile["width"],
            profile["height"],
        )
        if same:
            data = src.read(1).astype(np.float32)
            if src.nodata is not None:
                data[data == src.nodata] = np.nan
            return data
        data = np.full(base.shape, np.nan, np.float32)
        reproject(
            src.read(1).astype(np.float32),
            data,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=src.nodata,
            dst_transform=profile["transform"],
            dst_crs=profile["crs"],
            dst_nodata=np.nan,
            resampling=Resampling.average,
        )
    if np.isnan(data).all():
        raise UserError(f"{label}: {path} does not cover BASE")
    return data


def edit_fractions(edits: list[tuple[Any, str]], base: Base) -> np.ndarray:
    """(3, H, W): the fraction of each pixel under any edit, under building edits, under non-residential ones."""
    import shapely

    from ..masks.command import coverage

    visible, above = [], None  # each edit minus the later ones drawn over it
    for geom, name in reversed(edits):
        visible.append((geom if above is None else shapely.difference(geom, above), name))
        above = geom if above is None else shapely.union(above, geom)
    grid = (base.profile["transform"], base.profile["width"], base.profile["height"], SUPERSAMPLE)
    out = [coverage([g for g, _ in visible], *grid)]
    for column in (0, 1):
        out.append(coverage([g for g, n in visible if BUILDING_CLASSES.get(n, (0, 0))[column]], *grid))
    return np.stack(out)


def read_coverages(params: dict[str, Any], base: Base) -> list[tuple[str, np.ndarray, Path, str, int]]:
    """(key, mask on BASE's grid, output path, description, column) of each coverage mask given, read before
    any work; an output without its input is refused (the buildings outside the edits are not known)."""
    chosen = []
    output = Path(params["output"])
    for key, description, column in MASKS:
        source, target = params.get(key) or "", params.get(f"output_{key}") or ""
        if target and not source:
            raise UserError(
                f"OUTPUT_{key.upper()}: give {key.upper()} (building-masks' {description}) to update; "
                "the buildings outside the edits are not known without it"
            )
        if source:
            path = Path(target) if target else output.with_name(f"{output.stem}_{key}.tif")
            chosen.append((key, read_coverage(source, base, key), path, description, column))
    return chosen


def write_coverages(chosen: list, edits: list[tuple[Any, str]], base: Base) -> dict[str, str]:
    """Write the updated coverage masks; returns {output key: path}."""
    from ..masks.command import write_mask

    if not chosen:
        return {}
    fractions = edit_fractions(edits, base)
    under = fractions[0] > 0
    whole = fractions[0] >= 1  # an unknown value (NaN) under a whole-pixel edit is known afterwards
    written = {}
    for key, old, path, description, column in chosen:
        new = old.copy()
        new[under] = (np.where(whole, 0, old) * (1 - fractions[0]) + fractions[1 + column])[under]
        write_mask(path, np.clip(new, 0, 1, out=new), base.profile["crs"], base.profile["transform"], description)
        written[f"output_{key}"] = str(path)
    return written
