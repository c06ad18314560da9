"""`map-from-land-cover`: map patches on the grid from a classified raster (any CRS) or land-cover polygons.

Values become semantic classes through a lookup table *before* resampling, and the grid takes the majority
class of each cell (GDAL's mode for rasters, a supersampled count for polygons): maps are exact palette colours,
never blends, and two codes of one class (broad-leaved and coniferous forest) add up. Pixels outside the source,
its own no data and values mapped to ``nodata`` are no data (black under an internal mask); patches with no data
at all are not written. OSM lines rendered by the QGIS side (``LINES_DIR``, RGBA per patch) are drawn on top.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import load_grid
from ..runtime.geotiff import write_geotiff
from ..runtime.jobs import Command, Param
from ..runtime.outputs import prepare_output_dir
from ..runtime.protocol import Reporter, UserError
from .finish import finish_patches
from .landcover import palette
from .lookup import CHOICES, LookupTable, colour_lut, palette_version, read_table, resolve_table

UNKNOWN = ("refuse", "no data")
SUPERSAMPLE = 5  # sub-pixels per pixel side when polygons are counted per cell


def refuse_unknown(unknown: set[str], table: LookupTable) -> None:
    if unknown:
        shown = ", ".join(sorted(unknown, key=lambda v: (len(v), v))[:12])
        raise UserError(
            f"TABLE: {len(unknown)} class value(s) are not in {table.name}: {shown}; add them to a table of your own"
            " (TABLE_FILE) or set UNKNOWN to 'no data'"
        )


class RasterSource:
    """A classified raster band, read window by window under each patch."""

    def __init__(self, path: str, band: int) -> None:
        import rasterio

        try:
            self.dataset = rasterio.open(path)
        except rasterio.errors.RasterioIOError as exc:
            raise UserError(f"INPUT: cannot read {path}: {str(exc).splitlines()[0]}") from exc
        if self.dataset.crs is None:
            self.dataset.close()
            raise UserError(f"INPUT: {path} has no CRS; assign one (gdal_edit.py -a_srs EPSG:...) first")
        if not 1 <= band <= self.dataset.count:
            self.dataset.close()
            raise UserError(f"BAND: {path} has {self.dataset.count} band(s), not {band}")
        if not np.issubdtype(np.dtype(self.dataset.dtypes[band - 1]), np.integer):
            self.dataset.close()
            raise UserError(f"INPUT: {path} band {band} is {self.dataset.dtypes[band - 1]}, not classes (integers)")
        self.band = band
        self.description = f"{Path(path).name} band {band}"

    def close(self) -> None:
        self.dataset.close()

    def window(self, bounds, grid_crs):
        """The source window under ``bounds`` (grid CRS) plus one pixel, or None outside the raster."""
        from rasterio.warp import transform_bounds
        from rasterio.windows import Window

        src = self.dataset
        left, bottom, right, top = transform_bounds(grid_crs, src.crs, *bounds, densify_pts=21)
        inverse = ~src.transform
        corners = [inverse * (x, y) for x in (left, right) for y in (bottom, top)]
        col0 = max(int(np.floor(min(c for c, _ in corners))) - 1, 0)
        row0 = max(int(np.floor(min(r for _, r in corners))) - 1, 0)
        col1 = min(int(np.ceil(max(c for c, _ in corners))) + 1, src.width)
        row1 = min(int(np.ceil(max(r for _, r in corners))) + 1, src.height)
        if col1 <= col0 or row1 <= row0:
            return None
        return Window(col0, row0, col1 - col0, row1 - row0)

    def classes(self, table: LookupTable, bounds, grid_crs, size: int) -> tuple[np.ndarray, set[str]]:
        """Class indices on the patch (mode resampling of classes, not of raw values) and unknown values."""
        from rasterio.enums import Resampling
        from rasterio.transform import Affine
        from rasterio.warp import reproject

        out = np.zeros((size, size), np.uint8)
        window = self.window(bounds, grid_crs)
        if window is None:
            return out, set()
        data = self.dataset.read(self.band, window=window, masked=True)
        source, unknown = table.lookup(data.data, ~np.ma.getmaskarray(data))
        pixel = (bounds[2] - bounds[0]) / size
        reproject(
            source,
            out,
            src_transform=self.dataset.window_transform(window),
            src_crs=self.dataset.crs,
            src_nodata=0,
            dst_transform=Affine(pixel, 0, bounds[0], 0, -pixel, bounds[3]),
            dst_crs=grid_crs,
            dst_nodata=0,
            resampling=Resampling.mode,
        )
        return out, unknown


class VectorSource:
    """Land-cover polygons with a class field, reprojected to the grid and classified once."""

    def __init__(self, path: str, field: str, table: LookupTable, grid_crs, area) -> None:
        import pyogrio
        import shapely
        from pyproj import CRS, Transformer

        if not field:
            raise UserError("CLASS_FIELD: give the field of VECTOR that holds the class values")
        try:
            info = pyogrio.read_info(path)
            if field not in list(info["fields"]):
                raise UserError(f"CLASS_FIELD: {path} has no field {field!r} (fields: {', '.join(info['fields'])})")
            if not info.get("crs"):
                raise UserError(f"VECTOR: {path} has no CRS")
            to_source = Transformer.from_crs(grid_crs.to_wkt(), CRS.from_user_input(info["crs"]), always_xy=True)
            bbox = to_source.transform_bounds(*area, densify_pts=21)
            _, _, wkbs, values = pyogrio.raw.read(path, columns=[field], bbox=bbox)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input for the user
            raise UserError(f"VECTOR: cannot read {path}: {str(exc).splitlines()[0]}") from exc
        to_grid = Transformer.from_crs(CRS.from_user_input(info["crs"]), grid_crs.to_wkt(), always_xy=True)
        self.shapes: list[tuple[Any, int]] = []
        self.unknown: set[str] = set()
        for wkb, value in zip(wkbs, values[0], strict=True):
            if wkb is None or value is None:
                continue
            index = table.class_index(value)
            if index is None:
                self.unknown.add(str(value))
            elif index:
                geometry = shapely.transform(shapely.from_wkb(wkb), to_grid.transform, interleaved=False)
                self.shapes.append((shapely.make_valid(geometry), index))
        self.tree = shapely.STRtree([geometry for geometry, _ in self.shapes])
        self.description = f"{Path(path).name} field {field}"

    def close(self) -> None:
        pass

    def classes(self, table: LookupTable, bounds, grid_crs, size: int) -> tuple[np.ndarray, set[str]]:
        import shapely
        from rasterio.features import rasterize
        from rasterio.transform import Affine

        hits = sorted(self.tree.query(shapely.box(*bounds), predicate="intersects"))
        if not hits:
            return np.zeros((size, size), np.uint8), set()
        fine = size * SUPERSAMPLE
        pixel = (bounds[2] - bounds[0]) / fine
        burned = rasterize(
            [self.shapes[i] for i in hits],
            out_shape=(fine, fine),
            transform=Affine(pixel, 0, bounds[0], 0, -pixel, bounds[3]),
            fill=0,
            dtype="uint8",
        )
        return majority(burned, SUPERSAMPLE), set()


def majority(fine: np.ndarray, factor: int) -> np.ndarray:
    """The most frequent class (ignoring 0, no data) of each factor x factor block; ties go to the lower class."""
    rows, cols = fine.shape[0] // factor, fine.shape[1] // factor
    blocks = fine.reshape(rows, factor, cols, factor).transpose(0, 2, 1, 3).reshape(rows, cols, -1)
    counts = np.stack([(blocks == index).sum(axis=-1) for index in range(1, max(int(fine.max()), 1) + 1)], axis=-1)
    best = counts.argmax(axis=-1).astype(np.uint8) + 1
    best[counts.max(axis=-1) == 0] = 0
    return best


def rgb_code(rgb: np.ndarray) -> np.ndarray:
    return (rgb[0].astype(np.int64) << 16) | (rgb[1].astype(np.int64) << 8) | rgb[2]


def draw_lines(classes_rgb: np.ndarray, valid: np.ndarray, lines_path: Path) -> int:
    """OSM lines (opaque palette-coloured pixels of the QGIS render) over the land-cover base, inside its data."""
    import rasterio

    with rasterio.open(lines_path) as src:
        rgba = src.read()
    if rgba.shape[0] != 4 or rgba.shape[1:] != classes_rgb.shape[1:]:
        raise UserError(f"LINES_DIR: {lines_path} is not an RGBA render of this patch")
    palette_codes = [rgb_code(np.array(rgb)) for rgb in palette().values()]
    line = (rgba[3] == 255) & np.isin(rgb_code(rgba[:3]), palette_codes) & valid
    classes_rgb[:, line] = rgba[:3, line]
    return int(line.sum())


def write_map(path: Path, rgb: np.ndarray, valid: np.ndarray, bounds, crs, tags: dict[str, str]) -> None:
    from rasterio.transform import Affine

    pixel = (bounds[2] - bounds[0]) / rgb.shape[2]
    mask = None if valid.all() else np.where(valid, 255, 0).astype(np.uint8)
    transform = Affine(pixel, 0, bounds[0], 0, -pixel, bounds[3])
    write_geotiff(path, rgb, crs, transform, mask=mask, tags=tags, photometric="RGB")


def open_source(params: dict[str, Any], table: LookupTable, grid_crs, area):
    if bool(params["input"]) == bool(params["vector"]):
        raise UserError("give either INPUT (a classified raster) or VECTOR (land-cover polygons), exactly one")
    if params["input"]:
        return RasterSource(params["input"], params["band"])
    return VectorSource(params["vector"], params["class_field"], table, grid_crs, area)


def map_from_land_cover(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    from rasterio.crs import CRS

    grid = load_grid(params["patch_grid"])
    if not grid.patches:
        raise UserError(f"PATCH_GRID {grid.path} has no patches")
    table = read_table(resolve_table(params["table"], params["table_file"]))
    if params["osm_file"] and not params["lines_dir"]:
        raise UserError("OSM_FILE: OSM lines are rendered in QGIS; run mapsynth:map_from_land_cover there")
    grid_crs = CRS.from_wkt(grid.crs_wkt)
    boxes = np.array([grid.bounds(p.row, p.col) for p in grid.patches])
    area = (boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
    source = open_source(params, table, grid_crs, area)
    out, size, refuse = Path(params["output_dir"]), grid.patch_size, params["unknown"] == "refuse"
    try:
        unknown = set(getattr(source, "unknown", set()))
        if refuse and isinstance(source, RasterSource):  # refuse before anything is written
            for patch in grid.patches:
                reporter.check_cancel()
                unknown |= source.classes(table, grid.bounds(patch.row, patch.col), grid_crs, size)[1]
        if refuse:
            refuse_unknown(unknown, table)
        details = {
            "style": f"semantic v{palette_version()}",
            "source": f"land cover: {source.description}",
            "table": table.name,
            "table_sha256": hashlib.sha256(table.path.read_bytes()).hexdigest()[:16],
            "unknown": params["unknown"],
            "lines": Path(params["osm_file"]).name if params["osm_file"] else "",
        }
        prepare_output_dir(out, "map", grid.fingerprint, details)
        result = _write_patches(source, table, grid, grid_crs, out, params, details, reporter)
        result["unknown_values"] = sorted(unknown | result.pop("unknown"))
    finally:
        source.close()
    if result["unknown_values"]:
        reporter.log(
            f"values not in {table.name} became no data: {', '.join(result['unknown_values'][:12])}", "warning"
        )
    return result


def _write_patches(source, table, grid, grid_crs, out: Path, params, details, reporter) -> dict[str, Any]:
    lut = colour_lut()
    lines_dir = Path(params["lines_dir"]) if params["lines_dir"] else None
    records, written, skipped, unknown = [], 0, 0, set()
    for number, patch in enumerate(grid.patches):
        reporter.check_cancel()
        reporter.progress(number / len(grid.patches), f"patch {patch.patch_id}", "map-from-land-cover")
        target = out / f"{patch.patch_id}.tif"
        if target.exists():
            skipped += 1
            continue
        bounds = grid.bounds(patch.row, patch.col)
        classes, found = source.classes(table, bounds, grid_crs, grid.patch_size)
        unknown |= found
        valid = classes > 0
        if not valid.any():
            records.append({"patch_id": patch.patch_id, "status": "outside", "valid_fraction": 0.0})
            continue
        rgb = np.ascontiguousarray(lut[classes].transpose(2, 0, 1))
        line_pixels = 0
        if lines_dir is not None and (lines_dir / target.name).exists():
            line_pixels = draw_lines(rgb, valid, lines_dir / target.name)
        fraction = float(valid.mean())
        tags = {"patch_id": patch.patch_id, "grid_fingerprint": grid.fingerprint, "valid_fraction": f"{fraction:.6f}"}
        write_map(target, rgb, valid, bounds, grid_crs, {**tags, "map_source": json.dumps(details)})
        written += 1
        records.append(
            {
                "patch_id": patch.patch_id,
                "status": "ok",
                "valid_fraction": fraction,
                "output": str(target),
                "detail": f"{line_pixels} line pixels" if lines_dir else "",
            }
        )
    counts = finish_patches(
        grid, "map", records, (written, skipped), reporter, "map-from-land-cover", "without land cover"
    )
    return {"output_dir": str(out), **counts, "unknown": unknown}


COMMANDS = (
    Command(
        "map-from-land-cover",
        "Map patches on the grid from a classified raster or land-cover polygons through a lookup table.",
        map_from_land_cover,
        (
            Param("patch_grid", "path", help="the grid GeoPackage"),
            Param("input", "str", "", "classified raster (any CRS)"),
            Param("band", "int", 1, "band of INPUT holding the classes", minimum=1),
            Param("vector", "str", "", "or: land-cover polygons (any OGR format)"),
            Param("class_field", "str", "", "field of VECTOR holding the class values"),
            Param("table", "str", CHOICES[0], "lookup table (a shipped one, or TABLE_FILE)", choices=CHOICES),
            Param("table_file", "str", "", "CSV value,class (wins over TABLE)"),
            Param("unknown", "str", "refuse", "values outside the table", choices=UNKNOWN),
            Param("osm_file", "str", "", "OSM extract whose lines are drawn on top (recorded; see LINES_DIR)"),
            Param("lines_dir", "str", "", "RGBA line renders per patch (the QGIS side writes them)"),
            Param("output_dir", "path", help="folder for <patch_id>.tif"),
        ),
    ),
)
