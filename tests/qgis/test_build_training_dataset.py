"""mapsynth:build_training_dataset: on the real Aberystwyth scene (grid -> crop -> render -> dataset; skipped
without the shared data) and on the synthetic chain of conftest.py (always)."""

import json
import re

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

from ..conftest import ABERYSTWYTH_S2 as SCENE  # noqa: TID252
from .conftest import SIDE, X0, Y0  # noqa: TID252


@pytest.fixture(scope="module")
def chain(tmp_path_factory, plugin, backend_python):
    import processing

    if not SCENE.exists():
        pytest.skip(f"real Sentinel-2 scene not available at {SCENE}")
    folder = tmp_path_factory.mktemp("chain")
    grid = processing.run("mapsynth:create_patch_grid", {
        "EXTENT": "258000,266000,277000,285000 [EPSG:27700]", "PATCH_SIZE": 64, "VAL_FRACTION": 0.15,
        "TEST_FRACTION": 0.15, "OUTPUT": str(folder / "grid.gpkg")})
    processing.run("mapsynth:crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(SCENE), "SCALE": 0.001,
                                               "OUTPUT_DIR": str(folder / "s2")})
    layer = QgsRasterLayer(str(SCENE), "scene")  # any styled layer can be the map
    processing.run("mapsynth:render_map_patches", {"PATCH_GRID": grid["OUTPUT"], "LAYERS": [layer],
                                                   "OUTPUT_DIR": str(folder / "maps")})
    result = processing.run("mapsynth:build_training_dataset", {
        "PATCH_GRID": grid["OUTPUT"], "MAP_DIR": str(folder / "maps"), "S2_DIR": str(folder / "s2"),
        "OUTPUT_DIR": str(folder / "dataset")})
    return folder, grid, result


def records(folder):
    for split in ("train", "validation", "test"):
        path = folder / "dataset" / split / "metadata.jsonl"
        if path.exists():
            for line in path.read_text().splitlines():
                yield split, json.loads(line)


def test_pairs_keep_the_split_and_drop_partial_patches(chain):
    from mapsynth.plugin.grid import list_patches, read_status

    folder, grid, result = chain
    status = read_status(grid["OUTPUT"], "s2")
    maps = {p.stem for p in (folder / "maps").glob("r*.tif")}
    splits = {p["patch_id"]: p["split"] for p in list_patches(grid["OUTPUT"])}
    full = {pid for pid, s in status.items() if s["status"] == "ok" and s["valid_fraction"] == 1.0 and pid in maps}
    rows = list(records(folder))
    assert result["PATCH_COUNT"] == len(rows) == len({pid for pid in full if splits[pid] != "guard"}) > 10
    assert len(full) < grid["PATCH_COUNT"], "the rotated scene leaves partial patches to drop"
    folders = {"train": "train", "val": "validation", "test": "test"}
    assert {r["split"] for _, r in rows} == {"train", "val", "test"}
    for split_folder, record in rows:
        assert record["split"] == splits[record["patch_id"]] and split_folder == folders[record["split"]]
        assert record["crs"] == "EPSG:32630" and record["text"]
        base = folder / "dataset" / split_folder
        for key in ("file_name", "conditioning_image", "nir_image", "multispectral"):
            assert (base / record[key]).is_file(), key
        ds = gdal.Open(str(folder / "s2" / f"{record['patch_id']}.tif"))
        x0, _, _, y1, _, _ = ds.GetGeoTransform()
        assert record["bounds"] == pytest.approx([x0, y1 - 640, x0 + 640, y1])


def test_images_invert_exactly_to_reflectance(chain):
    folder, _, _ = chain
    radiometry = json.loads((folder / "dataset" / "radiometry.json").read_text())
    assert radiometry["bands"] == ["B02", "B03", "B04", "B08"]
    low = np.array([radiometry["clip"][b][0] for b in ("B04", "B03", "B02", "B08")])
    high = np.array([radiometry["clip"][b][1] for b in ("B04", "B03", "B02", "B08")])
    assert (high > low).all() and high[3] > high[0]  # NIR reaches higher than red over vegetation
    split, record = next(records(folder))
    base = folder / "dataset" / split
    rgb = gdal.Open(str(base / record["file_name"])).ReadAsArray().astype(float)
    nir = gdal.Open(str(base / record["nir_image"])).ReadAsArray().astype(float)
    dn = gdal.Open(str(base / record["multispectral"])).ReadAsArray().astype(float)
    reflectance = dn * 1e-4 - 0.1
    truth = np.stack([reflectance[2], reflectance[1], reflectance[0], reflectance[3]])
    images = np.concatenate([rgb, nir[None]])
    back = low[:, None, None] + images / 255 * (high - low)[:, None, None]
    inside = (truth >= low[:, None, None]) & (truth <= high[:, None, None])
    assert inside.mean() > 0.8
    assert (np.abs(back - truth)[inside] <= ((high - low) / 255 / 2)[:, None, None].repeat(64, 1).repeat(64, 2)[inside]
            + 1e-6).all()


