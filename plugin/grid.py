"""The patch-grid GeoPackage on the QGIS side: write it atomically, read its definition back.

Format (docs/GRID_FORMAT.md): layer ``patches`` (one polygon per patch) plus a one-row attribute table
``mapsynth_grid`` holding the grid definition as JSON and its fingerprint. The backend reads the same file
through ``mapsynth_backend.grid``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from osgeo import ogr, osr
from qgis.core import QgsCoordinateReferenceSystem, QgsProcessingException

from .contract import contract
from .i18n import tr

GRID_FORMAT, FORMAT_VERSION = contract.GRID_FORMAT, contract.FORMAT_VERSION
GRID_TABLE, PATCH_LAYER, STATUS_TABLE = contract.GRID_TABLE, contract.PATCH_LAYER, contract.STATUS_TABLE
SAFE_PATCH_ID = contract.SAFE_PATCH_ID
fingerprint, patch_id = contract.fingerprint, contract.patch_id
PATCH_FIELDS = (
    ("patch_id", ogr.OFTString), ("row", ogr.OFTInteger), ("col", ogr.OFTInteger), ("x_min", ogr.OFTReal),
    ("y_max", ogr.OFTReal), ("pixel_size", ogr.OFTReal), ("size_px", ogr.OFTInteger),
    ("overlap_px", ogr.OFTInteger), ("split", ogr.OFTString),
)


def _spatial_ref(crs: QgsCoordinateReferenceSystem) -> osr.SpatialReference:
    srs = osr.SpatialReference()
    authid = crs.authid()
    if authid.upper().startswith("EPSG:") and srs.ImportFromEPSG(int(authid.split(":")[1])) == 0:
        return srs
    srs.ImportFromWkt(crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED))
    return srs


def _ring(x_min: float, y_min: float, x_max: float, y_max: float) -> ogr.Geometry:
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((x_min, y_max), (x_max, y_max), (x_max, y_min), (x_min, y_min), (x_min, y_max)):
        ring.AddPoint_2D(x, y)
    polygon = ogr.Geometry(ogr.wkbPolygon)
    polygon.AddGeometry(ring)
    return polygon


def write_grid(path: Path, definition: dict[str, Any], cells: list[tuple[int, int, str]],
               crs: QgsCoordinateReferenceSystem, feedback=None) -> None:
    """Write the grid to a temporary GeoPackage beside ``path`` and rename it when complete."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial.gpkg")
    size_m = definition["patch_size"] * definition["pixel_size"]
    stride_m = (definition["patch_size"] - definition["overlap"]) * definition["pixel_size"]
    width = max(4, len(str(max(definition["rows"], definition["cols"]) - 1)))
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp), ["VERSION=1.2"])  # read by every GDAL, no warning
    if ds is None:
        raise QgsProcessingException(tr("OUTPUT: cannot create {path} (is the folder writable?)").format(path=path))
    try:
        layer = ds.CreateLayer(PATCH_LAYER, _spatial_ref(crs), ogr.wkbPolygon,
                               ["GEOMETRY_NAME=geom", "FID=fid", "DESCRIPTION=MapSynth patch grid"])
        for name, kind in PATCH_FIELDS:
            layer.CreateField(ogr.FieldDefn(name, kind))
        defn = layer.GetLayerDefn()
        layer.StartTransaction()
        for index, (row, col, split) in enumerate(cells):
            if feedback is not None and index % 1000 == 0:
                if feedback.isCanceled():
                    raise QgsProcessingException(tr("Cancelled: no grid written"))
                feedback.setProgress(80.0 + 20.0 * index / len(cells))
            x_min = definition["origin_x"] + col * stride_m
            y_max = definition["origin_y"] - row * stride_m
            feature = ogr.Feature(defn)
            for name, value in (("patch_id", patch_id(row, col, width)), ("row", row), ("col", col),
                                ("x_min", x_min), ("y_max", y_max), ("pixel_size", definition["pixel_size"]),
                                ("size_px", definition["patch_size"]), ("overlap_px", definition["overlap"]),
                                ("split", split)):
                feature.SetField(name, value)
            feature.SetGeometryDirectly(_ring(x_min, y_max - size_m, x_min + size_m, y_max))
            layer.CreateFeature(feature)
        layer.CommitTransaction()
        ds.ExecuteSQL("CREATE UNIQUE INDEX idx_patches_patch_id ON patches(patch_id)")
        table = ds.CreateLayer(GRID_TABLE, None, ogr.wkbNone, ["DESCRIPTION=MapSynth grid definition (JSON)"])
        table.CreateField(ogr.FieldDefn("definition", ogr.OFTString))
        table.CreateField(ogr.FieldDefn("fingerprint", ogr.OFTString))
        record = ogr.Feature(table.GetLayerDefn())
        record.SetField("definition", json.dumps(definition, indent=1))
        record.SetField("fingerprint", definition["fingerprint"])
        table.CreateFeature(record)
        ds.FlushCache()
        ds = None  # closes the file
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        ds = None
        for leftover in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            leftover.unlink(missing_ok=True)


