"""mapsynth:render_map_patches on the real Helsinki extract and against a loopback XYZ tile server."""

import http.server
import json
import math
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)

from ..conftest import HELSINKI_BBOX, HELSINKI_EXTENT, HELSINKI_OSM, pixel_lon_lat  # noqa: TID252

needs_helsinki = pytest.mark.skipif(not HELSINKI_OSM.exists(),
                                    reason=f"real OSM extract not available at {HELSINKI_OSM}")
PALETTE_JSON = json.loads((Path(__file__).resolve().parents[2] / "resources/styles/semantic_palette.json").read_text())
PALETTE = {c["key"]: tuple(c["rgb"]) for c in PALETTE_JSON["classes"]}
OUTSIDE = tuple(PALETTE_JSON["outside_data"]["rgb"])
UTM35 = QgsCoordinateReferenceSystem("EPSG:32635")
TO_UTM = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), UTM35, QgsProject.instance())


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory, plugin):
    import processing

    if not HELSINKI_OSM.exists():
        pytest.skip(f"real OSM extract not available at {HELSINKI_OSM}")
    folder = tmp_path_factory.mktemp("helsinki")
    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": HELSINKI_EXTENT, "PIXEL_SIZE": 5,
                                                         "PATCH_SIZE": 128, "OUTPUT": str(folder / "grid.gpkg")})
    result = processing.run("mapsynth:render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(HELSINKI_OSM),
                                                            "OUTPUT_DIR": str(folder / "maps")})
    return folder, grid, result


