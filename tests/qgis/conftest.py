"""Fixtures the QGIS-side tests make themselves (no shared data): a synthetic Sentinel-2-like scene and the chain
grid -> crop -> render -> dataset -> tiny model -> generated patches -> mosaic, built through processing.run."""

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingFeedback


class RecordingFeedback(QgsProcessingFeedback):
    """A Processing feedback that keeps what a job told it: info lines, warnings, progress values."""

    def __init__(self):
        super().__init__()
        self.infos, self.warnings, self.progress = [], [], []
        self.progressChanged.connect(self.progress.append)

    def pushInfo(self, info):  # noqa: N802 - QGIS API name
        self.infos.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):  # noqa: N802 - QGIS API name
        self.warnings.append(warning)
        super().pushWarning(warning)


ENCODE = 10000.0  # DN = (reflectance + 0.1) * 10000
X0, Y0, SIDE = 420000.0, 5820000.0, 1280.0  # EPSG:32630, a 4 x 4 grid of 32 px patches at 10 m (overlap 6)


def write_raster(path: Path, array: np.ndarray, epsg: int, x0: float, y0: float, pixel: float,
                 tags: dict | None = None, descriptions: tuple[str, ...] = ()) -> None:
    bands, height, width = array.shape
    dtype = gdal.GDT_Byte if array.dtype == np.uint8 else gdal.GDT_UInt16
    ds = gdal.GetDriverByName("GTiff").Create(str(path), width, height, bands, dtype)
    ds.SetGeoTransform((x0, pixel, 0, y0, 0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for index in range(bands):
        ds.GetRasterBand(index + 1).WriteArray(array[index])
        if descriptions:
            ds.GetRasterBand(index + 1).SetDescription(descriptions[index])
    for key, value in (tags or {}).items():
        ds.SetMetadataItem(key, value)
    ds = None


def synthetic_scene(path: Path, seed: int = 0) -> Path:
    """Fields of water, vegetation and built-up with their spectra (B02, B03, B04, B08), 10 m, EPSG:32630."""
    rng = np.random.default_rng(seed)
    size = int(SIDE / 10) + 32
    classes = rng.integers(0, 3, (size // 16 + 1, size // 16 + 1)).repeat(16, 0).repeat(16, 1)[:size, :size]
    spectra = np.array([[0.06, 0.05, 0.03, 0.02], [0.03, 0.06, 0.04, 0.4], [0.09, 0.1, 0.12, 0.2]])
    reflectance = spectra[classes].transpose(2, 0, 1) + rng.normal(0, 0.005, (4, size, size))
    write_raster(path, ((reflectance + 0.1) * ENCODE).astype(np.uint16), 32630, X0, Y0, 10.0,
                 {"encoding": "reflectance = DN * 0.0001 - 0.1; DN 0 = nodata"}, ("B02", "B03", "B04", "B08"))
    return path


@pytest.fixture(scope="session")
def prepared(plugin, tmp_path_factory):
    """Grid, Sentinel-2 patches, map patches (the scene rendered in QGIS) and a training dataset."""
    import processing
    from qgis.core import QgsRasterLayer

    root = tmp_path_factory.mktemp("synthetic-chain")
    scene = synthetic_scene(root / "scene.tif")
    grid = processing.run("mapsynth:create_patch_grid", {
        "EXTENT": f"{X0},{X0 + SIDE},{Y0 - SIDE},{Y0} [EPSG:32630]", "CRS": "EPSG:32630", "PATCH_SIZE": 32,
        "VAL_FRACTION": 0.2, "TEST_FRACTION": 0.0, "OUTPUT": str(root / "grid.gpkg")})
    processing.run("mapsynth:crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(scene),
                                               "SCALE": 1 / ENCODE, "OFFSET": -0.1, "OUTPUT_DIR": str(root / "s2")})
    processing.run("mapsynth:render_map_patches", {"PATCH_GRID": grid["OUTPUT"],
                                                   "LAYERS": [QgsRasterLayer(str(scene), "scene")],
                                                   "OUTPUT_DIR": str(root / "maps")})
    dataset = processing.run("mapsynth:build_training_dataset", {
        "PATCH_GRID": grid["OUTPUT"], "MAP_DIR": str(root / "maps"), "S2_DIR": str(root / "s2"),
        "OUTPUT_DIR": str(root / "dataset")})
    return {"root": root, "scene": scene, "grid": grid, "dataset": dataset}


@pytest.fixture(scope="session")
def trained(prepared):
    """A tiny pixel model trained for 3 steps on the synthetic pairs, through processing.run."""
    import processing

    out = prepared["root"] / "training"
    result = processing.run("mapsynth:train_model", {
        "DATASET": str(prepared["root"] / "dataset"), "FAMILY": 0, "PRESET": 0, "MAX_STEPS": 3, "BATCH_SIZE": 2,
        "CHECKPOINT_EVERY": 2, "VALIDATION_EVERY": 0, "OUTPUT_DIR": str(out)})
    return {**prepared, "training": result, "card": json.loads((out / "model" / "model_card.json").read_text())}


@pytest.fixture(scope="session")
def generated(trained):
    import processing

    result = processing.run("mapsynth:generate_patches", {
        "MODEL": trained["training"]["MODEL_DIR"], "PATCH_GRID": trained["grid"]["OUTPUT"],
        "MAP_DIR": str(trained["root"] / "maps"), "VARIATIONS": 2, "STEPS": 2,
        "OUTPUT_DIR": str(trained["root"] / "generated")})
    return {**trained, "generated": result}


@pytest.fixture(scope="session")
def mosaic(generated):
    import processing

    root = generated["root"]
    result = processing.run("mapsynth:assemble_mosaic", {
        "PATCH_GRID": generated["grid"]["OUTPUT"], "GENERATED_DIR": str(root / "generated"),
        "OUTPUT": str(root / "mosaic.tif"), "LABELS": str(root / "labels.tif"), "SEAMS": str(root / "seams.gpkg")})
    return {**generated, "mosaic": result}