def read_definition(path: str | Path) -> dict[str, Any]:
    """The grid definition of a grid GeoPackage, its fingerprint verified."""
    path = Path(str(path).split("|", 1)[0])
    hint = tr("create it with mapsynth:create_patch_grid")
    if not path.is_file():
        raise QgsProcessingException(tr("PATCH_GRID: file not found: {path}").format(path=path))
    try:
        with sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT definition, fingerprint FROM mapsynth_grid").fetchone()
        definition = json.loads(row[0])
    except (sqlite3.DatabaseError, TypeError, ValueError) as exc:
        raise QgsProcessingException(tr("PATCH_GRID: {path} is not a MapSynth patch grid; {hint}").format(
            path=path, hint=hint)) from exc
    if definition.get("format") != GRID_FORMAT or definition.get("format_version", 0) > FORMAT_VERSION:
        raise QgsProcessingException(tr("PATCH_GRID: {path} is not a MapSynth patch grid of format {v}; {hint}")
                                     .format(path=path, v=FORMAT_VERSION, hint=hint))
    if fingerprint(definition) != definition.get("fingerprint") or row[1] != definition.get("fingerprint"):
        raise QgsProcessingException(tr("PATCH_GRID: {path}: the grid definition was changed after creation"
                                        " (fingerprint mismatch)").format(path=path))
    return definition


def list_patches(path: str | Path) -> list[dict[str, Any]]:
    """Patches of a grid (patch_id, row, col, split), north to south, west to east."""
    path = Path(str(path).split("|", 1)[0])
    with sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT patch_id, row, col, split FROM patches ORDER BY row, col").fetchall()
    unsafe = [str(p) for p, _, _, _ in rows if not SAFE_PATCH_ID.fullmatch(str(p))]
    if unsafe:  # patch ids become file names: a grid must not steer writes out of the output folders
        raise QgsProcessingException(tr("PATCH_GRID: {path}: patch id {pid!r} is not a plain file name "
                                        "([A-Za-z0-9_-])").format(path=path, pid=unsafe[0]))
    return [{"patch_id": p, "row": r, "col": c, "split": s} for p, r, c, s in rows]


def record_status(path: str | Path, step: str, records: list[dict[str, Any]]) -> None:
    """Per-patch outcome of a step in the grid's ``mapsynth_status`` table (one row per patch and step)."""
    contract.record_status(Path(str(path).split("|", 1)[0]), step, records)


def read_status(path: str | Path, step: str) -> dict[str, dict[str, Any]]:
    return contract.read_status(Path(str(path).split("|", 1)[0]), step)


def patches_extent(definition: dict[str, Any], patches: list[dict[str, Any]]) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max) covering the given patches."""
    stride = (definition["patch_size"] - definition["overlap"]) * definition["pixel_size"]
    size = definition["patch_size"] * definition["pixel_size"]
    rows = [p["row"] for p in patches]
    cols = [p["col"] for p in patches]
    return (definition["origin_x"] + min(cols) * stride, definition["origin_y"] - max(rows) * stride - size,
            definition["origin_x"] + max(cols) * stride + size, definition["origin_y"] - min(rows) * stride)
