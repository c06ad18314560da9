"""Read an OpenStreetMap extract (.osm.pbf, .osm, .osm.gz, .osm.bz2, or a GeoPackage of OGR OSM layers), classify
it with the semantic style and return styled in-memory layers in the grid CRS. Runs on the main thread (layers must be
created there, see the QGIS threading rules)."""

from __future__ import annotations

import contextlib
from collections import Counter

from osgeo import gdal, ogr
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsField,
    QgsFillSymbol,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsProject,
    QgsProperty,
    QgsRectangle,
    QgsSingleSymbolRenderer,
    QgsSymbolLayer,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from .about import PLUGIN_DIR
from .coastline import sea_polygons
from .i18n import tr
from .osm_bounds import declared_bounds
from .osm_files import checked_osm_path, gdal_osm_path
from .osm_semantic import PARCEL_CLASSES, classify_area, classify_line, load_palette, parse_other_tags

STYLES = PLUGIN_DIR / "resources" / "styles"
WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


def _tags(feature: ogr.Feature) -> dict[str, str]:
    tags = parse_other_tags(feature.GetField("other_tags") if feature.GetFieldIndex("other_tags") >= 0 else None)
    for index in range(feature.GetFieldCount()):
        name = feature.GetFieldDefnRef(index).GetName()
        if name not in ("other_tags", "osm_id", "osm_way_id", "z_order") and feature.IsFieldSetAndNotNull(index):
            tags[name] = str(feature.GetField(index))
    return tags


def open_osm(path: str) -> gdal.Dataset:
    checked_osm_path(path)
    gdal.SetConfigOption("OGR_INTERLEAVED_READING", "NO")
    with gdal_errors(path):
        ds = ogr.Open(gdal_osm_path(path))
    if ds is None or ds.GetLayerByName("multipolygons") is None or ds.GetLayerByName("lines") is None:
        raise QgsProcessingException(tr(
            "OSM_FILE: {path} is not an OpenStreetMap extract OGR can read (it needs 'multipolygons' and 'lines' "
            "layers, as in .osm.pbf, .osm(.gz/.bz2) files or GeoPackages converted from them with ogr2ogr)").format(
                path=path))
    return ds


