"""Assembly: exact reassembly, one seam for all bands, georeferencing, blob rejection, seeded selection."""

import json
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.mosaic.command import COMMANDS, assemble
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
P, OV, ROWS, COLS = 32, 8, 3, 4
S = P - OV
NAMES = ("B02", "B03", "B04", "B08")


def smooth_image(rng, height, width):
    surface = rng.normal(0, 1, (4, height, width)).cumsum(axis=1).cumsum(axis=2)
    return np.clip(1500 + 5 * (surface - surface.mean()), 1, 60000).astype(np.uint16)


def write_candidates(folder, grid, image_for, variations):
    folder.mkdir()
    (folder / "mapsynth_output.json").write_text(
        json.dumps({"kind": "generated", "grid_fingerprint": grid["fingerprint"]})
    )
    for row in range(ROWS):
        for col in range(COLS):
            for v in range(variations):
                data = image_for(row, col, v)
                transform = from_origin(grid["origin_x"] + col * S * 10, grid["origin_y"] - row * S * 10, 10, 10)
                with rasterio.open(
                    folder / f"r{row:04d}_c{col:04d}_v{v:02d}.tif",
                    "w",
                    driver="GTiff",
                    width=P,
                    height=P,
                    count=4,
                    dtype="uint16",
                    crs="EPSG:32630",
                    transform=transform,
                    nodata=0,
                ) as dst:
                    dst.write(data)
                    for i, name in enumerate(NAMES, start=1):
                        dst.set_band_description(i, name)


def run(tmp_path, grid_path, folder, **overrides):
    params = COMMANDS[0].resolve(
        {
            "patch_grid": str(grid_path),
            "generated_dir": str(folder),
            "output": str(tmp_path / "out" / "mosaic.tif"),
            **overrides,
        }
    )
    return assemble(params, REPORTER)


@pytest.fixture
def setup(tmp_path):
    grid = make_grid(tmp_path / "grid.gpkg", ROWS, COLS, P, OV)
    rng = np.random.default_rng(3)
    image = smooth_image(rng, (ROWS - 1) * S + P, (COLS - 1) * S + P)
    return tmp_path, grid, image, rng


def cut(image, row, col):
    return image[:, row * S : row * S + P, col * S : col * S + P]


def test_patches_of_one_image_reassemble_exactly_and_on_the_grid(setup):
    tmp_path, grid, image, _ = setup
    write_candidates(tmp_path / "gen", grid, lambda r, c, v: cut(image, r, c), 2)
    result = run(tmp_path, tmp_path / "grid.gpkg", tmp_path / "gen")
    with rasterio.open(result["output"]) as src:
        assert src.read().tolist() == image.tolist()
        assert src.transform == from_origin(grid["origin_x"], grid["origin_y"], 10, 10)
        assert (src.width, src.height) == ((COLS - 1) * S + P, (ROWS - 1) * S + P)
        assert list(src.descriptions) == list(NAMES) and src.crs.to_epsg() == 32630
    with rasterio.open(result["labels"]) as labels:
        assert labels.transform == src.transform and labels.shape == src.shape
    assert result["seam_visibility"]["B02"] == pytest.approx(1.0, abs=0.35)
    assert pyogrio.read_info(result["seams"])["features"] == (ROWS - 1) * COLS + ROWS * (COLS - 1)


def test_all_bands_come_from_the_pixel_the_label_names(setup):
    tmp_path, grid, image, rng = setup
    noisy = {}

    def candidate(row, col, variation):
        data = cut(image, row, col).astype(np.int32) + rng.integers(-300, 300, (4, P, P))
        noisy[(row, col, variation)] = np.clip(data, 1, 65535).astype(np.uint16)
        return noisy[(row, col, variation)]

    write_candidates(tmp_path / "gen", grid, candidate, 3)
    result = run(tmp_path, tmp_path / "grid.gpkg", tmp_path / "gen", feather=0)
    mosaic = rasterio.open(result["output"]).read()
    labels = rasterio.open(result["labels"]).read(1)
    assert (labels >= 0).all()
    for y in range(0, mosaic.shape[1], 3):
        for x in range(0, mosaic.shape[2], 3):
            cell, variation = divmod(int(labels[y, x]), 1000)
            row, col = divmod(cell, COLS)
            source = noisy[(row, col, variation)][:, y - row * S, x - col * S]
            assert mosaic[:, y, x].tolist() == source.tolist()  # every band from the same source pixel
    seen = {divmod(int(v), 1000)[1] for v in np.unique(labels)}
    assert len(seen) > 1


def test_saturated_blob_candidates_are_rejected(setup):
    tmp_path, grid, image, _ = setup

    def candidate(row, col, variation):
        data = cut(image, row, col).copy()
        if (row, col) == (1, 1) and variation == 0:
            data[:3, 10:20, 10:20] = 6000  # a cloud: bright in every visible band
        if variation == 1:
            data = (data.astype(np.int32) + 200).clip(1, 65535).astype(np.uint16)  # worse fit, but clear
        return data

    write_candidates(tmp_path / "gen", grid, candidate, 2)
    kept = run(tmp_path, tmp_path / "grid.gpkg", tmp_path / "gen")
    assert kept["chosen"]["r0001_c0001"]["variation"] == 0  # without MAX_BLOB the best fit wins
    rejected = run(tmp_path, tmp_path / "grid.gpkg", tmp_path / "gen", max_blob=50)
    assert rejected["chosen"]["r0001_c0001"]["variation"] == 1 and rejected["rejected_candidates"] == 1
    assert rejected["chosen"]["r0001_c0001"]["largest_blob_px"] == 0


def test_random_selection_is_seeded(setup):
    tmp_path, grid, image, rng = setup
    write_candidates(
        tmp_path / "gen",
        grid,
        lambda r, c, v: np.clip(cut(image, r, c).astype(int) + v * 5, 1, 65535).astype(np.uint16),
        4,
    )

    def picks(seed):
        result = run(tmp_path, tmp_path / "grid.gpkg", tmp_path / "gen", selection="random", top_k=3, seed=seed)
        return [result["chosen"][k]["variation"] for k in sorted(result["chosen"])]

    assert picks(1) == picks(1)
    assert picks(1) != picks(2)
    assert set(picks(1)) <= {0, 1, 2, 3}


def test_resampling_averages_areas_on_the_target_grid(setup):
    tmp_path, grid, image, _ = setup
    write_candidates(tmp_path / "gen", grid, lambda r, c, v: cut(image, r, c), 1)
    result = run(tmp_path, tmp_path / "grid.gpkg", tmp_path / "gen", target_pixel_size=20)
    with rasterio.open(result["output"]) as src:
        assert src.res == (20.0, 20.0) and src.transform.c % 20 == 0 and src.transform.f % 20 == 0
        out = src.read().astype(float)
    blocks = image[:, :80, :80].astype(float).reshape(4, 40, 2, 40, 2).mean(axis=(2, 4))
    assert np.abs(out[:, :40, :40] - blocks).max() <= 1.0


def test_generated_folder_of_another_grid_is_refused(setup):
    tmp_path, grid, image, _ = setup
    write_candidates(tmp_path / "gen", grid, lambda r, c, v: cut(image, r, c), 1)
    make_grid(tmp_path / "other.gpkg", ROWS, COLS, P, 4)
    with pytest.raises(UserError, match="generated for another grid"):
        run(tmp_path, tmp_path / "other.gpkg", tmp_path / "gen")
