"""Cancel from QGIS, as the toolbox's Cancel button does: every backend algorithm, run through processing.run
with a feedback that cancels at the first progress report, is reported cancelled (its message and the cancel marker
in its job folder), its backend process is gone, and nothing unfinished is marked complete. How fast a cancel
returns is a speed claim (a benchmark's), not a test's on shared cores: here only a generous bound."""

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from ..conftest import HELSINKI_OSM, SHARED_DATA, tiny_pixel_model, write_map_patches  # noqa: TID252
from .conftest import ENCODE, RecordingFeedback, write_raster


class CancelOnFirstProgress(RecordingFeedback):
    def __init__(self):
        super().__init__()
        self.cancelled_at = None
        self.progressChanged.connect(self._progress)

    def _progress(self, _value):
        if self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
            self.cancel()


@pytest.fixture(scope="module")
def world(plugin, tmp_path_factory):
    """A 1,024-patch grid with a Sentinel-2-like scene, its map patches and generated candidates, a dataset and a
    tiny model: enough work that every job is still running when it is cancelled."""
    import processing

    root = tmp_path_factory.mktemp("cancel")
    x0, y0, side, stride = 420000.0, 5820000.0, 15360.0, 480.0
    grid = processing.run("mapsynth:create_patch_grid", {
        "EXTENT": f"{x0},{x0 + side},{y0 - side},{y0} [EPSG:32630]", "CRS": "EPSG:32630", "PATCH_SIZE": 64,
        "OVERLAP": 16, "OUTPUT": str(root / "grid.gpkg")})["OUTPUT"]
    rng = np.random.default_rng(0)
    scene = (rng.uniform(0.02, 0.4, (4, 1600, 1600)) + 0.1) * ENCODE
    write_raster(root / "scene.tif", scene.astype(np.uint16), 32630, x0, y0, 10.0,
                 {"encoding": "reflectance = DN * 0.0001 - 0.1; DN 0 = nodata"})
    from mapsynth.plugin.grid import list_patches, read_definition

    definition = read_definition(grid)
    write_map_patches(grid, root / "maps")
    (root / "generated").mkdir()
    (root / "generated" / "mapsynth_output.json").write_text(json.dumps(
        {"kind": "generated", "grid_fingerprint": definition["fingerprint"], "details": {}}))
    for patch in list_patches(grid):
        px = definition["origin_x"] + patch["col"] * stride
        py = definition["origin_y"] - patch["row"] * stride
        for variation in range(2):
            values = (rng.uniform(0.02, 0.4, (4, 64, 64)) + 0.1) * ENCODE
            write_raster(root / "generated" / f"{patch['patch_id']}_v{variation:02d}.tif", values.astype(np.uint16),
                         32630, px, py, 10.0)
    processing.run("mapsynth:crop_sentinel2", {"PATCH_GRID": grid, "INPUT": str(root / "scene.tif"),
                                               "SCALE": 1 / ENCODE, "OFFSET": -0.1, "OUTPUT_DIR": str(root / "s2")})
    processing.run("mapsynth:build_training_dataset", {"PATCH_GRID": grid, "MAP_DIR": str(root / "maps"),
                                                       "S2_DIR": str(root / "s2"), "OUTPUT_DIR": str(root / "ds")})
    return root, grid, tiny_pixel_model()


