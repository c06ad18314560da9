"""mapsynth:create_patch_grid through processing.run, checked against geometry computed here independently."""

import math
import sqlite3
from collections import Counter, defaultdict

import pytest
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsProcessingException,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)

EXTENT = "385003,391517,6671004,6675999 [EPSG:32635]"  # Helsinki, in its UTM zone


def expected_count(length, size, stride):
    return 1 if length <= size else math.ceil((length - size) / stride) + 1


def features(path):
    layer = QgsVectorLayer(f"{path}|layername=patches", "patches", "ogr")
    assert layer.isValid()
    return layer, list(layer.getFeatures())


def test_extent_grid_count_snap_orientation_and_overlap(run_alg, tmp_path):
    out = tmp_path / "grid.gpkg"
    result = run_alg("create_patch_grid", {"EXTENT": EXTENT, "OUTPUT": str(out)})
    size, stride = 640.0, 520.0  # 64 px at 10 m, default overlap round(0.1875 * 64) = 12 px
    cols = expected_count(391517 - 385000, size, stride)
    rows = expected_count(6676000 - 6671004, size, stride)
    assert (result["ROWS"], result["COLS"]) == (rows, cols) == (10, 13)
    assert result["PATCH_COUNT"] == rows * cols
    assert result["CRS"] == "EPSG:32635"
    layer, feats = features(out)
    assert layer.crs().authid() == "EPSG:32635"
    assert len(feats) == rows * cols
    by_cell = {(f["row"], f["col"]): f for f in feats}
    for (row, col), f in by_cell.items():
        box = f.geometry().boundingBox()
        assert box.xMinimum() == pytest.approx(385000 + col * stride) == f["x_min"]
        assert box.yMaximum() == pytest.approx(6676000 - row * stride) == f["y_max"]
        assert box.width() == pytest.approx(size) and box.height() == pytest.approx(size)
        assert f["x_min"] % 10 == 0 and f["y_max"] % 10 == 0  # on the Sentinel-2 10 m pixel grid
        assert f["patch_id"] == f"r{row:04d}_c{col:04d}"
        assert (f["size_px"], f["overlap_px"], f["pixel_size"]) == (64, 12, 10.0)
    # row 0 is north, col 0 is west, and neighbours share exactly the overlap
    assert by_cell[(0, 0)]["y_max"] > by_cell[(1, 0)]["y_max"]
    assert by_cell[(0, 1)]["x_min"] > by_cell[(0, 0)]["x_min"]
    shared = by_cell[(0, 0)].geometry().intersection(by_cell[(0, 1)].geometry()).boundingBox()
    assert shared.width() == pytest.approx(120.0)
    # full coverage, and one column or row fewer would not cover
    union = QgsGeometry.unaryUnion([f.geometry() for f in feats])
    assert union.contains(QgsGeometry.fromRect(QgsRectangle(385003, 6671004, 391517, 6675999)))
    assert 385000 + (cols - 2) * stride + size < 391517
    assert 6676000 - (rows - 2) * stride - size > 6671004


def test_backend_reads_the_same_grid(run_alg, tmp_path, backend_python):
    from mapsynth.plugin.backend_client import BackendProcess
    from mapsynth.plugin.grid import read_definition

    out = tmp_path / "grid ü.gpkg"
    result = run_alg("create_patch_grid", {"EXTENT": EXTENT, "PATCH_SIZE": 100, "OVERLAP": 20,
                                           "PIXEL_SIZE": 5, "OUTPUT": str(out)})
    definition = read_definition(out)
    info = BackendProcess("grid-info", {"patch_grid": str(out), "patch_id": "r0002_c0003"},
                          job_dir=tmp_path / "job").run()
    assert info["fingerprint"] == definition["fingerprint"] == result["FINGERPRINT"]
    assert info["patch_count"] == result["PATCH_COUNT"]
    assert (info["rows"], info["cols"]) == (result["ROWS"], result["COLS"])
    _, feats = features(out)
    feature = next(f for f in feats if f["patch_id"] == "r0002_c0003")
    box = feature.geometry().boundingBox()
    assert info["patch"]["bounds"] == pytest.approx([box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()])
    assert info["patch"]["transform"] == pytest.approx([box.xMinimum(), 5.0, 0.0, box.yMaximum(), 0.0, -5.0])


def aoi_layer(polygons_wkt, crs="EPSG:4326"):
    layer = QgsVectorLayer(f"Polygon?crs={crs}", "aoi", "memory")
    feats = []
    for wkt in polygons_wkt:
        feature = QgsFeature()
        feature.setGeometry(QgsGeometry.fromWkt(wkt))
        feats.append(feature)
    layer.dataProvider().addFeatures(feats)
    return layer


