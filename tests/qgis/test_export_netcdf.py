"""mapsynth:export_netcdf on the synthetic chain's mosaic (conftest.py)."""

from osgeo import gdal


def test_export_writes_the_mosaic_and_one_file_per_patch(mosaic, run_alg, tmp_path):
    result = mosaic["mosaic"]
    exported = run_alg("export_netcdf", {"MOSAIC": result["OUTPUT"], "LABELS": result["LABELS"],
                                         "PER_PATCH": mosaic["grid"]["OUTPUT"], "OUTPUT": str(tmp_path / "city.nc")})
    nc = gdal.Open(f'NETCDF:"{tmp_path / "city.nc"}":B04')
    assert nc is not None and nc.RasterXSize == gdal.Open(result["OUTPUT"]).RasterXSize
    assert exported["PATCH_FILES"] == len(list((mosaic["root"] / "maps").glob("r*.tif")))
