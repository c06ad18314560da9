"""map-from-land-cover: shipped lookup tables, bad inputs (one clear error each), mode resampling, polygons, OSM
lines over the base, manifest, status and resume."""

import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.prepare.land_cover_map import COMMANDS, majority, map_from_land_cover
from mapsynth_backend.prepare.landcover import palette
from mapsynth_backend.prepare.lookup import OWN, SHIPPED, SHIPPED_DIR, read_table
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
CORINE, WORLDCOVER = "CORINE Land Cover (level 3)", "ESA WorldCover (v100/v200)"
# How many codes each product has (its documentation, independent of the table files): CLC 44 level-3 classes plus
# NODATA 999; WorldCover 11 classes plus 0; Dynamic World 9 labels; FLAIR-1 19 classes.
PRODUCT_CODES = {
    CORINE: 45,
    WORLDCOVER: 12,
    "Dynamic World (V1)": 9,
    "FLAIR-1 (19 classes)": 19,
}


def run(params: dict) -> dict:
    command = COMMANDS[0]
    return map_from_land_cover(command.resolve(params), REPORTER)


def write_raster(path: Path, data: np.ndarray, transform, crs="EPSG:32630", nodata=None, dtype="uint16") -> str:
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1, "dtype": dtype}
    with rasterio.open(path, "w", crs=crs, transform=transform, nodata=nodata, **profile) as dst:
        dst.write(data.astype(dtype)[None])
    return str(path)


def colour(name: str) -> tuple[int, int, int]:
    return tuple(palette()[name])


def rgb_at(path: Path, row: int, col: int) -> tuple[int, int, int]:
    with rasterio.open(path) as src:
        return tuple(int(v) for v in src.read()[:, row, col])


@pytest.mark.parametrize("name", list(SHIPPED))
def test_every_shipped_table_maps_every_code_of_its_product(name):
    table = read_table(SHIPPED_DIR / SHIPPED[name])
    assert len(table.product_codes) == PRODUCT_CODES[name]
    assert len(set(table.product_codes)) == len(table.product_codes)
    assert set(table.classes) == set(table.product_codes), "a code without a row, or a row for no product code"
    assert any(line.startswith("# source:") for line in table.path.read_text().splitlines())


def test_table_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("value,class\n1,grass\n2,lava\n")
    with pytest.raises(UserError, match=r"row 3: class 'lava' is not in the semantic palette"):
        read_table(bad)
    bad.write_text("value,class\n1,grass\n1.0,water\n")
    with pytest.raises(UserError, match="value 1 is listed twice"):
        read_table(bad)
    bad.write_text("code;klasse\n1;grass\n")
    with pytest.raises(UserError, match="needs a header row with the columns value,class"):
        read_table(bad)


@pytest.fixture
def grid(tmp_path):
    make_grid(tmp_path / "grid.gpkg", 1, 2, 8)  # x 420000-420160, y 5808920-5809000, 10 m
    return str(tmp_path / "grid.gpkg")


def test_mode_resampling_at_a_coarser_grid_keeps_the_majority_class(tmp_path, grid):
    """2 m source, 10 m grid: each cell is 25 source pixels. Cell A: 13 pasture vs 12 arable (raw majority and
    class majority agree: grass). Cell B: 8 broad-leaved + 8 coniferous (16 forest) vs 9 arable: the majority
    *class* is forest although the most frequent *code* is arable (a mode of raw codes would say farmland)."""
    codes = np.full((40, 80), 211, np.uint16)  # arable -> farmland
    block = np.full(25, 231)  # pastures -> grass
    block[[*range(11), 12]] = 211  # 12 arable, among them the centre pixel (what nearest-neighbour would take)
    codes[0:5, 0:5] = block.reshape(5, 5)
    block = np.full(25, 211)
    forest = [i for i in range(25) if i not in (*range(8), 12)]  # 9 arable, the centre among them
    block[forest[:8]], block[forest[8:]] = 311, 312
    codes[0:5, 5:10] = block.reshape(5, 5)
    raster = write_raster(tmp_path / "clc.tif", codes, from_origin(420000, 5809000, 2, 2))
    out = tmp_path / "maps"
    result = run({"patch_grid": grid, "input": raster, "table": CORINE, "output_dir": str(out)})
    assert result["written"] == 2
    first = out / "r0000_c0000.tif"
    assert rgb_at(first, 0, 0) == colour("grass")
    assert rgb_at(first, 0, 1) == colour("forest")
    assert rgb_at(first, 1, 1) == colour("farmland")
    with rasterio.open(first) as src:
        rgb = src.read().reshape(3, -1).T
    assert {tuple(c) for c in rgb} <= set(palette().values()), "a blended colour of no class"


