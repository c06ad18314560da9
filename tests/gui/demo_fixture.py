"""A small stand-in for `make demo` output (mosaic, coverage masks, seams, classified buildings, map patches) in
the files and layouts the backend writes, so that scripts/make_demo_project.py can build a demo.qgz without a
prior `make demo`. Run: python3 tests/gui/demo_fixture.py OUT_DIR"""

import sys
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

SIZE, PIXEL, X0, Y0 = 64, 10.0, 385000.0, 6672000.0  # UTM 35N, central Helsinki


def _raster(path: Path, data: np.ndarray, dtype: int, descriptions=(), scale_offset=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32635)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), SIZE, SIZE, data.shape[0], dtype)
    ds.SetGeoTransform([X0, PIXEL, 0, Y0, 0, -PIXEL])
    ds.SetProjection(srs.ExportToWkt())
    for index, band in enumerate(data, start=1):
        ds.GetRasterBand(index).WriteArray(band)
        if descriptions:
            ds.GetRasterBand(index).SetDescription(descriptions[index - 1])
        if scale_offset:  # the reflectance encoding, as GDAL metadata (QGIS then shows reflectance)
            ds.GetRasterBand(index).SetScale(scale_offset[0])
            ds.GetRasterBand(index).SetOffset(scale_offset[1])
    ds = None  # noqa: F841 - closes and flushes


def _vector(path: Path, layer_name: str, geometry_type: int, rows: list[tuple[str, str]]) -> None:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32635)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer(layer_name, srs, geometry_type)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for wkt, value in rows:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        feature.SetField("class", value)
        layer.CreateFeature(feature)
    ds = None  # noqa: F841


def _square(x: float, y: float, side: float) -> str:
    return (f"MULTIPOLYGON ((({x} {y}, {x + side} {y}, {x + side} {y - side}, {x} {y - side}, {x} {y})))")


def build(out: Path) -> Path:
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    base = 1500 + 8 * rows + 6 * cols
    mosaic = np.stack([base, base + 200, base + 300, base + 1500]) + rng.integers(0, 150, (4, SIZE, SIZE))
    _raster(out / "mosaic.tif", mosaic.astype(np.uint16), gdal.GDT_UInt16, ("B02", "B03", "B04", "B08"),
            (0.0001, -0.1))
    coverage = np.clip((rows + cols) / (2 * SIZE), 0, 1).astype(np.float32)
    _raster(out / "masks" / "buildings_coverage.tif", coverage[None], gdal.GDT_Float32)
    _raster(out / "masks" / "nonresidential_coverage.tif", (coverage * (cols > SIZE // 2))[None], gdal.GDT_Float32)
    labels = (rows // 32) * 2 + cols // 32  # which generated patch each pixel came from, as assemble writes it
    _raster(out / "mosaic_labels.tif", labels[None].astype(np.int32), gdal.GDT_Int32)
    _raster(out / "maps" / "r0_c0.tif", np.stack([rows * 3, cols * 3, rows + cols]).astype(np.uint8), gdal.GDT_Byte)
    mid = X0 + SIZE * PIXEL / 2
    _vector(out / "mosaic_seams.gpkg", "seams", ogr.wkbLineString,
            [(f"LINESTRING ({mid} {Y0}, {mid} {Y0 - SIZE * PIXEL})", "seam")])
    _vector(out / "buildings.gpkg", "buildings", ogr.wkbMultiPolygon,
            [(_square(X0 + 40 + 120 * i, Y0 - 40 - 150 * (i % 3), 80), value)
             for i, value in enumerate(["residential", "non_residential", "uncertain", "residential"])])
    return out


def buildings_in_wgs84(path: Path) -> Path:
    """Building polygons in EPSG:4326 inside the fixture's UTM 35N extent: the backend reprojects them and warns."""
    utm, wgs84 = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(32635)
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_wgs84 = osr.CoordinateTransformation(utm, wgs84)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("buildings", wgs84, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("building", ogr.OFTString))
    for i, kind in enumerate(("house", "retail", "yes")):
        x, y = X0 + 50 + 150 * i, Y0 - 60 - 100 * i
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for dx, dy in ((0, 0), (60, 0), (60, -40), (0, -40), (0, 0)):
            ring.AddPoint_2D(x + dx, y + dy)
        polygon = ogr.Geometry(ogr.wkbPolygon)
        polygon.AddGeometry(ring)
        polygon.Transform(to_wgs84)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(polygon)
        feature.SetField("building", kind)
        layer.CreateFeature(feature)
    ds = None  # noqa: F841 - closes the file
    return path


def legend_texts(root, model) -> dict[str, list[str]]:
    """Layer name -> legend texts as the layer tree ``model`` shows them under ``root`` (a colour ramp's ends
    from its shader: the ramp node draws them, it has no text of its own)."""
    from qgis.core import QgsColorRampLegendNode
    from qgis.PyQt.QtCore import Qt

    texts = {}
    for node in root.findLayers():
        entries = []
        for legend_node in model.layerLegendNodes(node):
            if isinstance(legend_node, QgsColorRampLegendNode):
                shader = node.layer().renderer().shader().rasterShaderFunction()
                entries.append(f"{shader.minimumValue():g} / {shader.maximumValue():g}")
            else:
                entries.append(str(legend_node.data(Qt.DisplayRole)))
        texts[node.name()] = entries
    return texts


if __name__ == "__main__":
    build(Path(sys.argv[1]))