def test_card_and_resume(prepared, run_alg):
    folder, grid, result = prepared["root"], prepared["grid"], prepared["dataset"]
    card = (folder / "dataset" / "dataset_card.md").read_text()
    # the maps are the scene layer rendered in QGIS (conftest), not OpenStreetMap: the card says so
    for text in ("QGIS layers scene", "Contains modified Copernicus Sentinel data", "| train |",
                 "reflectance = DN * 0.0001 - 0.1", "EPSG:32630"):
        assert text in card
    assert "OpenStreetMap" not in card
    again = run_alg("build_training_dataset", {"PATCH_GRID": grid["OUTPUT"], "MAP_DIR": str(folder / "maps"),
                                               "S2_DIR": str(folder / "s2"), "OUTPUT_DIR": str(folder / "dataset")})
    assert again["PATCH_COUNT"] == result["PATCH_COUNT"] > 0


def test_folders_of_another_grid_are_refused(prepared, run_alg, tmp_path):
    folder = prepared["root"]
    other = run_alg("create_patch_grid", {"EXTENT": "420000,420640,5819360,5820000 [EPSG:32630]",
                                          "OUTPUT": str(tmp_path / "other.gpkg")})
    with pytest.raises(QgsProcessingException, match="MAP_DIR: .* was made for another grid"):
        run_alg("build_training_dataset", {"PATCH_GRID": other["OUTPUT"], "MAP_DIR": str(folder / "maps"),
                                           "S2_DIR": str(folder / "s2"), "OUTPUT_DIR": str(tmp_path / "d")})


class WarningFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings = []

    def pushWarning(self, warning):  # noqa: N802 - QGIS API name
        self.warnings.append(warning)


def shared_by_ogr(grid_path, dataset):
    """Pixels of the dataset's pairs that lie in a pair of another split, from the GeoPackage's polygons by OGR."""
    from osgeo import ogr

    pairs = {}
    for split in ("train", "validation", "test"):
        path = dataset / split / "metadata.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            record = json.loads(line)
            pairs[record["patch_id"]] = record["split"]
    ds = ogr.Open(str(grid_path))
    shapes = {f.GetField("patch_id"): f.GetGeometryRef().Clone() for f in ds.GetLayerByName("patches")
              if f.GetField("patch_id") in pairs}
    shared = 0
    for split in set(pairs.values()):
        others = ogr.Geometry(ogr.wkbMultiPolygon)
        for pid, other in pairs.items():
            if other != split:
                others.AddGeometry(shapes[pid])
        others = others.UnionCascaded()
        shared += sum(shapes[pid].Intersection(others).GetArea() for pid, s in pairs.items() if s == split)
    return round(shared / 100), pairs  # 10 m pixels


def card_shared(card: str) -> int:
    return int(re.search(r"Pixels shared between splits: ([\d,]+) ", card).group(1).replace(",", ""))


