"""Render layers to one patch exactly on its grid cell and write it as a georeferenced GeoTIFF."""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path

import numpy as np
from osgeo import gdal
from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings, QgsProcessingException, QgsRectangle
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage

from .i18n import tr

DPI = 96
OSM_TILE_HOSTS = ("tile.openstreetmap.org",)
MAX_OSM_TILES = 5000  # QGIS core's MAXIMUM_OPENSTREETMAP_TILES_FETCH
WEB_MERCATOR_Z0 = 156543.03392804097  # metres per pixel at zoom 0


def map_settings(layers, crs, rect: QgsRectangle, size: int, background: QColor, transform_context) -> QgsMapSettings:
    """Fixed DPI, no antialiasing, no labels; the visible extent is asserted to be the grid cell."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(crs)
    settings.setTransformContext(transform_context)
    settings.setOutputSize(QSize(size, size))
    settings.setOutputDpi(DPI)
    settings.setExtent(rect)
    settings.setBackgroundColor(background)
    settings.setFlag(QgsMapSettings.Antialiasing, False)
    settings.setFlag(QgsMapSettings.DrawLabeling, False)
    settings.setFlag(QgsMapSettings.UseAdvancedEffects, False)
    visible = settings.visibleExtent()
    tolerance = 1e-6 * rect.width()
    if (abs(visible.xMinimum() - rect.xMinimum()) > tolerance or abs(visible.yMaximum() - rect.yMaximum()) > tolerance
            or abs(visible.width() - rect.width()) > tolerance or abs(visible.height() - rect.height()) > tolerance):
        raise QgsProcessingException(tr("Internal error: the rendered extent {v} differs from the grid cell {r}")
                                     .format(v=visible.toString(), r=rect.toString()))
    return settings


def render_rgba(settings: QgsMapSettings) -> np.ndarray:
    """A blocking (non-preview) render: remote tiles are waited for, never skipped by a preview."""
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    _raise_layer_errors(job, settings)
    image = job.renderedImage().convertToFormat(QImage.Format_RGBA8888)
    height, width = image.height(), image.width()
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    rows = np.frombuffer(bits, np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, : width * 4].reshape(height, width, 4).copy()


TILE_PROVIDERS = ("wms", "wcs", "arcgismapserver", "vectortile")  # missing tiles: retried by the completeness check


def _raise_layer_errors(job, settings: QgsMapSettings) -> None:
    """A layer that fails to draw (a damaged file, a read error) fails the step instead of leaving a hole."""
    layers = {layer.id(): layer for layer in settings.layers()}
    for error in job.errors():
        layer = layers.get(error.layerID)
        if layer is not None and layer.providerType() in TILE_PROVIDERS:
            continue
        name = layer.name() if layer is not None else error.layerID
        source = layer.source() if layer is not None else ""
        raise QgsProcessingException(tr("LAYERS: cannot draw {name} ({source}): {msg}").format(
            name=name, source=source, msg=" ".join(error.message.split())))


def write_rgb_geotiff(path: Path, rgba: np.ndarray, geotransform, crs_wkt: str, alpha: bool = False) -> None:
    """RGB (or with ``alpha`` RGBA) uint8 GeoTIFF with an explicit geotransform and CRS, written to a temporary name
    and renamed."""
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial.tif")
    height, width = rgba.shape[:2]
    bands = 4 if alpha else 3
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp), width, height, bands, gdal.GDT_Byte,
                                              ["COMPRESS=DEFLATE", "ZLEVEL=1", "PHOTOMETRIC=RGB"]
                                              + (["ALPHA=YES"] if alpha else []))
    try:
        ds.SetGeoTransform(geotransform)
        ds.SetProjection(crs_wkt)
        for band in range(bands):
            ds.GetRasterBand(band + 1).WriteArray(rgba[:, :, band])
        ds.FlushCache()
        ds = None
        os.replace(tmp, path)
    finally:
        ds = None
        if tmp.exists():
            tmp.unlink()


def osm_tile_estimate(area_m2: float, pixel_size: float, latitude: float) -> int:
    """Tiles a render of ``area_m2`` at ``pixel_size`` would fetch from an XYZ source at the matching zoom."""
    ground_z0 = WEB_MERCATOR_Z0 * math.cos(math.radians(latitude))
    zoom = max(0, math.ceil(math.log2(ground_z0 / pixel_size)))
    tile_m = 256 * ground_z0 / 2**zoom
    return math.ceil(area_m2 / tile_m**2)


def is_osm_tile_layer(layer) -> bool:
    return layer.providerType() == "wms" and any(host in layer.source() for host in OSM_TILE_HOSTS)


def render_to_raster(layers, crs, transform: tuple, width: int, height: int, path: Path, background: QColor,
                     transform_context, feedback=None, tile: int = 1024) -> None:
    """Render ``layers`` onto a whole raster grid, tile by tile (each tile exactly on its pixels)."""
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial.tif")
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp), width, height, 3, gdal.GDT_Byte,
                                              ["COMPRESS=DEFLATE", "TILED=YES", "BIGTIFF=IF_SAFER"])
    try:
        ds.SetGeoTransform(transform)
        ds.SetProjection(crs.toWkt(crs.WKT_PREFERRED))
        x0, px, _, y1, _, negative = transform
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                if feedback is not None and feedback.isCanceled():
                    raise QgsProcessingException(tr("Cancelled"))
                rows, cols = min(tile, height - top), min(tile, width - left)
                size = max(rows, cols)
                rect = QgsRectangle(x0 + left * px, y1 + (top + size) * negative, x0 + (left + size) * px,
                                    y1 + top * negative)
                rgba = render_rgba(map_settings(layers, crs, rect, size, background, transform_context))
                for band in range(3):
                    ds.GetRasterBand(band + 1).WriteArray(rgba[:rows, :cols, band], left, top)
        ds.FlushCache()
        ds = None
        os.replace(tmp, path)
    finally:
        ds = None
        if tmp.exists():
            tmp.unlink()


def mapped_fraction(rgb: np.ndarray, background) -> float:
    """Share of pixels (rows, cols, >= 3) that show a mapped feature, i.e. differ from the background colour (or
    from each of a list of colours: the background and outside_data)."""
    if background is None:
        return 1.0
    colours = np.asarray(background, np.uint8).reshape(-1, 3)
    unmapped = np.zeros(rgb.shape[:2], bool)
    for colour in colours:
        unmapped |= (rgb[:, :, :3] == colour).all(axis=2)
    return float(1.0 - unmapped.mean())


def _read_rgb(path: Path) -> np.ndarray:
    ds = gdal.Open(str(path))
    if ds is None:
        raise QgsProcessingException(tr("OUTPUT_DIR: cannot read the existing patch {p}; delete it and rerun")
                                     .format(p=path))
    rgb = ds.ReadAsArray(band_list=[1, 2, 3])
    ds = None
    return rgb.transpose(1, 2, 0)


def render_grid_patches(layers, crs, definition: dict, patches: list[dict], out_dir: Path, background: QColor,
                        retries: int, transform_context, feedback, blank_rgb=None):
    """Render every patch not yet in ``out_dir``; incomplete ones (missing pixels after the retries) are
    recorded, not written. With ``blank_rgb`` (the background of a semantic render), a map's valid_fraction is the
    share of its pixels that show a mapped feature (0: a blank map). Returns (written, skipped, incomplete ids,
    status records)."""
    size, pixel = definition["patch_size"], definition["pixel_size"]
    stride = (size - definition["overlap"]) * pixel
    records, written, skipped, incomplete = [], 0, 0, []
    for index, patch in enumerate(patches):
        if feedback.isCanceled():
            feedback.pushWarning(tr("Cancelled: finished patches are kept; rerun to continue."))
            break
        target = out_dir / f"{patch['patch_id']}.tif"
        feedback.setProgress(100.0 * index / len(patches))
        if target.exists():
            skipped += 1
            if blank_rgb is not None:
                records.append({"patch_id": patch["patch_id"], "status": "ok", "output": str(target),
                                "valid_fraction": mapped_fraction(_read_rgb(target), blank_rgb)})
            continue
        x_min = definition["origin_x"] + patch["col"] * stride
        y_max = definition["origin_y"] - patch["row"] * stride
        rect = QgsRectangle(x_min, y_max - size * pixel, x_min + size * pixel, y_max)
        settings = map_settings(layers, crs, rect, size, background, transform_context)
        for _attempt in range(retries + 1):
            rgba = render_rgba(settings)
            complete = float((rgba[:, :, 3] == 255).mean())
            if complete == 1.0:
                break
        if complete < 1.0:
            incomplete.append(patch["patch_id"])
            records.append({"patch_id": patch["patch_id"], "status": "incomplete", "valid_fraction": complete,
                            "detail": f"{(1 - complete) * 100:.2f} % of pixels missing after {retries} retries"})
            continue
        write_rgb_geotiff(target, rgba, (x_min, pixel, 0.0, y_max, 0.0, -pixel), definition["crs_wkt"])
        written += 1
        records.append({"patch_id": patch["patch_id"], "status": "ok", "output": str(target),
                        "valid_fraction": mapped_fraction(rgba, blank_rgb)})
    return written, skipped, incomplete, records
