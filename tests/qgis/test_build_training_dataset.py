"""The data-preparation chain on the real Aberystwyth scene: grid -> crop -> render -> dataset."""

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsRasterLayer

from ..conftest import SHARED_DATA  # noqa: TID252

SCENE = SHARED_DATA / "s2_aberystwyth_20210527" / "aberystwyth_s2_20210527_b02_b03_b04_b08_10m_epsg27700.tif"
pytestmark = pytest.mark.skipif(not SCENE.exists(), reason=f"real Sentinel-2 scene not available at {SCENE}")


@pytest.fixture(scope="module")
def chain(tmp_path_factory, plugin, backend_python):
    import processing

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
    full = {pid for pid, s in status.items() if s["status"] == "ok" and s["valid_fraction"] == 1.0 and pid in maps}
    rows = list(records(folder))
    assert result["PATCH_COUNT"] == len(rows) == len(full) > 10
    assert len(full) < grid["PATCH_COUNT"], "the rotated scene leaves partial patches to drop"
    splits = {p["patch_id"]: p["split"] for p in list_patches(grid["OUTPUT"])}
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


def test_card_and_resume(chain, run_alg):
    folder, grid, result = chain
    card = (folder / "dataset" / "dataset_card.md").read_text()
    for text in ("© OpenStreetMap contributors", "Contains modified Copernicus Sentinel data", "| train |",
                 "reflectance = DN * 0.0001 - 0.1", "EPSG:32630"):
        assert text in card
    again = run_alg("build_training_dataset", {"PATCH_GRID": grid["OUTPUT"], "MAP_DIR": str(folder / "maps"),
                                               "S2_DIR": str(folder / "s2"), "OUTPUT_DIR": str(folder / "dataset")})
    assert again["PATCH_COUNT"] == result["PATCH_COUNT"]


def test_folders_of_another_grid_are_refused(chain, run_alg, tmp_path):
    folder, _, _ = chain
    other = run_alg("create_patch_grid", {"EXTENT": "258000,260000,277000,279000 [EPSG:27700]",
                                          "OUTPUT": str(tmp_path / "other.gpkg")})
    with pytest.raises(QgsProcessingException, match="MAP_DIR: .* was made for another grid"):
        run_alg("build_training_dataset", {"PATCH_GRID": other["OUTPUT"], "MAP_DIR": str(folder / "maps"),
                                           "S2_DIR": str(folder / "s2"), "OUTPUT_DIR": str(tmp_path / "d")})