def test_guarded_dataset_shares_no_pixel_and_an_unguarded_one_is_measured_and_warned(prepared, run_alg, tmp_path):
    from mapsynth.plugin.grid import list_patches

    folder, grid = prepared["root"], prepared["grid"]
    guard = {p["patch_id"] for p in list_patches(grid["OUTPUT"]) if p["split"] == "guard"}
    shared, pairs = shared_by_ogr(grid["OUTPUT"], folder / "dataset")
    card = (folder / "dataset" / "dataset_card.md").read_text()
    assert shared == card_shared(card) == 0 and guard and not guard & set(pairs)
    assert f"Guard patches in the grid (neither trained nor scored): {len(guard)} (guard band on)" in card
    assert not (folder / "dataset" / "guard").exists()
    overlap = json.loads((folder / "dataset" / "dataset_card.json").read_text())["split_overlap"]
    assert (overlap["shared_pixels"], overlap["guard_patches"], overlap["guard_band"]) == (0, len(guard), True)

    leaky = run_alg("create_patch_grid", {
        "EXTENT": f"{X0},{X0 + SIDE},{Y0 - SIDE},{Y0} [EPSG:32630]", "CRS": "EPSG:32630", "PATCH_SIZE": 32,
        "VAL_FRACTION": 0.2, "TEST_FRACTION": 0.0, "GUARD": False, "OUTPUT": str(tmp_path / "leaky.gpkg")})
    feedback = WarningFeedback()
    run_alg("build_training_dataset", {"PATCH_GRID": leaky["OUTPUT"], "MAP_DIR": str(folder / "maps"),
                                       "S2_DIR": str(folder / "s2"), "OUTPUT_DIR": str(tmp_path / "dataset")},
            feedback)
    shared, pairs = shared_by_ogr(leaky["OUTPUT"], tmp_path / "dataset")
    card = (tmp_path / "dataset" / "dataset_card.md").read_text()
    assert card_shared(card) == shared > 0 and len(pairs) > len(guard)
    assert "0 (grid made without the guard band)" in card
    overlap = json.loads((tmp_path / "dataset" / "dataset_card.json").read_text())["split_overlap"]
    assert overlap["shared_pixels"] == shared and not overlap["guard_band"]
    assert any(f"The splits share {shared:,} pixels" in w for w in feedback.warnings), feedback.warnings


def test_guard_patches_train_with_their_shared_pixels_hidden(prepared, run_alg, tmp_path):
    """TRAIN_GUARD: every guard patch trains, and no valid training pixel lies in a validation or test patch
    (checked from the files by GDAL against the grid's polygons rasterised on each patch), while only those
    pixels are hidden."""
    from mapsynth.plugin.grid import list_patches
    from osgeo import ogr

    folder, grid = prepared["root"], prepared["grid"]
    splits = {p["patch_id"]: p["split"] for p in list_patches(grid["OUTPUT"])}
    run_alg("build_training_dataset", {"PATCH_GRID": grid["OUTPUT"], "MAP_DIR": str(folder / "maps"),
                                       "S2_DIR": str(folder / "s2"), "TRAIN_GUARD": True,
                                       "OUTPUT_DIR": str(tmp_path / "dataset")})
    rows = [json.loads(line) for line in (tmp_path / "dataset" / "train" / "metadata.jsonl").read_text().splitlines()]
    guard_rows = [r for r in rows if splits[r["patch_id"]] == "guard"]
    plain = {json.loads(line)["patch_id"] for line in
             (folder / "dataset" / "train" / "metadata.jsonl").read_text().splitlines()}
    assert guard_rows and {r["patch_id"] for r in rows} - plain == {r["patch_id"] for r in guard_rows}
    source = ogr.Open(grid["OUTPUT"])  # kept alive while its layer is used
    held = ogr.GetDriverByName("Memory").CreateDataSource("held")
    layer = held.CreateLayer("held", source.GetLayerByName("patches").GetSpatialRef())
    for feature in source.GetLayerByName("patches"):
        if splits[feature.GetField("patch_id")] in ("val", "test"):
            out = ogr.Feature(layer.GetLayerDefn())
            out.SetGeometry(feature.GetGeometryRef().Clone())
            layer.CreateFeature(out)
    hidden_total = 0
    for row in rows:
        ds = gdal.Open(str(tmp_path / "dataset" / "train" / row["multispectral"]))
        valid = (ds.ReadAsArray() != 0).all(axis=0)
        inside = gdal.GetDriverByName("MEM").Create("", ds.RasterXSize, ds.RasterYSize, 1, gdal.GDT_Byte)
        inside.SetGeoTransform(ds.GetGeoTransform())
        inside.SetProjection(ds.GetProjection())
        gdal.RasterizeLayer(inside, [1], layer, burn_values=[1])
        in_held = inside.ReadAsArray().astype(bool)
        assert not (valid & in_held).any(), row["patch_id"]
        assert np.array_equal(~valid, in_held), f"{row['patch_id']}: hidden pixels are not exactly the shared ones"
        conditioning = gdal.Open(str(tmp_path / "dataset" / "train" / row["conditioning_image"])).ReadAsArray()
        assert (conditioning[:, in_held] == 0).all()
        hidden_total += int(in_held.sum())
        assert row.get("hidden_pixels", 0) == int(in_held.sum())
    assert hidden_total > 0
    card = (tmp_path / "dataset" / "dataset_card.md").read_text()
    assert card_shared(card) == 0 and f"{len(guard_rows)} train with the {hidden_total:,} pixels" in card
