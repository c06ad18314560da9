"""Land-cover products as maps, demonstrated without downloads on the real Aberystwyth scene.

The demo model's maps are derived from the scene itself (derive-maps). Here that derived land cover is coded as a
CORINE Land Cover raster (level-3 codes, 5 m pixels) and as an ESA WorldCover raster (10 m), made at run time,
rendered through the shipped tables with map-from-land-cover, and generated with the embedded model.

What the tables can express: water, forest, grassland, bare/sand and built-up. The derived maps also draw
hedgerows and field boundaries as one-pixel lines ("hedge"), which neither CORINE nor WorldCover has: those pixels
are coded as pasture / grassland; likewise its one-pixel roads and lanes ("minor_road") are coded as CORINE road
networks / WorldCover built-up, which the model sees as built-up. So the comparison is against the derived maps with
hedge pixels as grass and road pixels as built-up (what the tables can express); how much the hedges matter is
measured and printed, not hidden.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.generate.sampling import remap_map
from mapsynth_backend.prepare.landcover import palette

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid  # noqa: E402
from shared_data import ABERYSTWYTH_S2 as SCENE  # noqa: E402 - tests/shared_data.py (conftest)

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "mapsynth-demo-pixel-small"
pytestmark = [pytest.mark.skipif(not SCENE.exists(), reason=f"real Sentinel-2 scene not available at {SCENE}"),
              pytest.mark.slow]  # its fixture builds a land-cover dataset from the real scene (about 45 s)
ROWS, COLS, SIZE = 2, 3, 64
ORIGIN = (425800.0, 5808600.0)  # UTM 30N: Cardigan Bay, the town of Aberystwyth and the fields east of it
# derived class -> (CORINE level-3 code, WorldCover code); hedge has no code in either product
CODES = {
    "water": (512, 80),
    "forest": (311, 10),
    "grass": (231, 30),
    "bare": (331, 60),
    "other_building": (111, 50),
    "hedge": (231, 30),
    "minor_road": (122, 50),  # roads: CORINE "road and rail networks" (paved), WorldCover built-up
}
NODATA_CODES = (999, 0)


def backend(*args: str, timeout: float = 900) -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-m", "mapsynth_backend", *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-2000:]


def read_maps(folder: Path) -> dict[str, np.ndarray]:
    maps = {}
    for path in sorted(folder.glob("r*.tif")):
        with rasterio.open(path) as src:
            maps[path.stem] = src.read()
    return maps


def coded_raster(path: Path, derived: dict[str, np.ndarray], product: int, pixel: float) -> None:
    """The derived land cover of the grid area coded in one product's values, at ``pixel`` metres."""
    colours = palette()
    factor = int(10 / pixel)
    codes = np.full((ROWS * SIZE, COLS * SIZE), NODATA_CODES[product], np.uint16)
    for name, rgb in derived.items():
        row, col = int(name[1:5]), int(name[7:11])
        block = codes[row * SIZE : (row + 1) * SIZE, col * SIZE : (col + 1) * SIZE]
        for cls, values in CODES.items():
            block[(rgb == np.array(colours[cls])[:, None, None]).all(axis=0)] = values[product]
    codes = codes.repeat(factor, 0).repeat(factor, 1)
    profile = {"driver": "GTiff", "width": codes.shape[1], "height": codes.shape[0], "count": 1, "dtype": "uint16"}
    with rasterio.open(path, "w", crs="EPSG:32630", transform=from_origin(*ORIGIN, pixel, pixel), **profile) as dst:
        dst.write(codes[None])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("land-cover-demo")
    grid = str(root / "grid.gpkg")
    make_grid(root / "grid.gpkg", ROWS, COLS, SIZE, origin=ORIGIN)
    backend(
        "crop-sentinel2",
        "--patch-grid",
        grid,
        "--input",
        str(SCENE),
        "--scale",
        "0.001",
        "--output-dir",
        str(root / "s2"),
    )
    backend("derive-maps", "--patch-grid", grid, "--s2-dir", str(root / "s2"), "--output-dir", str(root / "derived"))
    derived = read_maps(root / "derived")
    assert len(derived) == ROWS * COLS
    colours = palette()
    expressible = root / "expressible"
    expressible.mkdir()
    (expressible / "mapsynth_output.json").write_text((root / "derived" / "mapsynth_output.json").read_text())
    for name, rgb in derived.items():
        hedge = (rgb == np.array(colours["hedge"])[:, None, None]).all(axis=0)
        road = (rgb == np.array(colours["minor_road"])[:, None, None]).all(axis=0)
        out = rgb.copy()
        out[:, hedge] = np.array(colours["grass"])[:, None]
        out[:, road] = np.array(colours["other_building"])[:, None]  # neither product has a one-pixel road class
        with rasterio.open(root / "derived" / f"{name}.tif") as src:
            profile = src.profile
        with rasterio.open(expressible / f"{name}.tif", "w", **profile) as dst:
            dst.write(out)
    for product, (label, pixel) in enumerate(
        (("CORINE Land Cover (level 3)", 5.0), ("ESA WorldCover (v100/v200)", 10.0))
    ):
        coded_raster(root / f"product{product}.tif", derived, product, pixel)
        backend(
            "map-from-land-cover",
            "--patch-grid",
            grid,
            "--input",
            str(root / f"product{product}.tif"),
            "--table",
            label,
            "--output-dir",
            str(root / f"maps{product}"),
        )
    for folder in ("derived", "expressible", "maps0", "maps1"):
        backend(
            "generate-patches",
            "--model",
            str(MODEL),
            "--patch-grid",
            grid,
            "--map-dir",
            str(root / folder),
            "--variations",
            "1",
            "--steps",
            "6",
            "--device",
            "cpu",
            "--output-dir",
            str(root / f"gen-{folder}"),
        )
    return root, derived


