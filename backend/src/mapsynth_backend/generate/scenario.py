"""The inputs of a what-if scenario, on BASE's pixel grid: BASE's bands and encoding, the edit polygons (any CRS)
rasterised as a change mask, and the map of the area (rendered, or derived from BASE as the demo maps are)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.protocol import UserError

# OUTPUT_MASK values: what happened to each pixel of BASE.
UNCHANGED, EDITED, MARGIN = 0, 1, 2


@dataclass
class Base:
    """BASE as read: its DNs (kept for the bitwise copy), their encoding and the reflectance in model band order."""

    dn: np.ndarray  # (count, H, W), BASE's dtype, all bands
    reflectance: np.ndarray  # (model bands, H, W) float64, NaN = nodata
    bands: list[int]  # 0-based BASE band of each model band
    scale: float
    offset: float
    nodata: float | None
    profile: dict[str, Any]
    descriptions: tuple[str | None, ...]

    @property
    def shape(self) -> tuple[int, int]:
        return self.dn.shape[1], self.dn.shape[2]

    def encode(self, reflectance: np.ndarray) -> np.ndarray:
        """Reflectance -> DNs in BASE's encoding and dtype; never the nodata value."""
        info = np.iinfo(self.dn.dtype) if np.issubdtype(self.dn.dtype, np.integer) else None
        dn = (reflectance - self.offset) / self.scale
        if info is None:
            return dn.astype(self.dn.dtype)
        low = info.min + 1 if self.nodata == info.min else info.min
        dn = np.clip(np.rint(dn), low, info.max)
        if self.nodata is not None and low <= self.nodata <= info.max:
            dn[dn == self.nodata] = self.nodata + 1
        return dn.astype(self.dn.dtype)


def open_georeferenced(path: str, label: str, hint: str):
    """The raster at ``path`` opened with rasterio; unreadable or without CRS: one error line naming ``label``."""
    import rasterio

    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise UserError(f"{label}: cannot open {path}: {str(exc).splitlines()[0]}") from exc
    if src.crs is None:
        src.close()
        raise UserError(f"{label}: {path} has no CRS; {hint}")
    return src


def read_base(path: str, model_bands: list[str], scale: float, offset: float) -> Base:
    """BASE with its encoding: SCALE/OFFSET when given, else the band metadata, else MapSynth's (DN/10000 - 0.1)."""
    from ..radiometry import ENCODING

    with open_georeferenced(path, "BASE", "it must be a georeferenced raster") as src:
        descriptions = src.descriptions
        named = {d.upper(): i for i, d in enumerate(descriptions) if d}
        if all(b.upper() in named for b in model_bands):
            bands = [named[b.upper()] for b in model_bands]
        elif src.count == len(model_bands):
            bands = list(range(src.count))
        else:
            raise UserError(
                f"BASE: {path} has {src.count} bands without the descriptions {', '.join(model_bands)};"
                f" give a raster with the model's bands in this order"
            )
        dn = src.read()
        if not scale:
            scale = src.scales[bands[0]] if src.scales[bands[0]] not in (None, 1.0) else ENCODING["scale"]
            offset = src.offsets[bands[0]] if src.scales[bands[0]] not in (None, 1.0) else ENCODING["offset"]
        nodata = src.nodata
        profile = {"crs": src.crs, "transform": src.transform, "width": src.width, "height": src.height}
    values = dn[bands].astype(np.float64) * scale + offset
    if nodata is not None:
        values[dn[bands] == nodata] = np.nan
    return Base(dn, values, bands, float(scale), float(offset), nodata, profile, descriptions)