def pixel_at(folder, x, y):
    """RGB of the rendered pixel containing (x, y) in UTM 35N, from whichever patch holds it first."""
    for path in sorted((folder / "maps").glob("r*.tif")):
        ds = gdal.Open(str(path))
        x0, px, _, y1, _, _ = ds.GetGeoTransform()
        col, row = int((x - x0) // px), int((y1 - y) // px)
        if 0 <= col < ds.RasterXSize and 0 <= row < ds.RasterYSize:
            return tuple(int(ds.GetRasterBand(b).ReadAsArray(col, row, 1, 1)[0, 0]) for b in (1, 2, 3))
    return None


def osm_polygons(where):
    ds = ogr.Open(str(HELSINKI_OSM))
    layer = ds.GetLayerByName("multipolygons")
    layer.SetAttributeFilter(where)
    for feature in layer:
        geometry = QgsGeometry()
        geometry.fromWkb(feature.GetGeometryRef().ExportToIsoWkb())
        geometry.transform(TO_UTM)
        yield feature.GetField("osm_id") or feature.GetField("osm_way_id"), geometry


@needs_helsinki
def test_patches_are_georeferenced_exactly_on_their_grid_cells(helsinki):
    from mapsynth.plugin.grid import list_patches, read_definition, read_status

    folder, grid, result = helsinki
    definition = read_definition(grid["OUTPUT"])
    patches = list_patches(grid["OUTPUT"])
    assert result["PATCH_COUNT"] == len(patches) == grid["PATCH_COUNT"] and result["INCOMPLETE"] == 0
    stride = (128 - definition["overlap"]) * 5.0
    for patch in patches:
        ds = gdal.Open(str(folder / "maps" / f"{patch['patch_id']}.tif"))
        assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (128, 128, 3)
        assert ds.GetRasterBand(1).DataType == gdal.GDT_Byte
        assert ds.GetGeoTransform() == pytest.approx((definition["origin_x"] + patch["col"] * stride, 5.0, 0.0,
                                                      definition["origin_y"] - patch["row"] * stride, 0.0, -5.0))
        assert QgsCoordinateReferenceSystem.fromWkt(ds.GetProjection()).authid() == "EPSG:32635"
    status = read_status(grid["OUTPUT"], "map")
    assert {s["status"] for s in status.values()} == {"ok"} and len(status) == len(patches)


@needs_helsinki
def test_every_pixel_carries_one_class_colour(helsinki):
    """No blends: at 5 m, field boundaries (2 m), walls (1.5 m) and paths are thinner than a pixel, and QGIS would
    draw them as semi-transparent strokes whose colours belong to no class; they are drawn one pixel wide."""
    folder, _, _ = helsinki
    colours = set(PALETTE.values()) | {OUTSIDE}  # outside_data: beyond the extract's bbox, not a blend
    off = total = 0
    for path in sorted((folder / "maps").glob("*.tif")):
        rgb = gdal.Open(str(path)).ReadAsArray().reshape(3, -1).T
        unique, counts = np.unique(rgb, axis=0, return_counts=True)
        off += sum(int(n) for colour, n in zip(unique.tolist(), counts, strict=True)
                   if tuple(colour) not in colours)
        total += rgb.shape[0]
    assert total > 0 and off == 0, f"{off} of {total} pixels have no class colour"


@needs_helsinki
def test_buildings_and_water_carry_their_class_colours(helsinki):
    folder, _, _ = helsinki
    building_colours = {PALETTE["residential_building"], PALETTE["other_building"]}
    hits = total = 0
    for _, geometry in osm_polygons("building IS NOT NULL"):
        if geometry.area() < 300:
            continue
        inner = geometry.buffer(-6, 4)  # away from edges, where roads may be drawn over
        if inner.isEmpty():
            continue
        point = inner.pointOnSurface().asPoint()
        colour = pixel_at(folder, point.x(), point.y())
        if colour is not None:
            total += 1
            hits += colour in building_colours
    assert total > 100 and hits / total >= 0.95, (hits, total)
    water = [(osm_id, g) for osm_id, g in osm_polygons("natural = 'water'") if g.area() > 500]
    assert water, "the extract has water polygons"
    for osm_id, geometry in water:
        point = geometry.buffer(-3, 4).pointOnSurface().asPoint()
        assert pixel_at(folder, point.x(), point.y()) == PALETTE["water"], osm_id


@needs_helsinki
def test_harbour_is_sea_on_the_right_of_the_coastline(helsinki):
    folder, _, _ = helsinki
    ds = ogr.Open(str(HELSINKI_OSM))
    lines = ds.GetLayerByName("lines")
    lines.SetAttributeFilter("other_tags LIKE '%\"natural\"=>\"coastline\"%'")
    checked = 0
    for feature in lines:
        geometry = QgsGeometry()
        geometry.fromWkb(feature.GetGeometryRef().ExportToIsoWkb())
        geometry.transform(TO_UTM)
        line = geometry.asPolyline()
        for start, end in zip(line[:-1], line[1:]):
            dx, dy = end.x() - start.x(), end.y() - start.y()
            norm = math.hypot(dx, dy)
            if norm < 30:
                continue
            mx, my = (start.x() + end.x()) / 2, (start.y() + end.y()) / 2
            right = pixel_at(folder, mx + dy / norm * 12, my - dx / norm * 12)
            left = pixel_at(folder, mx - dy / norm * 12, my + dx / norm * 12)
            if right is None or left is None or OUTSIDE in (right, left):  # beyond the extract's bbox: no claim
                continue
            checked += 1
            assert right == PALETTE["water"], (feature.GetField("osm_id"), mx, my)
            assert left != PALETTE["water"]
    assert checked >= 3


def test_sea_polygons_follow_the_coastline_direction(plugin):
    from mapsynth.plugin.coastline import sea_polygons

    area = QgsRectangle(0, 0, 1000, 1000)
    island = QgsGeometry.fromPolylineXY([QgsPointXY(*p) for p in ((400, 400), (600, 400), (600, 600), (400, 600),
                                                                 (400, 400))])  # counter-clockwise: land inside
    sea = QgsGeometry.unaryUnion(sea_polygons([island], area))
    assert sea.area() == pytest.approx(1000 * 1000 - 200 * 200)
    assert not sea.contains(QgsGeometry.fromPointXY(QgsPointXY(500, 500)))
    # an open coast running south to north along x=300, clipped by the area: water on its right (east)
    coast = QgsGeometry.fromPolylineXY([QgsPointXY(300, 5), QgsPointXY(300, 995)])
    sea = QgsGeometry.unaryUnion(sea_polygons([coast], area))
    assert sea.area() == pytest.approx(700 * 1000)
    assert sea.contains(QgsGeometry.fromPointXY(QgsPointXY(800, 500)))


@needs_helsinki
def test_rerun_resumes_and_other_grids_are_refused(helsinki, run_alg, tmp_path):
    folder, grid, _ = helsinki
    first = next((folder / "maps").glob("r*.tif"))
    stamp = first.stat().st_mtime_ns
    first_missing = sorted((folder / "maps").glob("r*.tif"))[-1]
    first_missing.unlink()
    again = run_alg("render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(HELSINKI_OSM),
                                           "OUTPUT_DIR": str(folder / "maps")})
    assert again["PATCH_COUNT"] == grid["PATCH_COUNT"] and first_missing.exists()
    assert first.stat().st_mtime_ns == stamp
    other = run_alg("create_patch_grid", {"EXTENT": HELSINKI_EXTENT, "OUTPUT": str(tmp_path / "other.gpkg")})
    with pytest.raises(QgsProcessingException, match="holds map patches of grid"):
        run_alg("render_map_patches", {"PATCH_GRID": other["OUTPUT"], "OSM_FILE": str(HELSINKI_OSM),
                                       "OUTPUT_DIR": str(folder / "maps")})