def shapefile_without_crs(folder):
    """A shapefile without .prj: QGIS gives it no CRS (memory layers would default to EPSG:4326)."""
    from osgeo import ogr

    folder.mkdir()
    ds = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(str(folder / "aoi.shp"))
    layer = ds.CreateLayer("aoi", None, ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POLYGON((0 0, 1000 0, 1000 1000, 0 0))"))
    layer.CreateFeature(feature)
    ds = None
    return str(folder / "aoi.shp")


def test_aoi_defaults_to_utm_drops_untouched_patches_and_covers_everything(run_alg, tmp_path):
    triangle = "POLYGON((24.93 60.160, 24.99 60.160, 24.93 60.185, 24.93 60.160))"
    layer = aoi_layer([triangle])
    out = tmp_path / "aoi.gpkg"
    result = run_alg("create_patch_grid", {"AOI": layer, "PATCH_SIZE": 32, "OUTPUT": str(out)})
    assert result["CRS"] == "EPSG:32635"
    utm = QgsCoordinateReferenceSystem("EPSG:32635")
    aoi = QgsGeometry.fromWkt(triangle)
    aoi.transform(QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), utm, QgsProject.instance()))
    _, feats = features(out)
    assert 0 < len(feats) < result["ROWS"] * result["COLS"], "patches outside the triangle should be dropped"
    assert all(f.geometry().intersects(aoi) for f in feats)
    union = QgsGeometry.unaryUnion([f.geometry() for f in feats])
    assert aoi.difference(union).area() < 1e-6 * aoi.area()
    box, stride, size = aoi.boundingBox(), 26 * 10.0, 320.0
    x0, y0 = math.floor(box.xMinimum() / 10) * 10, math.ceil(box.yMaximum() / 10) * 10
    assert result["COLS"] == expected_count(box.xMaximum() - x0, size, stride)
    assert result["ROWS"] == expected_count(y0 - box.yMinimum(), size, stride)