def test_train_then_generate_through_processing(chain, run_alg, tmp_path):
    """The chain continues in QGIS: a tiny pixel model on the real pairs, then georeferenced generation."""
    folder, grid, _ = chain
    trained = run_alg("train_model", {"DATASET": str(folder / "dataset"), "FAMILY": 0, "PRESET": 0, "MAX_STEPS": 3,
                                      "BATCH_SIZE": 2, "CHECKPOINT_EVERY": 2, "VALIDATION_EVERY": 0,
                                      "OUTPUT_DIR": str(tmp_path / "training")})
    card = json.loads((tmp_path / "training" / "model" / "model_card.json").read_text())
    assert trained["MODEL_DIR"] == str(tmp_path / "training" / "model") and card["steps"] == 3
    assert card["pixel_size"] == pytest.approx(10.0) and card["crs"] == "EPSG:32630"
    generated = run_alg("generate_patches", {"MODEL": trained["MODEL_DIR"], "PATCH_GRID": grid["OUTPUT"],
                                             "MAP_DIR": str(folder / "maps"), "VARIATIONS": 1, "STEPS": 2,
                                             "OUTPUT_DIR": str(tmp_path / "generated")})
    maps = sorted((folder / "maps").glob("r*.tif"))
    assert generated["PATCH_COUNT"] == len(maps)
    out = gdal.Open(str(tmp_path / "generated" / f"{maps[0].stem}_v00.tif"))
    ref = gdal.Open(str(maps[0]))
    assert out.GetGeoTransform() == ref.GetGeoTransform() and out.RasterCount == 4
    mosaic = run_alg("assemble_mosaic", {"PATCH_GRID": grid["OUTPUT"], "GENERATED_DIR": str(tmp_path / "generated"),
                                         "OUTPUT": str(tmp_path / "mosaic.tif"), "LABELS": str(tmp_path / "labels.tif"),
                                         "SEAMS": str(tmp_path / "seams.gpkg")})
    ds = gdal.Open(mosaic["OUTPUT"])
    layout = ds.GetMetadata("IMAGE_STRUCTURE").get("LAYOUT")
    assert layout == "COG" and ds.RasterCount == 4 and mosaic["SEAM_VISIBILITY"] > 0
    x0, px, _, y1, _, _ = ds.GetGeoTransform()
    assert px == 10 and (x0 - 0) % 10 == 0 and y1 % 10 == 0 and ds.GetProjection()
    assert gdal.OpenEx(mosaic["SEAMS"]).GetLayer(0).GetFeatureCount() > 0
    assert gdal.Open(mosaic["LABELS"]).GetGeoTransform() == ds.GetGeoTransform()
    exported = run_alg("export_netcdf", {"MOSAIC": mosaic["OUTPUT"], "LABELS": mosaic["LABELS"],
                                         "PER_PATCH": grid["OUTPUT"], "OUTPUT": str(tmp_path / "city.nc")})
    nc = gdal.Open(f'NETCDF:"{tmp_path / "city.nc"}":B04')
    assert nc is not None and nc.RasterXSize == ds.RasterXSize and exported["PATCH_FILES"] == len(maps)
    vrt = gdal.BuildVRT(str(tmp_path / "maps.vrt"), [str(m) for m in maps])
    vrt = None  # noqa: F841 - flushes the VRT
    evaluated = run_alg("evaluate", {"SYNTHETIC": mosaic["OUTPUT"], "REAL": str(SCENE),
                                     "MAP": str(tmp_path / "maps.vrt"), "OUTPUT_DIR": str(tmp_path / "report")})
    metrics = json.loads(Path(evaluated["METRICS"]).read_text())
    assert {"wasserstein", "ndvi_per_class", "paired", "seams"} <= set(metrics)
    assert "<img" in Path(evaluated["REPORT"]).read_text()
    loaded_layers_are_styled_in_one_group(grid, tmp_path)
    with pytest.raises(QgsProcessingException, match="is not a MapSynth model directory"):
        run_alg("generate_patches", {"MODEL": str(tmp_path), "PATCH_GRID": grid["OUTPUT"],
                                     "MAP_DIR": str(folder / "maps"), "OUTPUT_DIR": str(tmp_path / "g2")})


def loaded_layers_are_styled_in_one_group(grid, tmp_path):
    """Loaded like the GUI does: true colour and NIR false colour mosaics, seams and labels, in one group."""
    import processing
    from qgis.core import QgsProject

    project = QgsProject.instance()
    processing.runAndLoadResults("mapsynth:assemble_mosaic", {
        "PATCH_GRID": grid["OUTPUT"], "GENERATED_DIR": str(tmp_path / "generated"),
        "OUTPUT": str(tmp_path / "loaded.tif"), "LABELS": str(tmp_path / "loaded_labels.tif"),
        "SEAMS": str(tmp_path / "loaded_seams.gpkg")})
    groups = [g for g in project.layerTreeRoot().findGroups() if g.name().startswith("MapSynth mosaic")]
    assert len(groups) == 1
    layers = {node.layer().name(): node.layer() for node in groups[0].findLayers()}
    assert {"Mosaic (true colour)", "Mosaic (NIR false colour)", "Seam lines", "Label map"} <= set(layers)
    true_colour = layers["Mosaic (true colour)"].renderer()
    false_colour = layers["Mosaic (NIR false colour)"].renderer()
    assert (true_colour.redBand(), true_colour.greenBand(), true_colour.blueBand()) == (3, 2, 1)
    assert (false_colour.redBand(), false_colour.greenBand(), false_colour.blueBand()) == (4, 3, 2)
    assert true_colour.redContrastEnhancement().maximumValue() == 3500
    project.removeAllMapLayers()
    project.layerTreeRoot().removeChildNode(groups[0])