class ErrorFeedback(QgsProcessingFeedback):
    """Errors raised in prepareAlgorithm reach the user through reportError (qgis_process prints them)."""

    def __init__(self):
        super().__init__()
        self.errors = []

    def reportError(self, error, fatalError=False):  # noqa: N802, N803
        self.errors.append(error)


def fails_with(run_alg, params, message):
    feedback = ErrorFeedback()
    with pytest.raises(QgsProcessingException):
        run_alg("render_map_patches", params, feedback)
    assert any(message in error for error in feedback.errors), feedback.errors


def test_needs_exactly_one_map_source(run_alg, tmp_path):
    grid = run_alg("create_patch_grid", {"EXTENT": "385000,386000,6672000,6673000 [EPSG:32635]",
                                         "OUTPUT": str(tmp_path / "g.gpkg")})
    fails_with(run_alg, {"PATCH_GRID": grid["OUTPUT"], "OUTPUT_DIR": str(tmp_path / "m")}, "exactly one")
    fails_with(run_alg, {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(tmp_path / "none.osm.pbf"),
                         "OUTPUT_DIR": str(tmp_path / "m")}, "OSM_FILE: file not found")
    assert not (tmp_path / "m").exists()


def png(rgb, size=256):
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(  # noqa: E731
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def tile_server():
    """Loopback XYZ server: every tile 0.3 s late; tiles with even x + y fail with HTTP 500 when asked to."""
    tile = png((30, 160, 60))
    state = {"fail": False, "requests": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            state["requests"] += 1
            z, x, y = (int(v) for v in self.path.strip("/").split(".")[0].split("/"))
            time.sleep(0.3)
            if state["fail"] and (x + y) % 2 == 0:
                self.send_error(500)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


def xyz_layer(url):
    layer = QgsRasterLayer(f"type=xyz&url={url}/{{z}}/{{x}}/{{y}}.png&zmin=0&zmax=19", "tiles", "wms")
    assert layer.isValid()
    return layer


def test_slow_tiles_complete_and_failing_tiles_are_reported(run_alg, tmp_path, tile_server):
    from mapsynth.plugin.grid import read_status

    url, state = tile_server
    grid = run_alg("create_patch_grid", {"EXTENT": "385000,386500,6672000,6673000 [EPSG:32635]",
                                         "OUTPUT": str(tmp_path / "g.gpkg")})
    slow = run_alg("render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "LAYERS": [xyz_layer(url)],
                                          "OUTPUT_DIR": str(tmp_path / "slow")})
    assert slow["INCOMPLETE"] == 0 and slow["PATCH_COUNT"] == grid["PATCH_COUNT"] and state["requests"] > 0
    for path in (tmp_path / "slow").glob("r*.tif"):
        array = gdal.Open(str(path)).ReadAsArray()
        assert (array.reshape(3, -1).T == (30, 160, 60)).all(), "a slow tile was not waited for"
    state["fail"] = True
    url_fail = url + "/"  # another URL: nothing cached from the first run
    failing = run_alg("render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "LAYERS": [xyz_layer(url_fail)],
                                             "RETRIES": 1, "OUTPUT_DIR": str(tmp_path / "failing")})
    assert failing["INCOMPLETE"] > 0
    status = read_status(grid["OUTPUT"], "map")
    bad = [pid for pid, s in status.items() if s["status"] == "incomplete"]
    assert len(bad) == failing["INCOMPLETE"]
    for pid in bad:
        assert not (tmp_path / "failing" / f"{pid}.tif").exists()
        assert "missing" in status[pid]["detail"]