def test_spatial_block_split_meets_fractions_and_is_reproducible(run_alg, tmp_path):
    params = {"EXTENT": "500000,530000,6600000,6630000 [EPSG:32635]", "PATCH_SIZE": 64, "OVERLAP": 0,
              "VAL_FRACTION": 0.1, "TEST_FRACTION": 0.15, "SEED": 7}
    first = run_alg("create_patch_grid", {**params, "OUTPUT": str(tmp_path / "a.gpkg")})
    again = run_alg("create_patch_grid", {**params, "OUTPUT": str(tmp_path / "b.gpkg")})
    other = run_alg("create_patch_grid", {**params, "SEED": 8, "OUTPUT": str(tmp_path / "c.gpkg")})
    splits = {name: {f["patch_id"]: f["split"] for f in features(tmp_path / name)[1]}
              for name in ("a.gpkg", "b.gpkg", "c.gpkg")}
    n = first["PATCH_COUNT"]
    assert n == 47 * 47
    with sqlite3.connect(tmp_path / "a.gpkg") as conn:
        import json

        block = json.loads(conn.execute("SELECT definition FROM mapsynth_grid").fetchone()[0])["split"]["block_size"]
    counts = Counter(splits["a.gpkg"].values())
    for name, target in (("val", 0.1), ("test", 0.15)):
        assert abs(counts[name] / n - target) <= block * block / n, (name, counts, block)
    assert counts["train"] == n - counts["val"] - counts["test"]
    members = defaultdict(set)
    for f in features(tmp_path / "a.gpkg")[1]:
        members[(f["row"] // block, f["col"] // block)].add(f["split"])
    assert all(len(s) == 1 for s in members.values()), "a block was split between sets"
    assert splits["a.gpkg"] == splits["b.gpkg"] and splits["a.gpkg"] != splits["c.gpkg"]
    assert again["FINGERPRINT"] == first["FINGERPRINT"] == other["FINGERPRINT"]


def test_align_snaps_a_3m_grid_to_the_10m_sentinel2_grid(run_alg, tmp_path):
    result = run_alg("create_patch_grid", {"EXTENT": EXTENT, "PIXEL_SIZE": 10 / 3, "PATCH_SIZE": 512,
                                           "ALIGN": 10, "OUTPUT": str(tmp_path / "g.gpkg")})
    _, feats = features(tmp_path / "g.gpkg")
    first = next(f for f in feats if f["row"] == 0 and f["col"] == 0)
    assert first["x_min"] == 385000 and first["y_max"] == 6676000
    assert result["PATCH_COUNT"] == len(feats)


@pytest.mark.parametrize("params, message", [
    ({"EXTENT": "0,1000,0,1000"}, "EXTENT has no CRS"),
    ({"EXTENT": EXTENT, "PATCH_SIZE": 64, "OVERLAP": 64}, "OVERLAP (64 px) must be"),
    ({"EXTENT": EXTENT, "CRS": "EPSG:4326"}, "is not in metres"),
    ({"EXTENT": EXTENT, "MAX_PATCHES": 5}, "MAX_PATCHES=5"),
    ({"EXTENT": EXTENT, "VAL_FRACTION": 0.5, "TEST_FRACTION": 0.5}, "sum below 1"),
    ({"EXTENT": EXTENT, "PIXEL_SIZE": 3, "ALIGN": 10}, "multiple of PIXEL_SIZE"),
    ({}, "Give the area"),
    ({"AOI": "empty"}, "AOI is empty"),
    ({"AOI": "no-crs"}, "AOI layer has no CRS"),
    ({"AOI": "metres-as-degrees"}, "are its coordinates really in EPSG:4326"),
    ({"AOI": "far", "EXTENT": EXTENT}, "AOI and EXTENT do not overlap"),
])
def test_bad_input_fails_clearly_without_output(run_alg, tmp_path, params, message):
    QgsProject.instance().setCrs(QgsCoordinateReferenceSystem())
    if params.get("AOI") == "empty":
        params = {"AOI": aoi_layer([])}
    elif params.get("AOI") == "no-crs":
        params = {"AOI": shapefile_without_crs(tmp_path.parent / f"{tmp_path.name}-shp")}
    elif params.get("AOI") == "metres-as-degrees":
        params = {"AOI": aoi_layer(["POLYGON((385000 6671000, 386000 6671000, 386000 6672000, 385000 6671000))"])}
    elif params.get("AOI") == "far":
        params = {**params, "AOI": aoi_layer(["POLYGON((2 48, 3 48, 3 49, 2 48))"])}
    out = tmp_path / "grid.gpkg"
    with pytest.raises(QgsProcessingException, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_alg("create_patch_grid", {**params, "OUTPUT": str(out)})
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_cancel_writes_no_grid(run_alg, tmp_path):
    from qgis.core import QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_alg("create_patch_grid", {"EXTENT": EXTENT, "OUTPUT": str(tmp_path / "g.gpkg")}, feedback)
    assert list(tmp_path.iterdir()) == []


def split_footprints(path):
    """Per split, the union of its patch polygons as stored in the GeoPackage, by OGR (GEOS), not by our code."""
    from osgeo import ogr

    ds = ogr.Open(str(path))
    groups = defaultdict(lambda: ogr.Geometry(ogr.wkbMultiPolygon))
    cells = defaultdict(set)
    for feature in ds.GetLayerByName("patches"):
        groups[feature.GetField("split")].AddGeometry(feature.GetGeometryRef().Clone())
        cells[feature.GetField("split")].add((feature.GetField("row"), feature.GetField("col")))
    return {split: geometry.UnionCascaded() for split, geometry in groups.items()}, cells


@pytest.mark.parametrize("overlap", [None, 40])  # default 12 px: neighbours overlap; 40 px: two patches away too
def test_guard_band_leaves_no_pixel_in_two_splits(run_alg, tmp_path, overlap):
    params = {"EXTENT": "500000,512000,6600000,6612000 [EPSG:32635]", "PATCH_SIZE": 64, "VAL_FRACTION": 0.1,
              "TEST_FRACTION": 0.15, "SPLIT_BLOCK": 3, "SEED": 5, **({"OVERLAP": overlap} if overlap else {})}
    guarded = run_alg("create_patch_grid", {**params, "OUTPUT": str(tmp_path / "guard.gpkg")})
    leaky = run_alg("create_patch_grid", {**params, "GUARD": False, "OUTPUT": str(tmp_path / "leak.gpkg")})
    assert guarded["FINGERPRINT"] == leaky["FINGERPRINT"], "the guard changes the split, not the geometry"
    shapes, cells = split_footprints(tmp_path / "guard.gpkg")
    leak_shapes, leak_cells = split_footprints(tmp_path / "leak.gpkg")
    assert set(cells) == {"train", "val", "test", "guard"} and "guard" not in leak_cells
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert shapes[a].Intersection(shapes[b]).GetArea() == 0, (a, b)  # touching edges only
    assert leak_shapes["train"].Intersection(leak_shapes["test"]).GetArea() / 100 > 4096, "without: shared pixels"
    # test blocks stay whole; the guard is taken from the sides that overlapped a later split, and only there
    assert cells["test"] == leak_cells["test"] and cells["val"] <= leak_cells["val"]
    assert cells["train"] | cells["guard"] | cells["val"] == leak_cells["train"] | leak_cells["val"]
    held = shapes["val"].Union(shapes["test"])
    _, feats = features(tmp_path / "guard.gpkg")
    for f in feats:
        if f["split"] == "guard":
            assert QgsGeometry.fromWkt(held.ExportToWkt()).intersection(f.geometry()).area() > 0, f["patch_id"]
    with sqlite3.connect(tmp_path / "guard.gpkg") as conn:
        import json

        assert json.loads(conn.execute("SELECT definition FROM mapsynth_grid").fetchone()[0])["split"]["guard"]
