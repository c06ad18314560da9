"""Any OpenStreetMap file a user brings: .osm.pbf, .osm, .osm.gz and .osm.bz2 (real copies of the Helsinki extract)
give the same maps, masks and report in every algorithm that reads OSM; any other file is refused with one line
naming the accepted formats (not QGIS's generic "Incorrect parameter value")."""

import json

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingException, QgsProcessingFeedback

from ..conftest import HELSINKI_OSM as HELSINKI  # noqa: TID252
from ..conftest import osm_copies  # noqa: TID252

EXTENT = "24.9380,24.9480,60.1660,60.1720 [EPSG:4326]"
ACCEPTED = "expected .osm.pbf, .osm, .osm.gz, .osm.bz2 or a GeoPackage of OGR OSM layers (.gpkg)"
OSM_ALGORITHMS = {"render_map_patches": "OSM_FILE", "building_masks": "OSM_FILE", "evaluate": "MAP",
                  "synthesize_city": "OSM_FILE"}


@pytest.fixture(scope="module")
def formats(tmp_path_factory, plugin):
    import processing

    if not HELSINKI.exists():
        pytest.skip(f"real OSM extract not available at {HELSINKI}")
    folder = tmp_path_factory.mktemp("osm-formats")
    files = {".osm.pbf": HELSINKI, **osm_copies(HELSINKI, folder, (".osm", ".osm.gz", ".osm.bz2"))}
    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": EXTENT, "PIXEL_SIZE": 10, "PATCH_SIZE": 32,
                                                         "OUTPUT": str(folder / "grid.gpkg")})["OUTPUT"]
    return folder, files, grid


def read_folder(folder) -> dict[str, np.ndarray]:
    return {path.name: gdal.Open(str(path)).ReadAsArray() for path in sorted(folder.glob("*.tif"))}


def test_every_format_renders_the_same_maps(formats, run_alg):
    folder, files, grid = formats
    maps = {}
    for suffix, path in files.items():
        result = run_alg("render_map_patches", {"PATCH_GRID": grid, "OSM_FILE": str(path),
                                                "OUTPUT_DIR": str(folder / f"maps{suffix}")})
        assert result["PATCH_COUNT"] >= 4, suffix
        maps[suffix] = read_folder(folder / f"maps{suffix}")
    reference = maps[".osm.pbf"]
    assert len(reference) >= 4
    for suffix, patches in maps.items():
        assert patches.keys() == reference.keys(), suffix
        for name, array in patches.items():
            assert np.array_equal(array, reference[name]), (suffix, name)


def test_building_masks_from_compressed_extracts_match_the_pbf(formats, run_alg):
    folder, files, grid = formats
    coverage = {}
    for suffix in (".osm.pbf", ".osm.gz", ".osm.bz2"):
        result = run_alg("building_masks", {"OSM_FILE": str(files[suffix]), "PATCH_GRID": grid,
                                            "OUTPUT_BUILDINGS": str(folder / f"buildings{suffix}.gpkg"),
                                            "OUTPUT_DIR": str(folder / f"masks{suffix}")})
        coverage[suffix] = gdal.Open(result["BUILDINGS_MASK"]).ReadAsArray()
    assert coverage[".osm.pbf"].sum() > 10
    for suffix, array in coverage.items():
        np.testing.assert_allclose(array, coverage[".osm.pbf"], atol=1e-6, err_msg=suffix)


def synthetic_over(grid_maps, path) -> str:
    """A 4-band reflectance-like raster on the rendered maps' grid (values from the map colours: the report's NDVI
    per class then depends only on which class each pixel has)."""
    vrt = gdal.BuildVRT("", [str(p) for p in sorted(grid_maps.glob("*.tif"))])
    rgb = vrt.ReadAsArray().astype(np.uint16)
    bands = np.stack([rgb[2], rgb[1], rgb[0], rgb[1] + rgb[0]]) * 10 + 1000
    ds = gdal.GetDriverByName("GTiff").Create(str(path), vrt.RasterXSize, vrt.RasterYSize, 4, gdal.GDT_UInt16)
    ds.SetGeoTransform(vrt.GetGeoTransform())
    ds.SetProjection(vrt.GetProjection() or osr.SpatialReference().ExportToWkt())
    for band in range(4):
        ds.GetRasterBand(band + 1).WriteArray(bands[band])
        ds.GetRasterBand(band + 1).SetDescription(("B02", "B03", "B04", "B08")[band])
        ds.GetRasterBand(band + 1).SetScale(1e-4)
        ds.GetRasterBand(band + 1).SetOffset(-0.1)
    ds = None
    return str(path)