class GdalErrors:
    """Collects GDAL/OGR errors instead of letting them go to the log only: OGR's OSM driver reports a damaged
    file ("An error occurred during the parsing of data") and then simply ends the feature loop."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, level: int, number: int, message: str) -> None:
        if level >= gdal.CE_Failure:
            self.messages.append(" ".join(str(message).split()))


@contextlib.contextmanager
def gdal_errors(path: str, label: str = "OSM_FILE"):
    """Turn any GDAL/OGR failure while reading ``path`` into one QgsProcessingException naming the file."""
    errors = GdalErrors()
    gdal.PushErrorHandler(errors)
    try:
        yield errors
    finally:
        gdal.PopErrorHandler()
    if errors.messages:
        raise QgsProcessingException(tr("{label}: cannot read {path}: {msg} (the file is damaged or incomplete)")
                                     .format(label=label, path=path, msg=errors.messages[0]))


def read_osm(path: str, bounds_wgs84: QgsRectangle, crs: QgsCoordinateReferenceSystem, feedback=None):
    """Classified geometries in ``crs``: (areas [(geom, class)], lines [(geom, class, width)], coast, extent).
    Any GDAL/OGR error while reading fails the step: a truncated extract must not render as empty maps."""
    ds = open_osm(path)
    with gdal_errors(path):
        return _read_layers(ds, bounds_wgs84, crs, feedback)


def _read_layers(ds, bounds_wgs84: QgsRectangle, crs: QgsCoordinateReferenceSystem, feedback):
    to_grid = QgsCoordinateTransform(WGS84, crs, QgsProject.instance().transformContext())
    areas, lines, coast = [], [], []
    extent = QgsRectangle()
    for layer_name in ("multipolygons", "lines"):
        layer = ds.GetLayerByName(layer_name)
        layer_extent = layer.GetExtent(force=1)
        extent.combineExtentWith(QgsRectangle(layer_extent[0], layer_extent[2], layer_extent[1], layer_extent[3]))
        layer.SetSpatialFilterRect(bounds_wgs84.xMinimum(), bounds_wgs84.yMinimum(), bounds_wgs84.xMaximum(),
                                   bounds_wgs84.yMaximum())
        for feature in layer:
            if feedback is not None and feedback.isCanceled():
                raise QgsProcessingException(tr("Cancelled"))
            ogr_geometry = feature.GetGeometryRef()
            if ogr_geometry is None or ogr_geometry.IsEmpty():
                continue
            tags = _tags(feature)
            if layer_name == "lines" and tags.get("natural") == "coastline":
                cls = "coastline"
            else:
                cls = classify_area(tags) if layer_name == "multipolygons" else classify_line(tags)
            if cls is None:
                continue
            geometry = QgsGeometry()
            geometry.fromWkb(ogr_geometry.ExportToIsoWkb())
            geometry.transform(to_grid)
            if cls == "coastline":
                coast.append(geometry)
            elif layer_name == "multipolygons":
                areas.append((geometry.makeValid(), cls))
            else:
                lines.append((geometry, cls[0], cls[1]))
    return areas, lines, coast, extent


def _memory_layer(kind: str, crs: QgsCoordinateReferenceSystem, name: str) -> QgsVectorLayer:
    layer = QgsVectorLayer(f"{kind}?crs={crs.authid() or 'wkt:' + crs.toWkt()}", name, "memory")
    layer.dataProvider().addAttributes([QgsField("class", QVariant.String), QgsField("width_m", QVariant.Double)])
    layer.updateFields()
    return layer


def _as_multi(geometry: QgsGeometry, kind) -> QgsGeometry:
    """Multi-part geometry of one kind (makeValid and boundaries may return collections or single parts)."""
    geometry = QgsGeometry(geometry)
    if QgsWkbTypes.flatType(geometry.wkbType()) == QgsWkbTypes.GeometryCollection:
        geometry.convertGeometryCollectionToSubclass(kind)
    if geometry.type() != kind or geometry.isEmpty():
        return QgsGeometry()
    geometry.convertToMultiType()
    return geometry


def _fill(layer: QgsVectorLayer, records) -> None:
    features = []
    for geometry, cls, width in records:
        geometry = _as_multi(geometry, layer.geometryType())
        if geometry.isEmpty():
            continue
        feature = QgsFeature(layer.fields())
        feature.setGeometry(geometry)
        feature.setAttributes([cls, width])
        features.append(feature)
    ok, _ = layer.dataProvider().addFeatures(features)
    if not ok:
        raise QgsProcessingException(tr("Internal error: could not store the classified OSM features"))
    layer.updateExtents()


def semantic_layers(path: str, area: QgsRectangle, crs: QgsCoordinateReferenceSystem, pixel_size: float,
                    feedback=None):
    """Styled layers (areas, lines) covering ``area`` (grid CRS), for renders at ``pixel_size`` map units, and the
    OSM data extent in WGS84."""
    to_wgs84 = QgsCoordinateTransform(crs, WGS84, QgsProject.instance().transformContext())
    bounds_wgs84 = to_wgs84.transformBoundingBox(area)
    areas, lines, coast, extent = read_osm(path, bounds_wgs84, crs, feedback)
    sea = sea_polygons(coast, area)
    if feedback is not None:
        feedback.pushInfo(tr("OSM: {a} areas, {l} lines, {c} coastline ways -> {s} sea polygons").format(
            a=len(areas), l=len(lines), c=len(coast), s=len(sea)))
    counts = classes_on_grid(areas, lines, sea, area)
    if not counts:
        raise QgsProcessingException(tr(
            "OSM_FILE: the OSM file covers none of the grid: its data lies at {data}; the grid at {grid}. Choose the "
            "extract of this area (or a grid over the extract)").format(data=lon_lat(extent),
                                                                        grid=lon_lat(bounds_wgs84)))
    if feedback is not None:
        feedback.pushInfo(tr("OSM features on the grid per class: {counts}").format(
            counts=", ".join(f"{cls} {n}" for cls, n in counts.most_common())))
    boundaries = []
    for geometry, cls in areas:
        if cls in PARCEL_CLASSES:
            boundary = QgsGeometry(geometry.constGet().boundary())
            if not boundary.isEmpty():
                boundaries.append((boundary, "parcel_boundary", None))
    area_layer = _memory_layer("MultiPolygon", crs, "semantic_areas")
    _fill(area_layer, [(g, "water", None) for g in sea] + [(g, c, None) for g, c in areas])
    line_layer = _memory_layer("MultiLineString", crs, "semantic_lines")
    widths = {c["key"]: c.get("width_m") for c in load_palette()["classes"]}
    _fill(line_layer, [(geometry, cls, width) for geometry, cls, width in boundaries + lines
                       if resolvable(cls, width if width is not None else widths[cls], pixel_size)])
    for layer, style in ((area_layer, "semantic_areas.qml"), (line_layer, "semantic_lines.qml")):
        message, ok = layer.loadNamedStyle(str(STYLES / style))
        if not ok:
            raise QgsProcessingException(tr("Cannot load the semantic style {style}: {msg}").format(
                style=style, msg=message))
    at_least_one_pixel_wide(line_layer, pixel_size)
    bounds, kind = data_bounds(path, extent)
    outside = outside_layer(bounds, area, crs, pixel_size)
    if feedback is not None:
        feedback.pushInfo(tr("OSM data bounds ({kind}): {where}").format(kind=kind, where=lon_lat(bounds)))
    return ([outside] if outside is not None else []) + [line_layer, area_layer], extent


def data_bounds(path: str, extent: QgsRectangle) -> tuple[QgsRectangle, str]:
    """Where the extract holds data (WGS84): the bbox its file declares, else the extent of its features."""
    declared = declared_bounds(path)
    if declared is not None:
        return QgsRectangle(*declared), tr("the bounding box in the file's header")
    return QgsRectangle(extent), tr("the extent of its data")


def outside_layer(bounds: QgsRectangle, area: QgsRectangle, crs: QgsCoordinateReferenceSystem,
                  pixel_size: float) -> QgsVectorLayer | None:
    """The part of ``area`` (grid CRS) outside the data bounds, filled with the palette's outside_data colour and
    drawn above every class; None when the data cover the whole area. The bounds are densified before they are
    projected, so their edges stay where the lon/lat box is."""
    to_grid = QgsCoordinateTransform(WGS84, crs, QgsProject.instance().transformContext())
    steps = 64
    x0, y0, x1, y1 = bounds.xMinimum(), bounds.yMinimum(), bounds.xMaximum(), bounds.yMaximum()
    ring = ([(x0 + (x1 - x0) * i / steps, y0) for i in range(steps)] + [(x1, y0 + (y1 - y0) * i / steps)
            for i in range(steps)] + [(x1 - (x1 - x0) * i / steps, y1) for i in range(steps)]
            + [(x0, y1 - (y1 - y0) * i / steps) for i in range(steps)])
    inside = QgsGeometry.fromPolygonXY([[to_grid.transform(QgsPointXY(x, y)) for x, y in ring]])
    frame = QgsRectangle(area)
    frame.grow(2 * pixel_size)
    frame = QgsGeometry.fromRect(frame)
    outside = frame.difference(inside)
    if outside.isEmpty() or not outside.intersects(QgsGeometry.fromRect(area)):
        return None
    layer = _memory_layer("MultiPolygon", crs, "outside_data")
    _fill(layer, [(outside, "outside_data", None)])
    rgb = ",".join(str(v) for v in load_palette()["outside_data"]["rgb"])
    layer.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
        {"color": f"{rgb},255", "outline_style": "no"})))
    return layer


def classes_on_grid(areas, lines, sea, area: QgsRectangle) -> Counter:
    """How many classified features of each class intersect the grid area (the sea counts as class 'sea')."""
    box = QgsGeometry.fromRect(area)
    counts = Counter(cls for geometry, cls in areas if geometry.intersects(box))
    counts.update(cls for geometry, cls, _ in lines if geometry.intersects(box))
    counts.update("sea" for geometry in sea if geometry.intersects(box))
    return counts


def lon_lat(rect: QgsRectangle) -> str:
    if rect.isNull():
        return tr("nowhere (the file holds no features)")
    return tr("lon {x0:.3f} to {x1:.3f}, lat {y0:.3f} to {y1:.3f}").format(
        x0=rect.xMinimum(), x1=rect.xMaximum(), y0=rect.yMinimum(), y1=rect.yMaximum())


# Field structure that shows at 10 m whatever its width (hedge shadows and NIR contrast; the derived training maps
# of the demo model draw it one pixel wide)
ALWAYS_DRAWN = {"hedge", "parcel_boundary"}


def resolvable(cls: str, width: float, pixel_size: float) -> bool:
    """A line covering less than half of the pixels it crosses would not be their majority class: left out."""
    return cls in ALWAYS_DRAWN or width >= pixel_size / 2


def at_least_one_pixel_wide(layer: QgsVectorLayer, pixel_size: float) -> None:
    """Even without antialiasing, QGIS blends a line thinner than a pixel into what lies under it (opacity about its
    width in pixels): a 2 m field boundary at 10 m became a colour of no class on a third of Helsinki's pixels.
    The lines that are drawn are drawn at least one pixel wide instead."""
    renderer = layer.renderer()
    for index, category in enumerate(renderer.categories()):
        symbol = category.symbol().clone()
        for symbol_layer in symbol.symbolLayers():
            symbol_layer.setWidth(max(symbol_layer.width(), pixel_size))
            width = symbol_layer.dataDefinedProperties().property(QgsSymbolLayer.PropertyStrokeWidth)
            if width.isActive():
                symbol_layer.setDataDefinedProperty(QgsSymbolLayer.PropertyStrokeWidth, QgsProperty.fromExpression(
                    f"max({width.expressionString()}, {float(pixel_size)!r})"))
        renderer.updateCategorySymbol(index, symbol)


def background_rgb() -> tuple[int, int, int]:
    return tuple(next(c["rgb"] for c in load_palette()["classes"] if c["key"] == "background"))


def unmapped_rgb() -> list[tuple[int, int, int]]:
    """Colours that carry no mapped feature: the background (unmapped land inside the data) and outside_data."""
    return [background_rgb(), tuple(load_palette()["outside_data"]["rgb"])]