def test_bulk_rendering_from_openstreetmap_org_is_refused(run_alg, tmp_path):
    # 10 km x 10 km at 1 m: zoom 17 at 60 degrees N, about 6,400 tiles
    grid = run_alg("create_patch_grid", {"EXTENT": "380000,390000,6660000,6670000 [EPSG:32635]", "PIXEL_SIZE": 1,
                                         "OUTPUT": str(tmp_path / "g.gpkg")})
    layer = xyz_layer("https://tile.openstreetmap.org")
    fails_with(run_alg, {"PATCH_GRID": grid["OUTPUT"], "LAYERS": [layer], "OUTPUT_DIR": str(tmp_path / "m")},
               "OSM tile usage policy")


@needs_helsinki
def test_osm_geopackage_renders_like_the_pbf(helsinki, run_alg, tmp_path):
    folder, grid, _ = helsinki
    gpkg = tmp_path / "helsinki osm.gpkg"
    gdal.VectorTranslate(str(gpkg), str(HELSINKI_OSM), format="GPKG", layers=["multipolygons", "lines"])
    result = run_alg("render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(gpkg),
                                            "OUTPUT_DIR": str(tmp_path / "maps")})
    assert result["PATCH_COUNT"] == grid["PATCH_COUNT"]
    for path in sorted((folder / "maps").glob("r*.tif"))[:3]:
        pbf, gpkg_render = (gdal.Open(str(p)).ReadAsArray() for p in (path, tmp_path / "maps" / path.name))
        # a GeoPackage declares no bbox: its data bounds are the extent of its features, up to a metre inside the
        # PBF header's bbox here (the extract clips its ways there), so pixels whose centre lies that close to the
        # bbox's edges may differ
        lon, lat = pixel_lon_lat(path)
        bbox = HELSINKI_BBOX
        far = ((np.abs(lon - bbox[0]) > 4e-5) & (np.abs(lon - bbox[2]) > 4e-5) & (np.abs(lat - bbox[1]) > 2e-5)
               & (np.abs(lat - bbox[3]) > 2e-5))  # 2 m
        assert far.mean() > 0.9 and (pbf[:, far] == gpkg_render[:, far]).all()