def read_edits(path: str, class_field: str, base: Base, classes: dict[str, Any]) -> list[tuple[Any, str]]:
    """Edit polygons reprojected onto BASE's CRS, with their class; one clear error per kind of bad input."""
    import pyogrio
    import shapely
    from pyproj import CRS, Transformer

    try:
        meta, _, geometry, values = pyogrio.raw.read(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input for the user
        raise UserError(f"EDITS: cannot read {path}: {str(exc).splitlines()[0]}") from exc
    if not meta.get("crs"):
        raise UserError(f"EDITS: {path} has no CRS; assign the layer's CRS before editing")
    fields = list(meta["fields"])
    if class_field not in fields:
        raise UserError(f"CLASS_FIELD: {class_field!r} is not a field of EDITS ({', '.join(fields) or 'no fields'})")
    names = [str(v) if v is not None else "" for v in values[fields.index(class_field)]]
    geoms = shapely.from_wkb(geometry, on_invalid="fix")
    source, target = CRS.from_user_input(meta["crs"]), CRS.from_user_input(base.profile["crs"].to_wkt())
    if source != target:
        transformer = Transformer.from_crs(source, target, always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    left, top = base.profile["transform"].c, base.profile["transform"].f
    right = left + base.profile["width"] * base.profile["transform"].a
    bottom = top + base.profile["height"] * base.profile["transform"].e
    extent = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    pixel_area = abs(base.profile["transform"].a * base.profile["transform"].e)
    edits = []
    for number, (geom, name) in enumerate(zip(geoms, names, strict=True), start=1):
        if geom is None or geom.is_empty:
            continue
        if name not in classes:
            raise UserError(
                f"EDITS: feature {number} has class {name!r}, not a semantic-palette class ({', '.join(classes)})"
            )
        if not geom.intersects(extent):
            raise UserError(f"EDITS: feature {number} ({name}) lies outside BASE's extent; draw it over BASE")
        beyond = geom.difference(extent).area / pixel_area
        if beyond > 0.01:  # not clipped silently: the edit the user drew would not be the edit made
            raise UserError(
                f"EDITS: feature {number} ({name}) reaches {beyond:.1f} px beyond BASE's extent; "
                "clip it to BASE or give a larger BASE"
            )
        edits.append((geom, name))
    if not edits:
        raise UserError(f"EDITS: {path} has no polygons")
    return edits


def rasterise(edits: list[tuple[Any, str]], base: Base) -> tuple[np.ndarray, np.ndarray]:
    """Edit mask (H, W) bool and the index of each pixel's edit (-1 none, later features on top).

    Rule: a pixel belongs to an edit when its centre lies inside the polygon (GDAL's default, not all-touched),
    so the mask's area matches the polygon's; pixels only touched by the outline fall in the MARGIN band."""
    from rasterio.features import rasterize

    index = rasterize(
        [(geom, number) for number, (geom, _) in enumerate(edits)],
        out_shape=base.shape,
        transform=base.profile["transform"],
        fill=-1,
        all_touched=False,
        dtype="int32",
    )
    return index >= 0, index


def area_map(map_path: str, map_dir: str, base: Base) -> np.ndarray:
    """The map of BASE's area (3, H, W) uint8: a rendered map raster (MAP) or folder of map patches (MAP_DIR),
    warped (nearest) onto BASE's grid; where none is given or it does not reach, derived from BASE itself as
    the demo model's training maps were."""
    from ..prepare.landcover import derive

    if map_path and map_dir:
        raise UserError("MAP and MAP_DIR: give one map (a raster or a folder of patches), not both")
    derived = derive(base.reflectance.astype(np.float32))
    if not map_path and not map_dir:
        return derived
    import rasterio
    from rasterio.warp import Resampling, reproject

    label, source = ("MAP_DIR", map_dir) if map_dir else ("MAP", map_path)
    folder = Path(source)
    paths = sorted(p for p in folder.glob("*.tif") if not p.name.startswith(".")) if folder.is_dir() else [folder]
    if not paths:
        raise UserError(f"{label}: {source} holds no map rasters (*.tif)")
    out = np.zeros((3, *base.shape), np.uint8)
    covered = np.zeros(base.shape, bool)
    for path in paths:
        try:
            with rasterio.open(path) as src:
                if src.count < 3 or src.crs is None:
                    raise UserError(f"{label}: {path} is not a georeferenced RGB map raster")
                layers = np.zeros((3, *base.shape), np.uint8)
                reproject(
                    src.read([1, 2, 3]),
                    layers,
                    src_transform=src.transform,
                    src_crs=src.crs,
                    dst_transform=base.profile["transform"],
                    dst_crs=base.profile["crs"],
                    dst_nodata=0,
                    resampling=Resampling.nearest,
                )
                inside = layers.any(axis=0)
                out[:, inside] = layers[:, inside]
                covered |= inside
        except rasterio.errors.RasterioIOError as exc:
            raise UserError(f"{label}: cannot open {path}: {str(exc).splitlines()[0]}") from exc
    if not covered.any():
        raise UserError(f"{label}: {source} does not cover BASE")
    out[:, ~covered] = derived[:, ~covered]
    return out


def paint(map_rgb: np.ndarray, index: np.ndarray, edits: list[tuple[Any, str]], classes: dict) -> np.ndarray:
    """The edited map: each edit's pixels in its class colour."""
    edited = map_rgb.copy()
    for number, (_, name) in enumerate(edits):
        where = index == number
        for channel in range(3):
            edited[channel][where] = classes[name][channel]
    return edited
