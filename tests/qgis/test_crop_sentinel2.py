"""mapsynth:crop_sentinel2 on the real Aberystwyth scene, against an independent GDAL warp, and on a SAFE
product (folder and zip) built from the same real pixels."""

import shutil
import zipfile

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingException

from ..conftest import ABERYSTWYTH_S2 as SCENE  # noqa: TID252

SCENE_EXTENT = "257070.6,266370.6,276258.7,285728.7 [EPSG:27700]"
pytestmark = pytest.mark.skipif(not SCENE.exists(), reason=f"real Sentinel-2 scene not available at {SCENE}")


def decode(dn):
    return np.where(dn == 0, np.nan, dn.astype(np.float64) * 1e-4 - 0.1)


def read(path):
    ds = gdal.Open(str(path))
    return ds, ds.ReadAsArray()


@pytest.fixture(scope="module")
def cropped(tmp_path_factory, plugin, backend_python):
    import processing

    folder = tmp_path_factory.mktemp("aber")
    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": SCENE_EXTENT, "OUTPUT": str(folder / "g.gpkg")})
    result = processing.run("mapsynth:crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(SCENE),
                                                        "SCALE": 0.001, "OUTPUT_DIR": str(folder / "s2")})
    return folder, grid, result


def test_values_agree_with_an_independent_gdal_warp(cropped):
    folder, grid, result = cropped
    assert grid["CRS"] == "EPSG:32630" and result["PATCH_COUNT"] > 0
    for name in ("r0000_c0000", "r0009_c0009", "r0018_c0017"):
        ds, dn = read(folder / "s2" / f"{name}.tif")
        x0, px, _, y1, _, _ = ds.GetGeoTransform()
        warped = gdal.Warp("", str(SCENE), format="MEM", dstSRS="EPSG:32630", outputBounds=(x0, y1 - 640, x0 + 640, y1),
                           xRes=10, yRes=10, resampleAlg="bilinear", outputType=gdal.GDT_Float32, dstNodata=np.nan)
        expected = warped.ReadAsArray() * 0.001
        ours = decode(dn)
        assert np.array_equal(np.isnan(ours).all(axis=0), np.isnan(expected).any(axis=0)), name
        both = np.isfinite(ours) & np.isfinite(expected)
        assert both.mean() > 0.1
        assert np.abs(ours[both] - expected[both]).max() <= 1.5e-3, name
        assert np.abs(ours[both] - expected[both]).mean() <= 2e-4, name


def test_band_order_nodata_and_status(cropped):
    from mapsynth.plugin.grid import read_status

    folder, grid, _ = cropped
    ds, dn = read(folder / "s2" / "r0009_c0009.tif")
    assert [ds.GetRasterBand(i).GetDescription() for i in range(1, 5)] == ["B02", "B03", "B04", "B08"]
    assert ds.GetRasterBand(1).GetNoDataValue() == 0
    blue, green, red, nir = decode(dn)
    land = nir > 0.2
    assert land.mean() > 0.3 and np.median(nir[land]) > 2 * np.median(red[land])  # vegetation: NIR >> red
    status = read_status(grid["OUTPUT"], "s2")
    corner = status["r0000_c0000"]
    _, corner_dn = read(folder / "s2" / "r0000_c0000.tif")
    assert 0 < corner["valid_fraction"] < 1  # the rotated scene does not fill the UTM corner patch
    assert corner["valid_fraction"] == pytest.approx((corner_dn != 0).all(axis=0).mean())
    assert (corner_dn == 0).all(axis=0).any()


def test_rerun_skips_finished_patches(cropped, run_alg):
    folder, grid, result = cropped
    again = run_alg("crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(SCENE), "SCALE": 0.001,
                                       "OUTPUT_DIR": str(folder / "s2")})
    assert again["PATCH_COUNT"] == result["PATCH_COUNT"]