@needs_helsinki
def test_building_masks_on_the_real_extract(helsinki, run_alg, tmp_path, backend_python):
    """Tagged buildings keep their class, masks sit on the grid, coverage equals building area; and the
    accuracy from context alone (tags hidden) is measured and printed."""
    from mapsynth.plugin.grid import read_definition

    folder, grid, _ = helsinki
    result = run_alg("building_masks", {"OSM_FILE": str(HELSINKI_OSM), "PATCH_GRID": grid["OUTPUT"],
                                        "OUTPUT_BUILDINGS": str(tmp_path / "buildings.gpkg"),
                                        "OUTPUT_DIR": str(tmp_path / "masks")})
    source = ogr.Open(str(tmp_path / "buildings.gpkg"))  # kept referenced: its layer dies with it
    layer = source.GetLayer(0)
    tagged = correct = hidden_correct = 0
    union = None
    for feature in layer:
        if feature.GetField("tag_class"):
            tagged += 1
            correct += feature.GetField("class") == feature.GetField("tag_class")
            degree = feature.GetField("context_degree")
            context = "residential" if degree <= 0.4 else "non_residential" if degree >= 0.6 else "uncertain"
            hidden_correct += context == feature.GetField("tag_class")
        geometry = QgsGeometry()
        geometry.fromWkb(feature.GetGeometryRef().ExportToIsoWkb())
        union = geometry if union is None else union.combine(geometry)
    assert tagged > 50 and correct / tagged >= 0.95
    print(f"\nhidden-tag accuracy (context only) on {tagged} tagged Helsinki buildings: {hidden_correct / tagged:.3f}")
    definition = read_definition(grid["OUTPUT"])
    mask = gdal.Open(result["BUILDINGS_MASK"])
    x0, px, _, y1, _, _ = mask.GetGeoTransform()
    assert (x0, px, y1) == (definition["origin_x"], 5.0, definition["origin_y"])
    data = mask.ReadAsArray()
    assert 0 <= data.min() and data.max() <= 1
    extent = QgsGeometry.fromRect(QgsRectangle(x0, y1 - data.shape[0] * px, x0 + data.shape[1] * px, y1))
    assert data.sum() * px * px == pytest.approx(union.intersection(extent).area(), rel=0.02)
    nonres = gdal.Open(result["NONRESIDENTIAL_MASK"]).ReadAsArray()
    assert (nonres <= data + 1e-6).all() and nonres.sum() > 0
    ten = gdal.Open(str(tmp_path / "masks" / "buildings_coverage_10m.tif"))
    assert ten.GetGeoTransform()[1] == 10 and ten.ReadAsArray().sum() * 100 == pytest.approx(data.sum() * 25,
                                                                                               rel=0.02)


# No silent blanks (issue 15): a wrong or damaged extract fails; blank maps are counted, warned about and recorded
ABERYSTWYTH_EXTENT = "257070,262190,280608,285728 [EPSG:27700]"  # part of the real Aberystwyth scene's footprint
PARTLY_COVERED = "24.90,24.96,60.164,60.179 [EPSG:4326]"  # reaches 2 km west of the Helsinki extract


class WarningFeedback(ErrorFeedback):
    def __init__(self):
        super().__init__()
        self.warnings = []

    def pushWarning(self, warning):  # noqa: N802
        self.warnings.append(warning)


