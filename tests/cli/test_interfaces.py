"""Processing interfaces through qgis_process as scripts use them: by-products need not be named, the demo model
is the default MODEL, and a RESUME that is not a checkpoint is one clear line."""

import json
from pathlib import Path

from osgeo import gdal

from ..conftest import write_map_patches  # noqa: TID252
from .test_bad_inputs import one_error
from .test_qgis_process import qp  # noqa: F401 - the qgis_process fixture

EXTENT = "420000,420640,5808360,5809000 [EPSG:32630]"


def test_assemble_runs_without_labels_and_seams(qp, tmp_path, backend_python):  # noqa: F811
    grid = tmp_path / "grid.gpkg"
    qp("run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", f"OUTPUT={grid}")
    maps = write_map_patches(grid, tmp_path / "maps")
    qp("run", "mapsynth:generate_patches", "--", f"PATCH_GRID={grid}", f"MAP_DIR={maps}", "VARIATIONS=1",
       "STEPS=1", f"OUTPUT_DIR={tmp_path / 'generated'}")  # no MODEL: the embedded demo model
    assert len(list((tmp_path / "generated").glob("r*_v00.tif"))) == len(list(maps.glob("r*.tif")))
    mosaic = tmp_path / "mosaic.tif"
    proc = qp("--json", "run", "mapsynth:assemble_mosaic", "--", f"PATCH_GRID={grid}",
              f"GENERATED_DIR={tmp_path / 'generated'}", f"OUTPUT={mosaic}")
    results = json.loads(proc.stdout)["results"]
    assert Path(results["OUTPUT"]) == mosaic and gdal.Open(str(mosaic)).RasterCount == 4
    assert Path(results["LABELS"]) == tmp_path / "mosaic_labels.tif"
    assert Path(results["SEAMS"]) == tmp_path / "mosaic_seams.gpkg"
    assert gdal.Open(results["LABELS"]).RasterCount == 1


def test_train_resume_from_a_folder_that_is_not_a_checkpoint_is_one_line(qp, tmp_path):  # noqa: F811
    (tmp_path / "run 2").mkdir()
    line = one_error(qp("run", "mapsynth:train_model", "--", f"DATASET={tmp_path}", f"RESUME={tmp_path / 'run 2'}",
                        f"OUTPUT_DIR={tmp_path / 'training'}", check=False))
    assert "RESUME" in line and "checkpoint-N" in line
    assert not (tmp_path / "training").exists()