def test_majority_of_polygon_subpixels_ignores_no_data():
    fine = np.array([[0, 0, 3], [0, 2, 3], [2, 2, 1]], np.uint8)
    assert majority(fine, 3).tolist() == [[2]]
    assert majority(np.zeros((2, 2), np.uint8), 2).tolist() == [[0]]


def test_unknown_codes_are_refused_or_become_no_data(tmp_path, grid):
    codes = np.full((8, 16), 30, np.uint16)  # grassland
    codes[:, 12:] = 77  # not a WorldCover code
    codes[0, 0] = 0  # WorldCover's own "no data"
    raster = write_raster(tmp_path / "wc.tif", codes, from_origin(420000, 5809000, 10, 10))
    out = tmp_path / "maps"
    params = {"patch_grid": grid, "input": raster, "table": WORLDCOVER, "output_dir": str(out)}
    with pytest.raises(UserError, match=r"1 class value\(s\) are not in esa_worldcover.csv: 77"):
        run(params)
    assert not list(out.glob("*.tif")), "refused before anything was written"
    result = run({**params, "unknown": "no data"})
    assert result["unknown_values"] == ["77"] and result["written"] == 2
    with rasterio.open(out / "r0000_c0001.tif") as src:
        mask = src.dataset_mask()
        assert float(src.tags()["valid_fraction"]) == 0.5
    assert mask[:, :4].all() and not mask[:, 4:].any()
    with rasterio.open(out / "r0000_c0000.tif") as src:
        assert src.dataset_mask()[0, 0] == 0 and src.dataset_mask()[0, 1] == 255


def test_raster_in_another_crs_and_outside_the_raster_is_no_data(tmp_path):
    """A Web Mercator raster covering only the west patch: the east patch is not written (status outside)."""
    from rasterio.warp import transform_bounds

    make_grid(tmp_path / "grid.gpkg", 1, 2, 8)
    west, south, east, north = transform_bounds("EPSG:32630", "EPSG:3857", 420000, 5808920, 420080, 5809000)
    data = np.full((40, 40), 512, np.uint16)  # water bodies
    transform = from_origin(west, north, (east - west) / 40, (north - south) / 40)
    raster = write_raster(tmp_path / "merc.tif", data, transform, crs="EPSG:3857")
    out = tmp_path / "maps"
    result = run({"patch_grid": str(tmp_path / "grid.gpkg"), "input": raster, "table": CORINE, "output_dir": str(out)})
    assert result["written"] == 1 and result["outside"] == 1
    assert rgb_at(out / "r0000_c0000.tif", 4, 4) == colour("water")
    with sqlite3.connect(tmp_path / "grid.gpkg") as conn:
        status = dict(conn.execute("SELECT patch_id, status FROM mapsynth_status WHERE step = 'map'").fetchall())
    assert status == {"r0000_c0000": "ok", "r0000_c0001": "outside"}


def test_bad_inputs_give_one_clear_error_each(tmp_path, grid):
    data = np.full((8, 16), 10, np.uint16)
    no_crs = tmp_path / "nocrs.tif"
    with rasterio.open(no_crs, "w", driver="GTiff", width=16, height=8, count=1, dtype="uint16") as dst:
        dst.write(data[None])
    out = str(tmp_path / "maps")
    with pytest.raises(UserError, match=r"INPUT: .*nocrs.tif has no CRS; assign one"):
        run({"patch_grid": grid, "input": str(no_crs), "table": WORLDCOVER, "output_dir": out})
    raster = write_raster(tmp_path / "ok.tif", data, from_origin(420000, 5809000, 10, 10))
    bad_table = tmp_path / "mine.csv"
    bad_table.write_text("value,class\n10,forest\n20,jungle\n")
    with pytest.raises(UserError, match="class 'jungle' is not in the semantic palette"):
        run({"patch_grid": grid, "input": raster, "table": OWN, "table_file": str(bad_table), "output_dir": out})
    with pytest.raises(UserError, match="TABLE is 'own CSV' but no CSV file was given"):
        run({"patch_grid": grid, "input": raster, "table": OWN, "output_dir": out})
    with pytest.raises(UserError, match="give either INPUT .* or VECTOR"):
        run({"patch_grid": grid, "table": WORLDCOVER, "output_dir": out})
    with pytest.raises(UserError, match="BAND: .* has 1 band"):
        run({"patch_grid": grid, "input": raster, "band": 2, "table": WORLDCOVER, "output_dir": out})
    floats = write_raster(tmp_path / "f.tif", data, from_origin(420000, 5809000, 10, 10), dtype="float32")
    with pytest.raises(UserError, match="float32, not classes"):
        run({"patch_grid": grid, "input": floats, "table": WORLDCOVER, "output_dir": out})
    assert not Path(out).exists() or not list(Path(out).glob("*.tif"))