def no_output_left(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@needs_helsinki
def test_an_extract_of_another_region_fails_and_says_where_both_lie(run_alg, tmp_path):
    grid = run_alg("create_patch_grid", {"EXTENT": ABERYSTWYTH_EXTENT, "OUTPUT": str(tmp_path / "g.gpkg")})
    fails_with(run_alg, {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(HELSINKI_OSM),
                         "OUTPUT_DIR": str(tmp_path / "maps")},
               "the OSM file covers none of the grid: its data lies at lon 24.935 to 24.953, lat 60.164 to 60.179;"
               " the grid at lon -4.1")
    assert not no_output_left(tmp_path / "maps")


@needs_helsinki
def test_a_truncated_extract_fails_instead_of_rendering_blank_maps(run_alg, tmp_path):
    truncated = tmp_path / "cut.osm.pbf"
    truncated.write_bytes(HELSINKI_OSM.read_bytes()[:20000])  # the first 20 kB of the real file
    grid = run_alg("create_patch_grid", {"EXTENT": HELSINKI_EXTENT, "PATCH_SIZE": 64,
                                         "OUTPUT": str(tmp_path / "g.gpkg")})
    fails_with(run_alg, {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(truncated),
                         "OUTPUT_DIR": str(tmp_path / "maps")},
               f"OSM_FILE: cannot read {truncated}: An error occurred during the parsing of data")
    assert not no_output_left(tmp_path / "maps")


def synthetic_scene_over(grid_path: str, path: Path) -> Path:
    """A 4-band reflectance raster (DN/10000) covering the grid with a margin."""
    from mapsynth.plugin.grid import list_patches, patches_extent, read_definition

    definition = read_definition(grid_path)
    x0, y0, x1, y1 = patches_extent(definition, list_patches(grid_path))
    width, height = int((x1 - x0) / 10) + 20, int((y1 - y0) / 10) + 20
    ds = gdal.GetDriverByName("GTiff").Create(str(path), width, height, 4, gdal.GDT_UInt16)
    ds.SetGeoTransform((x0 - 100, 10, 0, y1 + 100, 0, -10))
    ds.SetProjection(definition["crs_wkt"])
    rng = np.random.default_rng(0)
    for band in range(4):
        ds.GetRasterBand(band + 1).WriteArray(rng.integers(300, 3000, (height, width)).astype(np.uint16))
    ds = None
    return path


@needs_helsinki
def test_blank_maps_are_warned_about_recorded_and_reach_the_dataset_card(run_alg, tmp_path, backend_python):
    from mapsynth.plugin.grid import read_status

    grid = run_alg("create_patch_grid", {"EXTENT": PARTLY_COVERED, "PATCH_SIZE": 64,
                                         "OUTPUT": str(tmp_path / "g.gpkg")})
    feedback = WarningFeedback()
    result = run_alg("render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(HELSINKI_OSM),
                                            "OUTPUT_DIR": str(tmp_path / "maps")}, feedback)
    status = read_status(grid["OUTPUT"], "map")
    unmapped = np.array([PALETTE["background"], OUTSIDE], np.uint8)
    blank_ids = set()
    for pid, row in status.items():  # the recorded share of mapped pixels, checked against the written file
        rgb = gdal.Open(str(tmp_path / "maps" / f"{pid}.tif")).ReadAsArray().transpose(1, 2, 0)
        mapped = float(1 - (rgb[:, :, None] == unmapped).all(axis=3).any(axis=2).mean())
        assert row["valid_fraction"] == pytest.approx(mapped), pid
        if mapped == 0.0:
            blank_ids.add(pid)
    blank = len(blank_ids)
    assert len(status) == result["PATCH_COUNT"] == grid["PATCH_COUNT"]
    assert result["BLANK_FRACTION"] == pytest.approx(blank / len(status)) and 0.1 < blank / len(status) < 0.9
    assert any("show no mapped feature at all" in w for w in feedback.warnings), feedback.warnings

    scene = synthetic_scene_over(grid["OUTPUT"], tmp_path / "scene.tif")
    run_alg("crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(scene), "SCALE": 0.0001, "OFFSET": 0.0,
                               "OUTPUT_DIR": str(tmp_path / "s2")})
    run_alg("build_training_dataset", {"PATCH_GRID": grid["OUTPUT"], "MAP_DIR": str(tmp_path / "maps"),
                                       "S2_DIR": str(tmp_path / "s2"), "OUTPUT_DIR": str(tmp_path / "dataset")})
    card = (tmp_path / "dataset" / "dataset_card.md").read_text(encoding="utf-8")
    pairs = set()  # the dataset's pairs: guard patches are left out of it
    for metadata in (tmp_path / "dataset").glob("*/metadata.jsonl"):
        pairs |= {json.loads(line)["patch_id"] for line in metadata.read_text(encoding="utf-8").splitlines() if line}
    in_pairs = len(blank_ids & pairs)
    expected = (f"Maps with no mapped feature at all: {in_pairs} of {len(pairs)} pairs"
                f" ({100 * in_pairs / len(pairs):.1f} %)")
    assert expected in card, card