def test_maps_through_each_table_equal_what_the_tables_can_express(demo):
    root, derived = demo
    card = json.loads((MODEL / "model_card.json").read_text())
    expressible = read_maps(root / "expressible")
    hedge = sum(int((rgb == np.array(palette()["hedge"])[:, None, None]).all(axis=0).sum()) for rgb in derived.values())
    print(f"\nhedge/field-boundary pixels the tables cannot express: {hedge} of {ROWS * COLS * SIZE * SIZE}")
    assert hedge > 0, "the area has hedgerows: the comparison is not vacuous"
    for product in (0, 1):
        maps = read_maps(root / f"maps{product}")
        assert set(maps) == set(expressible)
        for name, rgb in maps.items():
            # the model sees maps through its card's remap (CORINE urban fabric -> its built-up class)
            ours, reference = remap_map(rgb, card["map_remap"]), remap_map(expressible[name], card["map_remap"])
            assert np.array_equal(ours, reference), (product, name)


def test_generation_from_the_tables_maps_equals_generation_from_the_derived_maps(demo):
    root, _ = demo
    reference = read_maps(root / "gen-expressible")
    full = read_maps(root / "gen-derived")
    for product in (0, 1):
        generated = read_maps(root / f"gen-maps{product}")
        assert set(generated) == set(reference) and generated
        worst = max(int(np.abs(generated[n].astype(int) - reference[n].astype(int)).max()) for n in reference)
        print(f"\nproduct {product}: max |DN difference| against the expressible derived maps: {worst}")
        assert worst <= 1
    hedges = np.mean([np.abs(full[n].astype(int) - reference[n].astype(int)).mean() for n in reference])
    print(f"mean |DN difference| caused by the hedge lines alone (derived maps as they are): {hedges:.2f}")


def test_dataset_and_model_cards_record_the_map_source_and_table(demo):
    """The land-cover maps go through build-training-dataset and train-model unchanged; the cards say where they
    came from."""
    root, _ = demo
    grid = str(root / "grid.gpkg")
    backend(
        "build-training-dataset",
        "--patch-grid",
        grid,
        "--map-dir",
        str(root / "maps0"),
        "--s2-dir",
        str(root / "s2"),
        "--output-dir",
        str(root / "dataset"),
    )
    details = json.loads((root / "dataset" / "mapsynth_output.json").read_text())["details"]["map"]
    assert details["table"] == "corine_clc_level3.csv" and details["source"] == "land cover: product0.tif band 1"
    backend(
        "train-model",
        "--dataset",
        str(root / "dataset"),
        "--preset",
        "tiny",
        "--max-steps",
        "1",
        "--batch-size",
        "2",
        "--validation-every",
        "0",
        "--validation-samples",
        "1",
        "--validation-steps",
        "1",
        "--device",
        "cpu",
        "--output-dir",
        str(root / "training"),
    )
    card = json.loads((root / "training" / "model" / "model_card.json").read_text())
    assert card["map_style"]["table"] == "corine_clc_level3.csv"
    assert card["map_style"]["source"] == "land cover: product0.tif band 1"
