"""mapsynth:generate_patches on the synthetic chain (conftest.py)."""

import json

import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException


def test_generation_is_georeferenced_like_the_maps(generated):
    maps = sorted((generated["root"] / "maps").glob("r*.tif"))
    assert generated["generated"]["PATCH_COUNT"] == len(maps) > 0
    out = gdal.Open(str(generated["root"] / "generated" / f"{maps[0].stem}_v01.tif"))
    ref = gdal.Open(str(maps[0]))
    assert out.GetGeoTransform() == ref.GetGeoTransform() and out.RasterCount == 4
    assert [out.GetRasterBand(i).GetDescription() for i in (1, 2, 3, 4)] == ["B02", "B03", "B04", "B08"]
    index = [json.loads(line) for line in (generated["root"] / "generated" / "index.jsonl").read_text().splitlines()]
    assert len(index) == 2 * len(maps)


def test_a_rerun_skips_finished_files(generated, run_alg):
    first = generated["root"] / "generated" / sorted((generated["root"] / "maps").glob("r*.tif"))[0].name
    before = first.with_name(first.stem + "_v00.tif").stat().st_mtime_ns
    run_alg("generate_patches", {"MODEL": generated["training"]["MODEL_DIR"], "PATCH_GRID": generated["grid"]["OUTPUT"],
                                 "MAP_DIR": str(generated["root"] / "maps"), "VARIATIONS": 2, "STEPS": 2,
                                 "OUTPUT_DIR": str(generated["root"] / "generated")})
    assert first.with_name(first.stem + "_v00.tif").stat().st_mtime_ns == before


def test_a_folder_that_is_not_a_model_is_refused(prepared, run_alg, tmp_path):
    with pytest.raises(QgsProcessingException, match="is not a MapSynth model directory"):
        run_alg("generate_patches", {"MODEL": str(tmp_path), "PATCH_GRID": prepared["grid"]["OUTPUT"],
                                     "MAP_DIR": str(prepared["root"] / "maps"), "OUTPUT_DIR": str(tmp_path / "g")})