def test_evaluate_reads_a_compressed_extract_as_map(formats, run_alg):
    folder, files, grid = formats
    maps = folder / "maps.osm.pbf"  # a rerun of the render test's step resumes
    run_alg("render_map_patches", {"PATCH_GRID": grid, "OSM_FILE": str(HELSINKI), "OUTPUT_DIR": str(maps)})
    synthetic = synthetic_over(maps, folder / "synthetic.tif")
    per_class = {}
    for suffix in (".osm.pbf", ".osm.gz", ".osm.bz2"):
        result = run_alg("evaluate", {"SYNTHETIC": synthetic, "MAP": str(files[suffix]),
                                      "OUTPUT_DIR": str(folder / f"report{suffix}")})
        metrics = json.loads(open(result["METRICS"], encoding="utf-8").read())
        per_class[suffix] = json.dumps(metrics["ndvi_per_class"], sort_keys=True)
    assert "building" in per_class[".osm.pbf"]
    assert per_class[".osm.gz"] == per_class[".osm.pbf"] == per_class[".osm.bz2"]


def test_synthesize_city_accepts_every_osm_format(formats, plugin):
    from qgis.core import QgsApplication, QgsProcessingContext

    _, files, _ = formats
    algorithm = QgsApplication.processingRegistry().algorithmById("mapsynth:synthesize_city")
    for suffix, path in files.items():
        ok, message = algorithm.checkParameterValues({"EXTENT": EXTENT, "OSM_FILE": str(path),
                                                      "OUTPUT_DIR": "TEMPORARY_OUTPUT"}, QgsProcessingContext())
        assert ok, (suffix, message)


class ErrorFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.errors = []

    def reportError(self, error, fatalError=False):  # noqa: N802, N803
        self.errors.append(error)


@pytest.mark.parametrize("name", ["notes.txt", "extract.osm.xz", "extract.pbf.zip"])
def test_other_files_are_refused_naming_the_accepted_formats(formats, run_alg, name):
    folder, _, grid = formats
    other = folder / name
    other.write_bytes(b"not an OSM extract")
    synthetic = folder / "small.tif"  # any 4-band raster: the refusal comes before it is read
    raster = gdal.GetDriverByName("GTiff").Create(str(synthetic), 4, 4, 4, gdal.GDT_UInt16)
    raster.SetGeoTransform((385000, 10, 0, 6672000, 0, -10))
    raster.SetProjection("EPSG:32635")
    raster = None
    params = {"render_map_patches": {"PATCH_GRID": grid, "OUTPUT_DIR": str(folder / "refused")},
              "building_masks": {"PATCH_GRID": grid, "OUTPUT_DIR": str(folder / "refused")},
              "evaluate": {"SYNTHETIC": str(synthetic), "OUTPUT_DIR": str(folder / "refused")},
              "synthesize_city": {"EXTENT": EXTENT, "OUTPUT_DIR": str(folder / "refused")}}
    for algorithm, parameter in OSM_ALGORITHMS.items():
        if algorithm == "evaluate" and name == "notes.txt":
            continue  # its MAP may also be a map raster: only OSM-like names are refused here
        feedback = ErrorFeedback()
        with pytest.raises(QgsProcessingException) as raised:  # from prepareAlgorithm: reportError, then raised
            run_alg(algorithm, {**params[algorithm], parameter: str(other)}, feedback)
        messages = feedback.errors + [str(raised.value)]
        assert any(f"{parameter}: {ACCEPTED}, got {other}" in m for m in messages), (algorithm, messages)
        assert not any("Incorrect parameter value" in m for m in messages), (algorithm, messages)
