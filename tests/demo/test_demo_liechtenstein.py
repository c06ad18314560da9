"""make demo's default (scripts/demo.sh: the Liechtenstein extract committed in demo-data/, the embedded model)
run through qgis_process on a part of the extract that chose none of the demo's settings: Eschen and Mauren, north
of the demo area (the demo area, extent and model were chosen on Vaduz-Triesen-Triesenberg). Its northern rows lie
beyond the extract's bounding box, so they must be nodata."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from ..conftest import pixel_lon_lat  # noqa: TID252

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "mapsynth-demo-pixel-fewstep"  # make demo's (scripts/demo.sh)
EXTRACT = ROOT / "demo-data" / "liechtenstein" / "liechtenstein-rhine-valley.osm.pbf"
CLIP_BBOX = (9.47, 47.09, 9.60, 47.24)  # lon/lat: the extract's header bbox (demo-data/liechtenstein/README.md)
HELD_OUT_EXTENT = "9.505,9.545,47.205,47.245 [EPSG:4326]"


def refuse(name: str):
    raise ValueError(f"{name} is not JSON")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    assert EXTRACT.is_file(), f"the committed demo extract is missing: {EXTRACT}"
    out = tmp_path_factory.mktemp("demo-liechtenstein")
    env = {**os.environ, "MAPSYNTH_DEMO_DIR": str(out), "MAPSYNTH_DEMO_EXTENT": HELD_OUT_EXTENT}
    for name in ("MAPSYNTH_DEMO_OSM", "MAPSYNTH_DEMO_AREA"):
        env.pop(name, None)
    done = subprocess.run([str(ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"), parse_constant=refuse)
    print(f"\n{json.dumps(summary, indent=1)}")
    return out, done.stdout, summary


def test_outputs_are_named_after_the_area(demo):
    out, stdout, _ = demo
    for name in ("mosaic.tif", "quicklook.png", "liechtenstein-rhine-valley.nc", "demo.qgz", "report/report.html",
                 "masks/buildings_coverage.tif", "summary.json"):
        assert (out / name).is_file(), name
    assert "UTM 32N" in stdout and "Helsinki" not in stdout and not (out / "helsinki.nc").exists()


def test_every_json_file_is_strict_json(demo):
    out, _, _ = demo
    files = [p for p in out.rglob("*.json") if ".qgis-profile" not in p.parts]
    assert len(files) >= 4
    for path in files:
        json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def test_vegetation_is_green_and_built_up_is_not(demo):
    ndvi = demo[2]["ndvi"]
    assert ndvi["vegetation"]["pixels"] > 1000 and ndvi["built-up"]["pixels"] > 200
    assert ndvi["vegetation"]["ndvi_median"] > 0.6
    assert ndvi["built-up"]["ndvi_median"] < 0.3


def test_the_unmapped_background_is_painted_as_the_summary_says(demo):
    background = demo[2]["unmapped_background"]
    assert background["share"] > 0.1 and background["painted_as"] == "grass"
    assert background["ndvi_median"] > 0.5  # meadow-green, as the model card's remap asks


def test_seams_are_invisible_and_overlaps_identical(demo):
    out, _, summary = demo
    for band, values in summary["seam_visibility"].items():
        assert values["visibility"] <= max(1.05, values["no_cut_range"][1]), (band, values)
    patches = {(int(p.stem[1:5]), int(p.stem[7:11])): gdal.Open(str(p)).ReadAsArray()
               for p in (out / "generated").glob("r*_c*_v00.tif")}
    size, overlap, pairs = 64, 12, 0
    for (row, col), patch in patches.items():
        for axis, neighbour in ((2, patches.get((row, col + 1))), (1, patches.get((row + 1, col)))):
            if neighbour is not None:
                mine = np.take(patch, range(size - overlap, size), axis=axis)
                theirs = np.take(neighbour, range(overlap), axis=axis)
                # a patch whose map shows no mapped feature is nodata as a whole; elsewhere the joint generation
                # gives both patches the same pixels
                both = (mine > 0).all(axis=0) & (theirs > 0).all(axis=0)
                assert np.array_equal(mine[:, both], theirs[:, both]), (row, col, axis)
                pairs += int(both.any())
    assert pairs >= 10


def test_beyond_the_extract_is_nodata_and_the_share_is_reported(demo):
    out, _, summary = demo
    dn = gdal.Open(str(out / "mosaic.tif")).ReadAsArray()
    nodata = (dn == 0).all(axis=0)
    _, lat = pixel_lon_lat(out / "mosaic.tif")
    beyond = lat > CLIP_BBOX[3] + 15 / 111_000
    assert beyond.sum() > 1000 and nodata[beyond].all()
    assert summary["nodata_share"] == pytest.approx(float(nodata.mean()), abs=1e-3)
    metrics = json.loads((out / "report" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["nodata"]["fraction"] == pytest.approx(float(nodata.mean()), abs=1e-6)


def test_osm_water_is_water(demo):
    """Real inland water has NDVI about -0.1 to -0.5. Printed with its pixel count whatever the outcome. Without the
    models' held water spectra (card class_spectra) this area measured +0.357 over 168 px: small ponds came out as
    water-meadow blends. Measured here: the band-scaled models at coverage 0.75 -0.006; the models before them at
    0.95 +0.023 (an expected failure then); those before at 0.75 -0.007. The hold's coverage is chosen on make
    bench-water's area, not here, and is not changed to pass here."""
    water = demo[2]["ndvi"]["water"]
    print(f"\nOSM water: median NDVI {water['ndvi_median']} over {water['pixels']} px")
    assert water["pixels"] > 50
    assert water["ndvi_median"] < 0


def test_few_pixels_at_the_clip_floor_or_ceiling(demo):
    """Generation clips to the model card's range; a pixel at the floor or ceiling of any band is a clipped one.
    Goal (model card evaluation): under 1 % of the valid pixels."""
    out, _, _ = demo
    card = json.loads((MODEL / "model_card.json").read_text(encoding="utf-8"))
    dn = gdal.Open(str(out / "mosaic.tif")).ReadAsArray().astype(np.float64)
    valid = (dn > 0).all(axis=0)
    saturated = np.zeros(valid.shape, bool)
    for band, name in enumerate(card["bands"]):
        low, high = (np.array(card["radiometry"]["clip"][name]) + 0.1) * 1e4  # DN; generation writes rint
        saturated |= (dn[band] <= low + 0.5) | (dn[band] >= high - 0.5)
    share = float(saturated[valid].mean())
    print(f"\nsaturated pixels (any band at the card's clip floor or ceiling): {100 * share:.2f} % of {valid.sum()}")
    assert valid.sum() > 10_000
    assert share < 0.01