MTD = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
<n1:General_Info><Product_Info><PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE></Product_Info>
<Product_Image_Characteristics><QUANTIFICATION_VALUES_LIST>
<BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE></QUANTIFICATION_VALUES_LIST>
<BOA_ADD_OFFSET_VALUES_LIST>{offsets}</BOA_ADD_OFFSET_VALUES_LIST>
</Product_Image_Characteristics></n1:General_Info></n1:Level-2A_User_Product>
"""


def build_safe(folder, baseline="05.09"):
    """A SAFE product from the real scene: UTM 30N JP2 bands with DN = reflectance x 10000 + 1000 (offset
    -1000), an SCL band whose north-west quarter is cloud, and an MTD file."""
    name = "S2B_MSIL2A_20210527T112119_N0509_R037_T30UVD_20210527T130000.SAFE"
    granule = folder / name / "GRANULE" / "L2A_T30UVD_A022000_20210527T112119" / "IMG_DATA"
    (granule / "R10m").mkdir(parents=True)
    (granule / "R20m").mkdir()
    utm = gdal.Warp("", str(SCENE), format="MEM", dstSRS="EPSG:32630", outputBounds=(420000, 5805000, 424000, 5809000),
                    xRes=10, yRes=10, resampleAlg="bilinear", outputType=gdal.GDT_Float32)
    reflectance = utm.ReadAsArray() * 0.001
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32630)
    for index, band in enumerate(("B02", "B03", "B04", "B08")):
        dn = np.rint(reflectance[index] * 10000 + 1000).astype(np.uint16)
        mem = gdal.GetDriverByName("MEM").Create("", 400, 400, 1, gdal.GDT_UInt16)
        mem.SetGeoTransform((420000, 10, 0, 5809000, 0, -10))
        mem.SetProjection(srs.ExportToWkt())
        mem.GetRasterBand(1).WriteArray(dn)
        gdal.GetDriverByName("JP2OpenJPEG").CreateCopy(str(granule / "R10m" / f"T30UVD_20210527T112119_{band}_10m.jp2"),
                                                       mem, options=["REVERSIBLE=YES", "QUALITY=100"])
    scl = np.full((200, 200), 4, np.uint8)
    scl[:100, :100] = 9
    mem = gdal.GetDriverByName("MEM").Create("", 200, 200, 1, gdal.GDT_Byte)
    mem.SetGeoTransform((420000, 20, 0, 5809000, 0, -20))
    mem.SetProjection(srs.ExportToWkt())
    mem.GetRasterBand(1).WriteArray(scl)
    gdal.GetDriverByName("JP2OpenJPEG").CreateCopy(str(granule / "R20m" / "T30UVD_20210527T112119_SCL_20m.jp2"), mem,
                                                   options=["REVERSIBLE=YES", "QUALITY=100"])
    offsets = "".join(f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>' for i in range(13))
    (folder / name / "MTD_MSIL2A.xml").write_text(MTD.format(baseline=baseline, offsets=offsets))
    return folder / name, reflectance


@pytest.fixture(scope="module")
def safe(tmp_path_factory, plugin):
    import processing

    folder = tmp_path_factory.mktemp("safe")
    product, reflectance = build_safe(folder)
    # one column more than the product covers: those patches must be marked 'outside', not faked
    grid = processing.run("mapsynth:create_patch_grid", {"EXTENT": "420000,424500,5805000,5809000 [EPSG:32630]",
                                                         "PATCH_SIZE": 100, "OVERLAP": 0,
                                                         "OUTPUT": str(folder / "g.gpkg")})
    return folder, product, reflectance, grid


@pytest.mark.parametrize("form", ["folder", "mtd", "zip"])
def test_safe_offset_quantification_and_scl_are_applied(safe, run_alg, tmp_path, form, backend_python):
    from mapsynth.plugin.grid import read_status

    folder, product, reflectance, grid = safe
    source = {"folder": product, "mtd": product / "MTD_MSIL2A.xml", "zip": tmp_path / f"{product.stem}.zip"}[form]
    if form == "zip":
        with zipfile.ZipFile(source, "w") as archive:
            for path in product.rglob("*"):
                archive.write(path, path.relative_to(product.parent))
    result = run_alg("crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(source),
                                        "OUTPUT_DIR": str(tmp_path / "s2")})
    assert result["PATCH_COUNT"] == 16 and result["OUTSIDE"] == 4
    status = read_status(grid["OUTPUT"], "s2")
    for row in range(4):
        assert status[f"r{row:04d}_c0004"]["status"] == "outside"
        assert not (tmp_path / "s2" / f"r{row:04d}_c0004.tif").exists()
    _, dn = read(tmp_path / "s2" / "r0001_c0002.tif")
    expected = reflectance[:, 100:200, 200:300]
    assert np.abs(decode(dn) - expected).max() <= 0.51e-4  # offset and quantification applied exactly
    assert status["r0000_c0000"]["cloud_fraction"] == 1.0 and status["r0003_c0003"]["cloud_fraction"] == 0.0
    assert status["r0000_c0001"]["cloud_fraction"] == 1.0 and status["r0000_c0002"]["cloud_fraction"] == 0.0


def test_bad_sources_fail_with_one_clear_message(safe, run_alg, tmp_path, backend_python):
    folder, product, _, grid = safe
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00" + b"\x00" * 64)
    broken = tmp_path / product.name
    shutil.copytree(product, broken)
    next(broken.rglob("*_B08_10m.jp2")).unlink()
    cases = [
        ({"INPUT": str(broken)}, "has no 10 m B08 band"),
        ({"INPUT": str(SCENE)}, "SCALE: give the factor"),
        ({"INPUT": str(SCENE), "SCALE": 0.001, "BANDS": "B02,B03,B04,B08=7"}, "B08 is band 7 but"),
        ({"INPUT": str(tmp_path / "missing.tif"), "SCALE": 0.001}, "INPUT: file not found"),
        ({"INPUT": str(corrupt), "SCALE": 0.001}, "INPUT: cannot read"),
    ]
    no_mtd = tmp_path / "no-mtd" / product.name
    shutil.copytree(product, no_mtd)
    (no_mtd / "MTD_MSIL2A.xml").unlink()
    cases.append(({"INPUT": str(no_mtd)}, "has no MTD_MSIL2A.xml"))
    for params, message in cases:
        with pytest.raises(QgsProcessingException, match=message):
            run_alg("crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "OUTPUT_DIR": str(tmp_path / "out"), **params})


def test_source_not_overlapping_the_grid_is_refused(run_alg, tmp_path, backend_python):
    grid = run_alg("create_patch_grid", {"EXTENT": "385000,386000,6672000,6673000 [EPSG:32635]",
                                         "OUTPUT": str(tmp_path / "helsinki.gpkg")})
    with pytest.raises(QgsProcessingException, match="INPUT does not overlap the grid"):
        run_alg("crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(SCENE), "SCALE": 0.001,
                                   "OUTPUT_DIR": str(tmp_path / "out")})
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.tif"))


def test_separate_band_files_give_the_same_patches(cropped, run_alg, tmp_path):
    folder, grid, _ = cropped
    files = []
    for index, band in enumerate(("B02", "B03", "B04", "B08"), start=1):
        path = tmp_path / f"band {band}.tif"
        gdal.Translate(str(path), str(SCENE), bandList=[index])
        files.append(f"{band}={path}")
    result = run_alg("crop_sentinel2", {"PATCH_GRID": grid["OUTPUT"], "INPUT": str(SCENE), "BANDS": ",".join(files),
                                        "SCALE": 0.001, "OUTPUT_DIR": str(tmp_path / "s2")})
    assert result["PATCH_COUNT"] > 0
    for name in ("r0009_c0009", "r0000_c0000"):
        assert np.array_equal(read(tmp_path / "s2" / f"{name}.tif")[1], read(folder / "s2" / f"{name}.tif")[1])
