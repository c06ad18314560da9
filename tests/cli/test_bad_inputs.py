"""The bad-input matrix, through qgis_process as users and scripts run it: every case exits with code 1, prints
one actionable ERROR line naming the parameter or file, no Python traceback, and leaves no output that looks
complete. Paths with spaces and non-ASCII characters must simply work."""

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr

from ..conftest import BACKEND_PYTHON, HELSINKI_OSM, tiny_pixel_model, write_map_patches  # noqa: TID252
from .test_qgis_process import qp  # noqa: F401 - the qgis_process fixture

X0, Y0 = 420000.0, 5809000.0
EXTENT = f"{X0},{X0 + 1280},{Y0 - 1280},{Y0} [EPSG:32630]"
MTD = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
<n1:General_Info><Product_Info><PROCESSING_BASELINE>05.09</PROCESSING_BASELINE></Product_Info>
<Product_Image_Characteristics><QUANTIFICATION_VALUES_LIST>
<BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE></QUANTIFICATION_VALUES_LIST>
</Product_Image_Characteristics></n1:General_Info></n1:Level-2A_User_Product>
"""


def raster(path: Path, bands: int, epsg: int | None = 32630, driver: str = "GTiff", x0: float = X0 - 100,
           y0: float = Y0 + 100, size: int = 160) -> Path:
    rng = np.random.default_rng(0)
    mem = gdal.GetDriverByName("MEM").Create("", size, size, bands, gdal.GDT_UInt16)
    mem.SetGeoTransform((x0, 10, 0, y0, 0, -10))
    if epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        mem.SetProjection(srs.ExportToWkt())
    for band in range(bands):
        mem.GetRasterBand(band + 1).WriteArray(rng.integers(1200, 4000, (size, size)).astype(np.uint16))
    gdal.GetDriverByName(driver).CreateCopy(str(path), mem)
    return path


def safe(folder: Path, bands=("B02", "B03", "B04", "B08"), mtd=True) -> Path:
    product = folder / "S2B_MSIL2A_20210527T112119_N0509_R037_T30UVD_20210527T130000.SAFE"
    img = product / "GRANULE" / "L2A_T30UVD_A022000_20210527T112119" / "IMG_DATA" / "R10m"
    img.mkdir(parents=True)
    for band in bands:
        raster(img / f"T30UVD_20210527T112119_{band}_10m.jp2", 1, driver="JP2OpenJPEG")
    if mtd:
        (product / "MTD_MSIL2A.xml").write_text(MTD)
    return product


@pytest.fixture(scope="module")
def inputs(qp, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("bad inputs ø")
    qp("run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", "PATCH_SIZE=64", "OVERLAP=0",
       f"OUTPUT={root / 'grid.gpkg'}")
    scene = raster(root / "scene.tif", 4)
    qp("run", "mapsynth:crop_sentinel2", "--", f"PATCH_GRID={root / 'grid.gpkg'}", f"INPUT={scene}",
       "SCALE=0.0001", "OFFSET=-0.1", f"OUTPUT_DIR={root / 's2'}")
    write_map_patches(root / "grid.gpkg", root / "maps")
    model = Path(tiny_pixel_model())  # shared, read-only: the broken variants below are copies
    (root / "tiny").symlink_to(model.parents[1], target_is_directory=True)
    return root, model


def broken_model(root: Path, model: Path, name: str, change) -> Path:
    target = root / name
    if not target.exists():
        shutil.copytree(model, target)
        change(target)
    return target


def edit_card(**changes):
    def change(folder: Path) -> None:
        card = json.loads((folder / "model_card.json").read_text())
        card.update(changes)
        (folder / "model_card.json").write_text(json.dumps(card))
    return change


def changed_grid(root: Path) -> Path:
    target = root / "changed.gpkg"
    if not target.exists():
        shutil.copyfile(root / "grid.gpkg", target)
        with sqlite3.connect(target) as conn:
            definition = json.loads(conn.execute("SELECT definition FROM mapsynth_grid").fetchone()[0])
            definition["pixel_size"] = 20.0  # edited after creation: every step must notice
            conn.execute("UPDATE mapsynth_grid SET definition = ?", (json.dumps(definition),))
    return target


def osm_file(root: Path, name: str, body: str) -> Path:
    path = root / name
    path.write_text(body)
    return path


OSM_NO_BUILDINGS = """<?xml version="1.0" encoding="UTF-8"?><osm version="0.6" generator="test">
<node id="1" lat="60.17" lon="24.94"/><node id="2" lat="60.171" lon="24.94"/><node id="3" lat="60.171" lon="24.941"/>
<way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="landuse" v="grass"/></way></osm>"""
OSM_BUILDING_ELSEWHERE = OSM_NO_BUILDINGS.replace('v="grass"', 'v="residential"/><tag k="building" v="house"')
NEEDS_HELSINKI = {"OSM of another region", "truncated .osm.pbf"}


def truncated_pbf(root: Path) -> Path:
    path = root / "cut.osm.pbf"
    if HELSINKI_OSM.exists() and not path.exists():
        path.write_bytes(HELSINKI_OSM.read_bytes()[:20000])  # the first 20 kB of a real download
    return path


def nodata_raster(path: Path) -> Path:
    """Overlaps the grid, but every pixel is nodata (the black corner of a Sentinel-2 tile)."""
    raster(path, 4)
    ds = gdal.Open(str(path), gdal.GA_Update)
    for band in range(4):
        ds.GetRasterBand(band + 1).SetNoDataValue(0)
        ds.GetRasterBand(band + 1).Fill(0)
    ds = None
    return path


def tampered_training(root: Path) -> Path:
    """A copy of the tiny model's training folder (checkpoints only) with one byte of the pickled RNG state
    flipped after this installation signed it: what a damaged checkpoint looks like. (The shared tiny model was
    trained in another process with its own key, so the copy is signed again here with this session's key, as if
    trained here; the refusal of a foreign key is tested in backend/tests/test_checkpoints.py.)"""
    target = root / "tampered training"
    if not target.exists():
        shutil.copytree(root / "tiny" / "training" / "checkpoints", target / "checkpoints")
        sign = "import sys, pathlib; from mapsynth_backend.train.checkpoints import write_manifest as w; "
        subprocess.run([str(BACKEND_PYTHON), "-c", sign + "w(pathlib.Path(sys.argv[1]))",
                        str(target / "checkpoints" / "checkpoint-2")], check=True, capture_output=True, timeout=120)
        pickled = target / "checkpoints" / "checkpoint-2" / "random_states_0.pkl"
        data = bytearray(pickled.read_bytes())
        data[-2] ^= 0xFF
        pickled.write_bytes(bytes(data))
    return target


def empty_folder(path: Path) -> Path:
    """A folder with no patch in it: neither generated variations nor real (crop_sentinel2) patches."""
    path.mkdir(exist_ok=True)
    return path


def matrix(root: Path, model: Path) -> list[tuple[str, str, list[str], str, Path]]:
    """(case, algorithm, parameters, expected text in the error line, output that must not look complete)."""
    grid, s2, maps, out = root / "grid.gpkg", root / "s2", root / "maps", root / "out"
    corrupt = root / "corrupt.tif"
    corrupt.write_bytes(raster(root / "good.tif", 4).read_bytes()[:3000])  # a GeoTIFF cut short
    folder_as_file = root / "folder.tif"
    folder_as_file.mkdir(exist_ok=True)
    no_crs = raster(root / "no crs.tif", 4, epsg=None)
    elsewhere = raster(root / "elsewhere.tif", 4, x0=X0 + 50000, y0=Y0 - 50000)
    missing_band = safe(root / "missing band") if not (root / "missing band").exists() else next(
        (root / "missing band").glob("*.SAFE"))
    for jp2 in missing_band.rglob("*_B08_10m.jp2"):
        jp2.unlink()
    no_mtd = safe(root / "no mtd", mtd=False) if not (root / "no mtd").exists() else next(
        (root / "no mtd").glob("*.SAFE"))
    no_files = broken_model(root, model, "model missing files", lambda m: (m / "unet" / "config.json").unlink())
    other_family = broken_model(root, model, "model other family", edit_card(family="stable-cascade"))
    band_count = broken_model(root, model, "model band count", edit_card(bands=["B02", "B03", "B04"]))
    crop = ["mapsynth:crop_sentinel2", f"PATCH_GRID={grid}", "SCALE=0.0001", "OFFSET=-0.1"]
    generate = ["mapsynth:generate_patches", f"PATCH_GRID={grid}", f"MAP_DIR={maps}"]
    masks = ["mapsynth:building_masks", f"PATCH_GRID={grid}", f"OUTPUT_BUILDINGS={out / 'buildings.gpkg'}"]
    render = ["mapsynth:render_map_patches", f"PATCH_GRID={grid}"]
    new_grid = ["mapsynth:create_patch_grid", f"EXTENT={EXTENT}"]
    return [
        ("missing file", *crop, f"INPUT={root / 'nowhere.tif'}", f"OUTPUT_DIR={out / 'a'}", "INPUT: file not found",
         out / "a"),
        ("unreadable file", *crop, f"INPUT={folder_as_file}", f"OUTPUT_DIR={out / 'b'}", "INPUT", out / "b"),
        ("corrupt GeoTIFF", *crop, f"INPUT={corrupt}", f"OUTPUT_DIR={out / 'c'}", "INPUT: cannot read", out / "c"),
        ("JP2 band missing", *crop, f"INPUT={missing_band}", f"OUTPUT_DIR={out / 'd'}", "has no 10 m B08 band",
         out / "d"),
        ("SAFE without MTD", *crop, f"INPUT={no_mtd}", f"OUTPUT_DIR={out / 'e'}", "has no MTD_MSIL2A.xml", out / "e"),
        ("raster without CRS", *crop, f"INPUT={no_crs}", f"OUTPUT_DIR={out / 'f'}", "CRS", out / "f"),
        ("outside the footprint", *crop, f"INPUT={elsewhere}", f"OUTPUT_DIR={out / 'g'}",
         "INPUT does not overlap the grid", out / "g"),
        ("OSM without buildings", *masks, f"OSM_FILE={osm_file(root, 'no buildings.osm', OSM_NO_BUILDINGS)}",
         f"OUTPUT_DIR={out / 'h'}", "no buildings", out / "h"),
        ("empty OSM file", *masks, f"OSM_FILE={osm_file(root, 'empty.osm', '')}", f"OUTPUT_DIR={out / 'i'}",
         "OSM_FILE", out / "i"),
        ("model files missing", *generate, f"MODEL={no_files}", f"OUTPUT_DIR={out / 'j'}", "config.json", out / "j"),
        ("model of another family", *generate, f"MODEL={other_family}", f"OUTPUT_DIR={out / 'k'}", "stable-cascade",
         out / "k"),
        ("model band count", *generate, f"MODEL={band_count}", f"OUTPUT_DIR={out / 'l'}",
         "has a UNet for 4 bands but its model card lists 3", out / "l"),
        ("grid changed between steps", "mapsynth:generate_patches", f"PATCH_GRID={changed_grid(root)}",
         f"MAP_DIR={maps}", f"MODEL={model}", f"OUTPUT_DIR={out / 'm'}", "fingerprint mismatch", out / "m"),
        ("maps of another grid", "mapsynth:build_training_dataset", f"PATCH_GRID={root / 'other.gpkg'}",
         f"MAP_DIR={maps}", f"S2_DIR={s2}", f"OUTPUT_DIR={out / 'n'}", "MAP_DIR", out / "n"),
        ("patch size out of range", *new_grid, "PATCH_SIZE=4", f"OUTPUT={out / 'o.gpkg'}", "PATCH_SIZE",
         out / "o.gpkg"),
        ("overlap out of range", *new_grid, "PATCH_SIZE=64", "OVERLAP=80", f"OUTPUT={out / 'p.gpkg'}", "OVERLAP",
         out / "p.gpkg"),
        ("pixel size out of range", *new_grid, "PIXEL_SIZE=0", f"OUTPUT={out / 'q.gpkg'}", "PIXEL_SIZE",
         out / "q.gpkg"),
        ("variations out of range", *generate, f"MODEL={model}", "VARIATIONS=0", f"OUTPUT_DIR={out / 'r'}",
         "VARIATIONS", out / "r"),
        ("generated folder without patches", "mapsynth:assemble_mosaic", f"PATCH_GRID={grid}",
         f"GENERATED_DIR={empty_folder(root / 'nothing generated')}", f"OUTPUT={out / 's.tif'}",
         f"LABELS={out / 's_labels.tif'}", f"SEAMS={out / 's_seams.gpkg'}", "GENERATED_DIR", out / "s.tif"),
        ("mosaic missing", "mapsynth:export_netcdf", f"MOSAIC={root / 'no mosaic.tif'}", f"OUTPUT={out / 't.nc'}",
         "MOSAIC", out / "t.nc"),
        ("dataset without radiometry", "mapsynth:train_model", f"DATASET={s2}", f"OUTPUT_DIR={out / 'u'}",
         "DATASET", out / "u"),
        ("synthetic raster with 1 band", "mapsynth:evaluate", f"SYNTHETIC={raster(root / 'one band.tif', 1)}",
         f"OUTPUT_DIR={out / 'v'}", "SYNTHETIC", out / "v"),
        ("OSM of another region", *render, f"OSM_FILE={HELSINKI_OSM}", f"OUTPUT_DIR={out / 'w'}",
         "OSM_FILE: the OSM file covers none of the grid: its data lies at lon 24.935 to 24.953", out / "w"),
        ("truncated .osm.pbf", *render, f"OSM_FILE={truncated_pbf(root)}", f"OUTPUT_DIR={out / 'x'}",
         "An error occurred during the parsing of data", out / "x"),
        ("raster with only nodata over the grid", *crop, f"INPUT={nodata_raster(root / 'nodata.tif')}",
         f"OUTPUT_DIR={out / 'y'}", "INPUT has no valid pixel under any patch", out / "y"),
        ("no building in the grid", *masks, f"OSM_FILE={osm_file(root, 'elsewhere.osm', OSM_BUILDING_ELSEWHERE)}",
         f"OUTPUT_DIR={out / 'z'}", "no buildings in the target area", out / "z"),
        ("dataset without a valid pair", "mapsynth:build_training_dataset", f"PATCH_GRID={grid}", f"MAP_DIR={maps}",
         f"S2_DIR={root / 's2 corner'}", f"OUTPUT_DIR={out / 'aa'}", "every pair was dropped", out / "aa"),
        ("tampered checkpoint", "mapsynth:train_model", f"DATASET={root / 'tiny' / 'dataset'}", "MAX_STEPS=4",
         f"RESUME={tampered_training(root) / 'checkpoints' / 'checkpoint-2'}",
         f"OUTPUT_DIR={tampered_training(root)}", "random_states_0.pkl was changed",
         tampered_training(root) / "model"),
    ]


def one_error(proc) -> str:
    """Exit code 1, no traceback, exactly one ERROR; QGIS's own parameter checks continue that one error on
    tab-indented lines (the parameter's name is there), which belong to it."""
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    assert "Traceback" not in text, text
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("ERROR")]
    assert len(starts) == 1, text
    message = [lines[starts[0]]]
    for line in lines[starts[0] + 1:]:
        if not line.startswith("\t"):
            break
        message.append(line.strip())
    return " ".join(message)