def backend_processes(job_dir: Path) -> list[str]:
    """Processes working in this job's folder (the backend and any worker it started): not other jobs that run
    the same command on a shared machine."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if Path(cwd.readlink()) == job_dir.resolve():
                found.append(cwd.parent.name)
        except OSError:
            continue
    return found


def cases(root: Path, grid: str, model: str) -> list[tuple]:
    """(algorithm, backend command, parameters, output that must not look complete)."""
    out = root / "runs"
    scene = str(root / "scene.tif")
    listed = [
        ("crop_sentinel2", "crop-sentinel2", {"PATCH_GRID": grid, "INPUT": scene, "SCALE": 1 / ENCODE, "OFFSET": -0.1,
                                              "RESAMPLING": 3, "OUTPUT_DIR": str(out / "s2")}, None),
        ("build_training_dataset", "build-training-dataset", {"PATCH_GRID": grid, "MAP_DIR": str(root / "maps"),
                                                     "S2_DIR": str(root / "s2"), "OUTPUT_DIR": str(out / "ds")},
         out / "ds" / "dataset_card.md"),
        ("train_model", "train-model", {"DATASET": str(root / "ds"), "PRESET": 0, "MAX_STEPS": 100000, "BATCH_SIZE": 2,
                                  "OUTPUT_DIR": str(out / "train")}, out / "train" / "model"),
        ("generate_patches", "generate-patches", {"MODEL": model, "PATCH_GRID": grid, "MAP_DIR": str(root / "maps"),
                                          "STEPS": 200, "BATCH_SIZE": 4, "OUTPUT_DIR": str(out / "gen")},
         out / "gen" / "index.jsonl"),
        ("assemble_mosaic", "assemble-mosaic", {"PATCH_GRID": grid, "GENERATED_DIR": str(root / "generated"),
                                         "OUTPUT": str(out / "mosaic.tif"), "LABELS": str(out / "labels.tif"),
                                         "SEAMS": str(out / "seams.gpkg")}, out / "mosaic.tif"),
        ("export_netcdf", "export-netcdf", {"MOSAIC": scene, "OUTPUT": str(out / "city.nc")}, out / "city.nc"),
        ("evaluate", "evaluate", {"SYNTHETIC": scene, "REAL": scene, "OUTPUT_DIR": str(out / "report"),
                                  "REPORT": str(out / "report" / "report.html"),
                                  "METRICS": str(out / "report" / "metrics.json")},
         out / "report" / "report.html"),
    ]
    osm = HELSINKI_OSM
    if osm.exists():
        target = root / "helsinki.tif"
        if not target.exists():
            write_raster(target, np.zeros((1, 1200, 1200), np.uint8), 3067, 383000.0, 6675000.0, 5.0)
        listed.append(("building_masks", "building-masks", {"OSM_FILE": str(osm), "TARGET_RASTER": str(target),
                                                  "OUTPUT_BUILDINGS": str(out / "masks.gpkg"),
                                                  "OUTPUT_DIR": str(out / "masks")},
                       out / "masks" / "buildings_coverage.tif"))
    return listed


ALGORITHMS = ["crop_sentinel2", "build_training_dataset", "train_model", "generate_patches", "assemble_mosaic",
              "export_netcdf", "evaluate", "building_masks"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_cancel_stops_the_backend(world, algorithm):
    import processing
    from mapsynth.plugin.contract import contract

    found = {case[0]: case for case in cases(*world)}
    if algorithm not in found:
        pytest.skip(f"real OSM extract not available under {SHARED_DATA}")
    _, command, params, complete_marker = found[algorithm]
    feedback = CancelOnFirstProgress()
    error = None
    try:
        processing.run(f"mapsynth:{algorithm}", params, feedback=feedback)
    except QgsProcessingException as exc:  # QGIS may report the cancel as an error: when and what is left matter
        error = str(exc)
    returned = time.monotonic()
    assert feedback.cancelled_at is not None, f"the job reported no progress, so it could not be cancelled: {error}"
    # the job was stopped by the cancel (not finished, not failed): the client's message, and its cancel marker
    # in the job folder the message names
    said = [text for text in [error or "", *feedback.warnings] if f"Cancelled: backend job '{command}'" in text]
    assert said, f"{algorithm} was not reported cancelled: error {error!r}, warnings {feedback.warnings}"
    job_dir = Path(re.search(r"Log: (\S+backend\.log)", said[0]).group(1)).parent
    assert (job_dir / contract.CANCEL_FILE).is_file(), f"no cancel marker in {job_dir}"
    # a generous bound on shared cores: a job that ignored the cancel runs for minutes (MAX_STEPS 100000, ...)
    assert returned - feedback.cancelled_at <= 60.0, f"{algorithm} took {returned - feedback.cancelled_at:.2f} s"
    assert not backend_processes(job_dir), f"a {command} backend process outlived the cancel"
    if complete_marker is not None:
        assert not complete_marker.exists(), f"{complete_marker} looks complete after a cancel"
    folder = Path(params.get("OUTPUT_DIR") or Path(params["OUTPUT"]).parent)
    partials = [p.name for p in folder.rglob("*.partial*")] if folder.exists() else []
    assert not partials, f"unfinished files left behind: {partials}"
    for raster in folder.rglob("*.tif") if folder.exists() else []:
        assert gdal.Open(str(raster)).ReadAsArray() is not None, f"{raster} is not a complete raster"