def test_polygons_with_a_text_class_field_in_another_crs(tmp_path, grid):
    import shapely
    from pyogrio.raw import write
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs("EPSG:32630", "EPSG:4326", always_xy=True)
    boxes = [shapely.box(420000, 5808920, 420083, 5809000), shapely.box(420083, 5808920, 420160, 5809000)]
    geoms = [shapely.transform(b.segmentize(5), to_wgs84.transform, interleaved=False) for b in boxes]
    path = tmp_path / "clc.gpkg"
    wkbs = np.array(shapely.to_wkb(geoms), dtype=object)
    codes = [np.array(["311", "512"], dtype=object)]
    write(str(path), wkbs, codes, ["Code_18"], driver="GPKG", geometry_type="Polygon", crs="EPSG:4326")
    out = tmp_path / "maps"
    params = {"patch_grid": grid, "vector": str(path), "class_field": "Code_18", "table": CORINE}
    result = run({**params, "output_dir": str(out)})
    assert result["written"] == 2
    assert rgb_at(out / "r0000_c0000.tif", 3, 7) == colour("forest")  # 420070-420080: all forest
    assert rgb_at(out / "r0000_c0001.tif", 3, 0) == colour("water")  # 420080-420090: 7 of 10 m water
    with pytest.raises(UserError, match="CLASS_FIELD: .* has no field 'code'"):
        run({**params, "class_field": "code", "output_dir": str(tmp_path / "other")})


def test_osm_lines_are_drawn_over_the_base_resume_and_manifest(tmp_path, grid):
    raster = write_raster(tmp_path / "wc.tif", np.full((8, 16), 40), from_origin(420000, 5809000, 10, 10))
    lines = tmp_path / "lines"
    lines.mkdir()
    rgba = np.zeros((4, 8, 8), np.uint8)
    rgba[:3, 2, :] = np.array(colour("major_road"))[:, None]
    rgba[3, 2, :] = 255
    rgba[:3, 5, :], rgba[3, 5, :] = 77, 255  # a colour of no class (a blended edge): left out
    profile = {"driver": "GTiff", "width": 8, "height": 8, "count": 4, "dtype": "uint8"}
    with rasterio.open(lines / "r0000_c0000.tif", "w", **profile) as dst:
        dst.write(rgba)
    out = tmp_path / "maps"
    params = {"patch_grid": grid, "input": raster, "table": WORLDCOVER, "output_dir": str(out)}
    with pytest.raises(UserError, match="OSM lines are rendered in QGIS"):
        run({**params, "osm_file": "city.osm.pbf"})
    run({**params, "osm_file": "city.osm.pbf", "lines_dir": str(lines)})
    first = out / "r0000_c0000.tif"
    assert rgb_at(first, 2, 3) == colour("major_road")
    assert rgb_at(first, 5, 3) == colour("farmland") and rgb_at(first, 0, 0) == colour("farmland")
    details = json.loads((out / "mapsynth_output.json").read_text())["details"]
    assert details["table"] == "esa_worldcover.csv" and details["lines"] == "city.osm.pbf"
    assert details["source"] == "land cover: wc.tif band 1"
    again = run({**params, "osm_file": "city.osm.pbf", "lines_dir": str(lines)})
    assert again["written"] == 0 and again["patch_count"] == 2
    with pytest.raises(UserError, match="was made with other settings"):
        run(params)  # the same folder without the OSM lines