def looks_complete(output: Path) -> list[str]:
    """What a user could mistake for a finished result."""
    if not output.exists():
        return []
    if output.is_file():
        return [output.name]
    return [p.name for p in output.rglob("*") if p.is_file() and p.suffix in (".tif", ".gpkg", ".nc", ".json",
                                                                              ".html", ".safetensors")]


CASES = [
    "missing file", "unreadable file", "corrupt GeoTIFF", "JP2 band missing", "SAFE without MTD",
    "raster without CRS", "outside the footprint", "OSM without buildings", "empty OSM file", "model files missing",
    "model of another family", "model band count", "grid changed between steps", "maps of another grid",
    "patch size out of range", "overlap out of range", "pixel size out of range", "variations out of range",
    "generated folder without patches", "mosaic missing", "dataset without radiometry",
    "synthetic raster with 1 band", "OSM of another region", "truncated .osm.pbf",
    "raster with only nodata over the grid", "no building in the grid", "dataset without a valid pair",
    "tampered checkpoint",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_1_with_one_actionable_line(qp, inputs, case):  # noqa: F811
    root, model = inputs
    if case in NEEDS_HELSINKI and not HELSINKI_OSM.exists():
        pytest.skip(f"real OSM extract not available at {HELSINKI_OSM}")
    if case == "dataset without a valid pair" and not (root / "s2 corner").exists():
        corner = raster(root / "corner.tif", 4, size=20)  # covers part of one patch only: no pair is fully valid
        qp("run", "mapsynth:crop_sentinel2", "--", f"PATCH_GRID={root / 'grid.gpkg'}", f"INPUT={corner}",
           "SCALE=0.0001", "OFFSET=-0.1", f"OUTPUT_DIR={root / 's2 corner'}")
    if case == "maps of another grid" and not (root / "other.gpkg").exists():
        qp("run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", "PATCH_SIZE=32",
           f"OUTPUT={root / 'other.gpkg'}")
    found = {row[0]: row for row in matrix(root, model)}
    _, algorithm, *params, expected, output = found[case]
    line = one_error(qp("run", algorithm, "--", *params, check=False))
    assert expected in line, line
    assert not looks_complete(output), f"{case}: {looks_complete(output)} left at {output}"


def mount_tmpfs(folder: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.mark.parametrize("case", ["read-only output folder", "full disk"])
def test_unwritable_outputs_fail_cleanly(qp, inputs, tmp_path, case):  # noqa: F811
    root, _ = inputs
    where = tmp_path / "mount"
    mount_tmpfs(where, "ro,size=1m" if case == "read-only output folder" else "size=16k")
    try:
        out = where / "s2"
        line = one_error(qp("run", "mapsynth:crop_sentinel2", "--", f"PATCH_GRID={root / 'grid.gpkg'}",
                                 f"INPUT={root / 'scene.tif'}", "SCALE=0.0001", "OFFSET=-0.1", f"OUTPUT_DIR={out}",
                                 check=False))
        expected = "OUTPUT_DIR: cannot" if case == "read-only output folder" else "no space left"
        assert expected in line.replace("No space", "no space"), line
        leftovers = [p.name for p in where.rglob("*") if ".partial" in p.name or p.name == ".mapsynth.lock"]
        assert not leftovers
        for tif in where.rglob("*.tif"):
            assert gdal.Open(str(tif)).ReadAsArray() is not None, f"{tif} is incomplete but looks finished"
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_paths_with_spaces_and_non_ascii_work(qp, inputs, tmp_path):  # noqa: F811
    root, model = inputs
    home = tmp_path / "Mes données" / "ville à synthétiser"
    home.mkdir(parents=True)
    grid = home / "grille ü.gpkg"
    qp("run", "mapsynth:create_patch_grid", "--", f"EXTENT={EXTENT}", "PATCH_SIZE=64", "OVERLAP=16", f"OUTPUT={grid}")
    qp("run", "mapsynth:crop_sentinel2", "--", f"PATCH_GRID={grid}", f"INPUT={root / 'scene.tif'}", "SCALE=0.0001",
       "OFFSET=-0.1", f"OUTPUT_DIR={home / 'capteur s2'}")
    write_map_patches(grid, home / "carte à jour")
    qp("run", "mapsynth:generate_patches", "--", f"MODEL={model}", f"PATCH_GRID={grid}",
       f"MAP_DIR={home / 'carte à jour'}", "STEPS=2", "VARIATIONS=1", f"OUTPUT_DIR={home / 'généré'}")
    qp("run", "mapsynth:assemble_mosaic", "--", f"PATCH_GRID={grid}", f"GENERATED_DIR={home / 'généré'}",
       f"OUTPUT={home / 'mosaïque finale.tif'}", f"LABELS={home / 'étiquettes.tif'}", f"SEAMS={home / 'coutures.gpkg'}")
    assert gdal.Open(str(home / "mosaïque finale.tif")).RasterCount == 4
