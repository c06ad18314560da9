"""inpaint-scenario: outside the edits + margin BASE is copied bitwise, the mask is the polygons rasterised on
BASE's grid, bad inputs fail with one line, a seed fixes the result, cancel and rerun resume; both families."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin

from mapsynth_backend.generate.inpaint import COMMANDS, inpaint_scenario
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError
from mapsynth_backend.train.command import COMMANDS as TRAIN
from mapsynth_backend.train.command import train

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid, synthetic_scene  # noqa: E402
from shared_data import ABERYSTWYTH_S2 as SCENE  # noqa: E402 - tests/shared_data.py (conftest)
from tiny_models import build_tiny_sd  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
P, SIZE = 16, 48
X0, Y0 = 420000.0, 5809000.0


def write_base(path: Path, size: int = SIZE) -> Path:
    from mapsynth_backend.radiometry import encode_reflectance

    _, reflectance = synthetic_scene(np.random.default_rng(3), size)
    with rasterio.open(
        path, "w", driver="GTiff", width=size, height=size, count=4, dtype="uint16", nodata=0,
        crs="EPSG:32630", transform=from_origin(X0, Y0, 10, 10),
    ) as dst:
        dst.write(encode_reflectance(reflectance, np.ones((1, size, size), bool)))
        for index, band in enumerate(["B02", "B03", "B04", "B08"], start=1):
            dst.set_band_description(index, band)
    return path


def write_edits(path: Path, polygons, classes, crs="EPSG:32630") -> Path:
    pyogrio.raw.write(
        str(path),
        geometry=shapely.to_wkb(polygons),
        field_data=[np.array(classes, dtype=object)],
        fields=["class"],
        geometry_type="Polygon",
        crs=crs,
        driver="GPKG",
    )
    return path


def pixel_box(col0, row0, col1, row1):
    return shapely.box(X0 + col0 * 10, Y0 - row1 * 10, X0 + col1 * 10, Y0 - row0 * 10)


# a field-aligned square and a triangle (its diagonal edge tests the pixel-centre rule)
TRIANGLE = [(X0 + 250, Y0 - 300), (X0 + 420, Y0 - 300), (X0 + 250, Y0 - 440)]
POLYGONS = [pixel_box(5, 6, 15, 14), shapely.Polygon(TRIANGLE)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inpaint")
    grid = make_grid(folder / "train.gpkg", 2, 3, P)
    dataset = make_dataset(folder / "data", grid)
    train(
        TRAIN[0].resolve(
            {"dataset": str(dataset), "family": "pixel", "preset": "tiny", "max_steps": 2, "batch_size": 4,
             "validation_every": 0, "device": "cpu", "output_dir": str(folder / "training")}
        ),
        REPORTER,
    )
    base = write_base(folder / "base.tif")
    edits = write_edits(folder / "edits.gpkg", POLYGONS, ["water", "residential_building"])
    return folder, folder / "training" / "model", base, edits


def params(setup, out: Path, **extra):
    folder, model, base, edits = setup
    return {
        "base": str(base), "edits": str(edits), "model": str(model), "steps": 3, "resample": 2, "margin": 2,
        "device": "cpu", "output": str(out / "after.tif"), "output_mask": str(out / "mask.tif"),
        "output_map": str(out / "map.tif"), **extra,
    }


def run(setup, out: Path, **extra):
    out.mkdir(parents=True, exist_ok=True)
    return inpaint_scenario(COMMANDS[0].resolve(params(setup, out, **extra)), REPORTER)


def read(path):
    with rasterio.open(path) as src:
        return src.read(), src.profile, src.scales, src.offsets, src.descriptions


def test_outside_edits_and_margin_bitwise_base_mask_is_the_rasterised_polygons(setup, tmp_path):
    _, _, base, _ = setup
    result = run(setup, tmp_path)
    before, profile, *_ = read(base)
    after, after_profile, scales, offsets, descriptions = read(tmp_path / "after.tif")
    mask = read(tmp_path / "mask.tif")[0][0]
    assert after_profile["transform"] == profile["transform"] and after_profile["crs"] == profile["crs"]
    assert after.dtype == before.dtype and after_profile["nodata"] == 0
    expected = rasterize([(g, 1) for g in POLYGONS], out_shape=(SIZE, SIZE), transform=profile["transform"])
    np.testing.assert_array_equal(mask == 1, expected == 1)  # pixel centres inside a polygon
    assert ((mask == 2) == ((mask != 1) & (mask > 0))).all() and (mask == 2).any()
    unchanged = mask == 0
    np.testing.assert_array_equal(after[:, unchanged], before[:, unchanged])
    assert (after[:, mask == 1] != before[:, mask == 1]).any()
    assert scales == (1e-4,) * 4 and offsets == (-0.1,) * 4
    assert descriptions == ("B02", "B03", "B04", "B08")
    assert result["edited_pixels"] == int(expected.sum())
    edited_map = read(tmp_path / "map.tif")[0]
    from mapsynth_backend.prepare.landcover import palette

    square = rasterize([(POLYGONS[0], 1)], out_shape=(SIZE, SIZE), transform=profile["transform"]) == 1
    assert (edited_map[:, square].T == palette()["water"]).all()


def test_edits_in_another_crs_are_reprojected(setup, tmp_path):
    from pyproj import Transformer

    folder = setup[0]
    to_wgs84 = Transformer.from_crs("EPSG:32630", "EPSG:4326", always_xy=True)
    square = shapely.transform(pixel_box(10, 10, 30, 30), lambda xy: np.column_stack(to_wgs84.transform(*xy.T)))
    edits = write_edits(folder / "wgs84.gpkg", [square], ["bare"], crs="EPSG:4326")
    out = tmp_path / "wgs"
    run(setup, out, edits=str(edits), margin=0)
    mask = read(out / "mask.tif")[0][0]
    assert abs(int((mask == 1).sum()) - 400) <= 40  # 20 x 20 px, corners bent by the projection
    assert not (mask == 2).any()


def test_deterministic_for_a_seed_and_different_for_another(setup, tmp_path):
    run(setup, tmp_path / "a", seed=7)
    run(setup, tmp_path / "b", seed=7)
    run(setup, tmp_path / "c", seed=8)
    a, b, c = (read(tmp_path / name / "after.tif")[0] for name in "abc")
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_variations_and_rerun_keeps_finished_files(setup, tmp_path):
    run(setup, tmp_path, variations=2)
    first, second = tmp_path / "after.tif", tmp_path / "after_v01.tif"
    assert second.exists() and (read(first)[0] != read(second)[0]).any()
    stamps = (first.stat().st_mtime_ns, second.stat().st_mtime_ns)
    result = run(setup, tmp_path, variations=2)
    assert result["written"] == 0 and (first.stat().st_mtime_ns, second.stat().st_mtime_ns) == stamps
    result = run(setup, tmp_path, variations=2, margin=3)  # other settings: redone
    assert result["written"] == 2


@pytest.mark.parametrize(
    ("polygons", "classes", "crs", "message"),
    [
        ([pixel_box(200, 200, 210, 210)], ["water"], "EPSG:32630", "outside BASE"),
        ([pixel_box(40, 40, 60, 60)], ["water"], "EPSG:32630", "feature 1 (water) reaches 336.0 px beyond BASE"),
        ([pixel_box(5, 5, 10, 10)], ["lava"], "EPSG:32630", "not a semantic-palette class"),
        ([pixel_box(5, 5, 10, 10)], ["water"], None, "has no CRS"),
    ],
)
def test_bad_edits_fail_with_one_line(setup, tmp_path, run_job, polygons, classes, crs, message):
    edits = write_edits(tmp_path / "bad.gpkg", polygons, classes, crs=crs)
    code, events, _ = run_job("inpaint-scenario", params(setup, tmp_path, edits=str(edits)), timeout=600)
    assert code == 1
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and message in errors[0]["message"] and "\n" not in errors[0]["message"]
    assert not (tmp_path / "after.tif").exists() and not (tmp_path / "mask.tif").exists()


@pytest.mark.slow
def test_cancel_leaves_no_output_and_a_rerun_finishes(setup, tmp_path, backend_cmd):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    job = {"v": 1, "command": "inpaint-scenario", "params": params(setup, tmp_path, steps=40, resample=4)}
    (job_dir / "job.json").write_text(json.dumps(job))
    proc = subprocess.Popen([*backend_cmd, "inpaint-scenario", "--job", "job.json"], cwd=job_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for line in proc.stdout:
        if json.loads(line).get("stage") == "inpaint":
            (job_dir / "cancel").touch()
            break
    assert proc.wait(timeout=600) == 130  # cancelled (exit 130), not finished: the bound only stops a hang
    assert not (tmp_path / "after.tif").exists() and not (tmp_path / "mask.tif").exists()
    (job_dir / "cancel").unlink()
    job["params"].update(steps=2, resample=1)
    (job_dir / "job.json").write_text(json.dumps(job))
    assert subprocess.run([*backend_cmd, "inpaint-scenario", "--job", "job.json"], cwd=job_dir,
                          capture_output=True, timeout=900).returncode == 0
    assert (tmp_path / "after.tif").exists() and (tmp_path / "mask.tif").exists()


def test_controlnet_family_latent_inpainting(setup, tmp_path):
    folder = setup[0]
    sd = build_tiny_sd(tmp_path / "tiny-sd")
    train(
        TRAIN[0].resolve(
            {"dataset": str(folder / "data" / "dataset"), "family": "controlnet-sd15", "preset": "tiny",
             "base_model": str(sd), "max_steps": 1, "batch_size": 2, "validation_every": 0, "device": "cpu",
             "output_dir": str(tmp_path / "cn")}
        ),
        REPORTER,
    )
    result = run(setup, tmp_path / "out", model=str(tmp_path / "cn" / "model"), steps=2, resample=2)
    before = read(setup[2])[0]
    after = read(tmp_path / "out" / "after.tif")[0]
    mask = read(tmp_path / "out" / "mask.tif")[0][0]
    np.testing.assert_array_equal(after[:, mask == 0], before[:, mask == 0])
    assert (after[:, mask == 1] != before[:, mask == 1]).any() and result["canvases"] >= 1


def write_coverage(path: Path, values: np.ndarray, pixel: float = 10) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1, dtype="float32",
        crs="EPSG:32630", transform=from_origin(X0, Y0, pixel, pixel),
    ) as dst:
        dst.write(values.astype(np.float32)[None])
    return path


def pixel_fraction(polygon, row: int, col: int) -> float:
    return polygon.intersection(pixel_box(col, row, col + 1, row + 1)).area / 100


def test_coverage_masks_follow_the_edits_class_and_area(setup, tmp_path):
    """Building coverage on BASE's grid, non-residential coverage on a 20 m grid: a water edit clears them, a
    residential building edit is building coverage, an other_building edit is non-residential coverage, each
    in proportion to the pixel's area under it; pixels no edit touches keep their value."""
    rng = np.random.default_rng(5)
    buildings = rng.uniform(0, 1, (SIZE, SIZE))
    coarse = rng.uniform(0, 1, (SIZE // 2, SIZE // 2))
    nonres_on_base = np.kron(coarse, np.ones((2, 2)))
    water, house, factory = pixel_box(5, 6, 15, 14), shapely.Polygon(TRIANGLE), pixel_box(30.5, 2.5, 40, 10)
    edits = write_edits(tmp_path / "edits.gpkg", [water, house, factory],
                        ["water", "residential_building", "other_building"])
    result = run(setup, tmp_path, edits=str(edits), steps=1, resample=1,
                 building_coverage=str(write_coverage(tmp_path / "b.tif", buildings)),
                 nonresidential_coverage=str(write_coverage(tmp_path / "n.tif", coarse, pixel=20)),
                 output_building_coverage=str(tmp_path / "b_after.tif"))
    assert result["output_building_coverage"] == str(tmp_path / "b_after.tif")
    assert result["output_nonresidential_coverage"] == str(tmp_path / "after_nonresidential_coverage.tif")
    new_b, profile = (lambda r: (r[0][0], r[1]))(read(tmp_path / "b_after.tif"))
    new_n = read(tmp_path / "after_nonresidential_coverage.tif")[0][0]
    assert new_b.shape == new_n.shape == (SIZE, SIZE) and profile["transform"] == from_origin(X0, Y0, 10, 10)
    for row in range(SIZE):
        for col in range(SIZE):
            f_water, f_house, f_factory = (pixel_fraction(g, row, col) for g in (water, house, factory))
            f_all = f_water + f_house + f_factory
            if f_all == 0:
                assert new_b[row, col] == np.float32(buildings[row, col])
                assert new_n[row, col] == np.float32(nonres_on_base[row, col])
                continue
            expected_b = buildings[row, col] * (1 - f_all) + f_house + f_factory
            expected_n = nonres_on_base[row, col] * (1 - f_all) + f_factory
            assert new_b[row, col] == pytest.approx(expected_b, abs=0.1), (row, col)
            assert new_n[row, col] == pytest.approx(expected_n, abs=0.1), (row, col)
    assert (new_b[7:13, 6:14] == 0).all() and (new_n[7:13, 6:14] == 0).all()  # under the lake
    assert (new_b[3:10, 31:40] == 1).all() and (new_n[3:10, 31:40] == 1).all()  # the factory's whole pixels


def test_overlapping_edits_later_on_top_in_the_coverage(setup):
    from mapsynth_backend.generate.coverage import edit_fractions
    from mapsynth_backend.generate.scenario import read_base

    base = read_base(str(setup[2]), ["B02", "B03", "B04", "B08"], 0.0, 0.0)
    lake, house = pixel_box(0, 0, 20, 20), pixel_box(10, 10, 30, 30)
    house_on_top = edit_fractions([(lake, "water"), (house, "residential_building")], base)
    lake_on_top = edit_fractions([(house, "residential_building"), (lake, "water")], base)
    assert house_on_top[0].sum() == lake_on_top[0].sum() == 700  # the union, whole pixels
    assert house_on_top[1].sum() == 400 and lake_on_top[1].sum() == 300  # the overlap belongs to the later one
    assert not house_on_top[2].any()


def test_a_coverage_output_needs_its_input(setup, tmp_path):
    with pytest.raises(UserError, match="OUTPUT_BUILDING_COVERAGE: give BUILDING_COVERAGE"):
        run(setup, tmp_path, output_building_coverage=str(tmp_path / "b.tif"))
    assert not (tmp_path / "after.tif").exists()


def test_map_raster_or_folder_and_derived_where_it_does_not_reach(setup, tmp_path):
    from mapsynth_backend.generate.scenario import area_map, read_base
    from mapsynth_backend.prepare.landcover import derive, palette

    base = read_base(str(setup[2]), ["B02", "B03", "B04", "B08"], 0.0, 0.0)
    water = np.array(palette()["water"], np.uint8)[:, None, None] * np.ones((1, 20, 20), np.uint8)
    folder = tmp_path / "maps"
    folder.mkdir()
    with rasterio.open(folder / "p1.tif", "w", driver="GTiff", width=20, height=20, count=3, dtype="uint8",
                       crs="EPSG:32630", transform=from_origin(X0 + 100, Y0 - 100, 10, 10)) as dst:
        dst.write(water)
    derived = derive(base.reflectance.astype(np.float32))
    for rendered in (area_map(str(folder / "p1.tif"), "", base), area_map("", str(folder), base)):
        assert (rendered[:, 10:30, 10:30] == water).all()
        rest = np.ones((SIZE, SIZE), bool)
        rest[10:30, 10:30] = False
        np.testing.assert_array_equal(rendered[:, rest], derived[:, rest])
    with pytest.raises(UserError, match="MAP and MAP_DIR"):
        area_map(str(folder / "p1.tif"), str(folder), base)
    with pytest.raises(UserError, match="MAP_DIR: .* holds no map rasters"):
        area_map("", str(tmp_path), base)


def test_repaint_jumps_back_several_levels(setup, tmp_path):
    from mapsynth_backend.generate.repaint import travel

    path = travel(12, 3, 3)
    assert path[0] == 12 and path[-1] == 0 and all(abs(a - b) == 1 for a, b in zip(path, path[1:], strict=False))
    downs = sum(b < a for a, b in zip(path, path[1:], strict=False))
    assert downs == 12 + 2 * 3 * 3  # jump points 3, 6, 9: each gone back up 3 levels twice
    assert travel(5, 1, 1) == [5, 4, 3, 2, 1, 0]
    run(setup, tmp_path, steps=6, resample=2, jump=3)
    before, after, mask = read(setup[2])[0], read(tmp_path / "after.tif")[0], read(tmp_path / "mask.tif")[0][0]
    np.testing.assert_array_equal(after[:, mask == 0], before[:, mask == 0])
    assert (after[:, mask == 1] != before[:, mask == 1]).any()


@pytest.mark.skipif(not SCENE.exists(), reason=f"the real Aberystwyth scene is absent ({SCENE})")
def test_a_lake_on_real_farmland_with_the_demo_model(tmp_path):
    """Real Sentinel-2 (reflectance x 1000, no scale metadata: SCALE given), the embedded demo model, a lake
    drawn on fields, the default GUIDANCE (auto: 1.5 under water edits, what docs/BENCHMARKS.md measured; without
    guidance, which suits built-up, a small lake is only half water): the lake reads as water (NDWI > 0), the
    rest of the crop is the scene's DNs."""
    from rasterio.windows import Window

    window = Window(490, 400, 64, 64)  # farmland east of Aberystwyth (the lake of scripts/bench_inpaint.py)
    with rasterio.open(SCENE) as src:
        profile = {**src.profile, "width": 64, "height": 64, "transform": src.window_transform(window)}
        crop = src.read(window=window)
    base = tmp_path / "base.tif"
    with rasterio.open(base, "w", **profile) as dst:
        dst.write(crop)
    t = profile["transform"]
    lake = shapely.Polygon([t * xy for xy in [(20, 20), (40, 18), (46, 34), (36, 46), (18, 40)]])
    edits = write_edits(tmp_path / "lake.gpkg", [lake], ["water"], crs="EPSG:27700")
    result = inpaint_scenario(
        COMMANDS[0].resolve({"base": str(base), "edits": str(edits), "scale": 0.001, "steps": 8, "resample": 2,
                             "margin": 3, "device": "cpu", "output": str(tmp_path / "after.tif"),
                             "output_mask": str(tmp_path / "mask.tif")}),
        REPORTER,
    )
    after, profile_after, scales, *_ = read(tmp_path / "after.tif")
    mask = read(tmp_path / "mask.tif")[0][0]
    np.testing.assert_array_equal(after[:, mask == 0], crop[:, mask == 0])
    assert scales == (0.001,) * 4 and profile_after["dtype"] == "uint16"
    green, nir = after[1][mask == 1].astype(float), after[3][mask == 1].astype(float)
    assert np.mean((green - nir) / (green + nir) > 0) > 0.8
    assert result["guidance_by_class"] == {"water": 1.5}
    edit = result["variations"][0]["edits"][0]
    assert edit["ndwi_before"] < 0 < edit["ndwi_after"]