def test_a_layer_that_fails_to_draw_fails_the_step(run_alg, tmp_path):
    """LAYERS: a GeoTIFF cut short opens (its header is intact) but its pixels cannot be read."""
    from mapsynth.plugin.grid import read_status

    mem = gdal.GetDriverByName("MEM").Create("", 400, 400, 3, gdal.GDT_Byte)
    mem.SetGeoTransform((385000, 10, 0, 6676000, 0, -10))
    mem.SetProjection(UTM35.toWkt())
    for band in range(3):
        mem.GetRasterBand(band + 1).WriteArray(np.random.default_rng(band).integers(0, 255, (400, 400), np.uint8))
    gdal.GetDriverByName("GTiff").CreateCopy(str(tmp_path / "whole.tif"), mem)
    cut = tmp_path / "cut.tif"
    cut.write_bytes((tmp_path / "whole.tif").read_bytes()[:200000])
    layer = QgsRasterLayer(str(cut), "cut")
    assert layer.isValid()
    grid = run_alg("create_patch_grid", {"EXTENT": "385000,389000,6672000,6676000 [EPSG:32635]",
                                         "PATCH_SIZE": 64, "OUTPUT": str(tmp_path / "g.gpkg")})
    with pytest.raises(QgsProcessingException, match=r"LAYERS: cannot draw cut \(.*cut.tif\): .*IReadBlock failed"):
        run_alg("render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "LAYERS": [layer],
                                       "OUTPUT_DIR": str(tmp_path / "maps")})
    assert read_status(grid["OUTPUT"], "map") == {}, "nothing is marked finished"
    for tif in (tmp_path / "maps").glob("*.tif"):  # patches drawn before the damaged rows are complete
        assert gdal.Open(str(tif)).ReadAsArray().shape == (3, 64, 64)


@needs_helsinki
def test_outside_the_header_bbox_is_outside_data_and_inside_is_not(run_alg, tmp_path):
    """No data, no pixels (issue 19): a grid reaching past the extract renders its pixels beyond the PBF header's
    bbox in the outside_data colour, never as background (unmapped land), and none inside it."""
    from mapsynth.plugin.osm_bounds import declared_bounds

    bbox = declared_bounds(HELSINKI_OSM)
    assert bbox == pytest.approx(HELSINKI_BBOX, abs=2e-7)  # PROVENANCE.md gives it to 1e-7 degrees
    grid = run_alg("create_patch_grid", {"EXTENT": "24.925,24.96,60.160,60.185 [EPSG:4326]", "PATCH_SIZE": 64,
                                         "OUTPUT": str(tmp_path / "g.gpkg")})
    run_alg("render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "OSM_FILE": str(HELSINKI_OSM),
                                   "OUTPUT_DIR": str(tmp_path / "maps")})
    margin = (3e-4, 1.5e-4)  # about 1.5 pixels of 10 m in lon and lat at 60 deg N; edge pixels go by their centre
    counts = {"outside": 0, "inside": 0}
    for path in sorted((tmp_path / "maps").glob("r*.tif")):
        lon, lat = pixel_lon_lat(path)
        black = (gdal.Open(str(path)).ReadAsArray() == np.array(OUTSIDE)[:, None, None]).all(axis=0)
        outside = ((lon < bbox[0] - margin[0]) | (lon > bbox[2] + margin[0]) | (lat < bbox[1] - margin[1])
                   | (lat > bbox[3] + margin[1]))
        inside = ((lon > bbox[0] + margin[0]) & (lon < bbox[2] - margin[0]) & (lat > bbox[1] + margin[1])
                  & (lat < bbox[3] - margin[1]))
        assert black[outside].all() and not black[inside].any(), path.name
        counts["outside"] += int(outside.sum())
        counts["inside"] += int(inside.sum())
    assert counts["outside"] > 10000 and counts["inside"] > 10000, counts


def test_declared_bounds_of_osm_xml_and_files_without_a_bbox(tmp_path):
    from mapsynth.plugin.osm_bounds import declared_bounds

    xml = tmp_path / "a.osm"
    xml.write_text('<?xml version="1.0"?>\n<osm version="0.6"><bounds minlat="52.1" minlon="-4.2" maxlat="52.5" '
                   'maxlon="-3.9"/></osm>')
    assert declared_bounds(xml) == (-4.2, 52.1, -3.9, 52.5)
    (tmp_path / "b.osm").write_text('<?xml version="1.0"?>\n<osm version="0.6"><node id="1"/></osm>')
    assert declared_bounds(tmp_path / "b.osm") is None
    (tmp_path / "c.osm.pbf").write_bytes(b"\x00\x00\x00\x05garbage")
    assert declared_bounds(tmp_path / "c.osm.pbf") is None
    assert declared_bounds(tmp_path / "d.gpkg") is None  # no declared bbox: the render uses its data extent
