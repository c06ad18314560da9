"""`derive-maps`: semantic maps derived from Sentinel-2 patches themselves, for training where no map exists.

A demonstration model of land-cover -> Sentinel-2 appearance needs maps that look like MapSynth's OSM renders.
From each reflectance patch: water (NDWI), bare ground and sand (bright, yellowish, little vegetation), built-up
(grey, little vegetation), forest (dense, dark vegetation), grass/farmland (other vegetation); and the linear
structure the OSM render draws: hedgerows and field boundaries (thin dark lines in NIR: morphological black-hat)
and roads and lanes (thin bright, low-NDVI lines: ridge filters, roads.py) in the road colour, so OSM roads drawn at
>= 8 m have a class the model learned from real roads. Drawn in the semantic palette, with its reduced class set. OSM
renders are remapped onto the same classes at generation (``MAP_REMAP``). With ``parcel_boundaries`` (derive-maps
--parcel-boundaries, an experiment: make bench-realism-parcels) the edges where one field meets the next are drawn too
(field_edges.py), in the OSM render's parcel-boundary colour. With ``settlements`` (derive-maps --settlements, an
experiment: make bench-realism-settlements) the gardens and verges inside a town become residential land use, as OSM
draws a town (settlements.py).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import load_grid
from ..radiometry import decode_reflectance
from ..runtime.geotiff import write_geotiff
from ..runtime.jobs import Command, Param
from ..runtime.outputs import MANIFEST, prepare_output_dir
from ..runtime.protocol import Reporter, UserError
from .field_edges import field_edges
from .roads import road_lines
from .settlements import mark_settlements

STYLE = "derived land cover v2 (roads)"
STYLE_PARCELS = "derived land cover v3 (roads, parcel boundaries)"
STYLE_SETTLEMENTS = "derived land cover v4 (roads, settlements)"
STYLE_BOTH = "derived land cover v5 (roads, parcel boundaries, settlements)"
DERIVED_CLASSES = (
    "water",
    "forest",
    "grass",
    "bare",
    "other_building",
    "hedge",
    "minor_road",
    "parcel_boundary",
    "residential_landuse",
)
# Every semantic class of the OSM render, mapped onto the derived classes the demo model knows.
MAP_REMAP = {
    "background": "grass",
    "farmland": "grass",
    "grass": "grass",
    "forest": "forest",
    "wetland": "grass",
    "bare": "bare",
    "residential_landuse": "other_building",
    "nonresidential_landuse": "other_building",
    "paved": "other_building",
    "water": "water",
    "parcel_boundary": "hedge",
    "hedge": "hedge",
    "wall": "other_building",
    "residential_building": "other_building",
    "other_building": "other_building",
    "waterway": "water",
    "path": "minor_road",
    "railway": "other_building",
    "minor_road": "minor_road",
    "major_road": "minor_road",
}


def _semantic_palette() -> dict[str, Any]:
    return json.loads(resources.files("mapsynth_backend").joinpath("data/semantic_palette.json").read_text())


def palette() -> dict[str, tuple[int, int, int]]:
    return {c["key"]: tuple(c["rgb"]) for c in _semantic_palette()["classes"]}


def outside_data() -> tuple[int, int, int]:
    """The map colour of 'no information' (outside the map source's data; generation writes nodata there)."""
    return tuple(_semantic_palette()["outside_data"]["rgb"])


def remap_table() -> dict[str, list[int]]:
    """'r,g,b' of each OSM-render class -> RGB of its derived class (stored in the model card)."""
    colours = palette()
    return {",".join(map(str, colours[src])): list(colours[dst]) for src, dst in MAP_REMAP.items()}


def derive(reflectance: np.ndarray, parcel_boundaries: bool = False, settlements: bool = False) -> np.ndarray:
    """(B02, B03, B04, B08) reflectance (4, H, W) -> map RGB (3, H, W) uint8 in the derived classes; with
    ``parcel_boundaries`` the field edges in grass and forest too (field_edges.py), with ``settlements`` the
    vegetation inside towns as residential land use (settlements.py)."""
    import cv2

    blue, green, red, nir = (np.nan_to_num(b) for b in reflectance)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = np.nan_to_num((nir - red) / (nir + red))
        ndwi = np.nan_to_num((green - nir) / (green + nir))
    colours = palette()
    cls = np.full(ndvi.shape, "grass", dtype=object)
    cls[(ndvi > 0.55) & (green < 0.045) & (nir < 0.33)] = "forest"
    low_vegetation = ndvi < 0.3
    yellowish = (red > green) & (red - blue > 0.02)
    bare = low_vegetation & ((yellowish & (red > 0.07)) | (red > 0.11))  # bare fields, sand and beaches
    cls[bare] = "bare"
    cls[low_vegetation & ~bare] = "other_building"
    cls[(ndwi > 0.1) | ((ndwi > -0.05) & (nir < 0.05))] = "water"
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    dark_lines = cv2.morphologyEx(nir.astype(np.float32), cv2.MORPH_BLACKHAT, kernel)
    bright_lines = cv2.morphologyEx(red.astype(np.float32), cv2.MORPH_TOPHAT, kernel)
    vegetated = np.isin(cls, ["grass", "forest"])
    cls[vegetated & (dark_lines > 0.035) & (ndvi > 0.4)] = "hedge"
    cls[(cls == "grass") & (bright_lines > 0.025) & (ndvi < 0.55)] = "other_building"
    cls[road_lines(reflectance, cls == "water")] = "minor_road"
    if settlements:
        cls = mark_settlements(cls, yellowish)
    if parcel_boundaries:
        cls[field_edges(reflectance, np.isin(cls, ["grass", "forest"]))] = "parcel_boundary"
    out = np.zeros((3, *ndvi.shape), np.uint8)
    for name in DERIVED_CLASSES:
        mask = cls == name
        for channel in range(3):
            out[channel][mask] = colours[name][channel]
    return out


def derive_maps(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import rasterio

    grid = load_grid(params["patch_grid"])
    s2_dir, out = Path(params["s2_dir"]), Path(params["output_dir"])
    try:
        manifest = json.loads((s2_dir / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"S2_DIR: {s2_dir} is not a folder of Sentinel-2 patches") from exc
    if manifest.get("grid_fingerprint") != grid.fingerprint:
        raise UserError(f"S2_DIR: {s2_dir} was cropped for another grid")
    parcels, settlements = bool(params.get("parcel_boundaries")), bool(params.get("settlements"))
    style = {(False, False): STYLE, (True, False): STYLE_PARCELS, (False, True): STYLE_SETTLEMENTS}.get(
        (parcels, settlements), STYLE_BOTH
    )
    prepare_output_dir(out, "map", grid.fingerprint, {"style": style, "source": "Sentinel-2 patches"})
    written = 0
    for number, patch in enumerate(grid.patches):
        reporter.check_cancel()
        source, target = s2_dir / f"{patch.patch_id}.tif", out / f"{patch.patch_id}.tif"
        if not source.exists() or target.exists():
            continue
        with rasterio.open(source) as src:
            reflectance = decode_reflectance(src.read())
            crs, transform = src.crs, src.transform
        if not np.isfinite(reflectance).all(axis=0).any():
            continue
        write_geotiff(target, derive(reflectance, parcels, settlements), crs, transform)
        written += 1
        reporter.progress((number + 1) / len(grid.patches), f"map {patch.patch_id}", "derive-maps")
    return {"output_dir": str(out), "written": written}


COMMANDS = (
    Command(
        "derive-maps",
        "Derive semantic land-cover maps (with hedgerows and lanes) from Sentinel-2 patches.",
        derive_maps,
        (
            Param("patch_grid", "path", help="the grid GeoPackage"),
            Param("s2_dir", "path", help="Sentinel-2 patches (crop-sentinel2)"),
            Param("output_dir", "path", help="folder for the derived map patches"),
            Param(
                "parcel_boundaries",
                "bool",
                False,
                "also draw the edges where one field meets the next, in the parcel-boundary colour (an experiment:"
                " make bench-realism-parcels; the embedded demo model was trained without them)",
            ),
            Param(
                "settlements",
                "bool",
                False,
                "draw the gardens and verges inside towns as residential land use, as OSM draws a town (an"
                " experiment: make bench-realism-settlements; the embedded demo model was trained without them)",
            ),
        ),
    ),
)
