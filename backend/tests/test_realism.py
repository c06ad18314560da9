"""Realism measures (evaluate/realism.py, c2st.py): the classifier two-sample test on real Sentinel-2 tiles, and
the texture and band-correlation measures against closed forms. The three C2ST tests train 5-10 small CNNs each
(about 30-60 s of CPU apiece)."""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from shared_data import ABERYSTWYTH_S2 as SCENE  # tests/shared_data.py (conftest): MAPSYNTH_SHARED_DATA

from mapsynth_backend.evaluate.c2st import c2st, group_folds
from mapsynth_backend.evaluate.command import COMMANDS, evaluate
from mapsynth_backend.evaluate.realism import (
    band_correlation,
    cut_tiles,
    detail,
    gradient_energy,
    high_frequency_share,
    radial_spectrum,
    statistics,
    tile_groups,
)
from mapsynth_backend.runtime.protocol import ConsoleReporter

needs_scene = pytest.mark.skipif(not SCENE.exists(), reason=f"the real Aberystwyth scene is absent ({SCENE})")
BANDS = ["B02", "B03", "B04", "B08"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    with rasterio.open(SCENE) as src:
        return src.read().astype(np.float32) / 1000  # reflectance x 1000 (PROVENANCE.md)


@pytest.fixture(scope="module")
def halves(scene):
    """The scene's 841 32 px tiles dealt at random into two disjoint sets, each tile its own group."""
    tiles, _ = cut_tiles(scene)
    order = np.random.default_rng(0).permutation(len(tiles))
    return tiles[order[::2]], tiles[order[1::2]], order[::2], order[1::2]


@needs_scene
@pytest.mark.slow
def test_two_disjoint_sets_of_real_tiles_are_indistinguishable(halves):
    a, b, ga, gb = halves
    result = c2st(a, b, (ga, gb), control=False)
    low, high = result["interval_95"]
    assert result["tiles"] == 2 * min(len(a), len(b)) and result["folds"] == 5
    assert low <= 0.5 <= high or result["accuracy"] < 0.6, result
    texture = c2st(detail(a), detail(b), (ga, gb), control=False)  # evaluate's detail-only view
    assert texture["interval_95"][0] <= 0.5 <= texture["interval_95"][1] or texture["accuracy"] < 0.6, texture


@needs_scene
@pytest.mark.slow
def test_the_detail_view_tells_slightly_smoothed_real_tiles_apart(halves):
    """Real tiles blurred by sigma 0.7 px (about the grid teacher's missing texture) against real tiles: on their
    detail alone the classifier must see it."""
    from scipy.ndimage import gaussian_filter

    a, b, ga, gb = halves
    smooth = gaussian_filter(b, sigma=(0, 0, 0.7, 0.7), mode="reflect")
    result = c2st(detail(a), detail(smooth), (ga, gb), control=False)
    assert result["accuracy"] > 0.9 and result["interval_95"][0] > 0.85, result


@needs_scene
@pytest.mark.slow
def test_white_noise_of_0_005_is_told_apart(halves):
    a, b, ga, gb = halves
    noisy = b + np.random.default_rng(1).normal(0, 0.005, b.shape).astype(np.float32)
    result = c2st(a, noisy, (ga, gb), control=False)
    assert result["accuracy"] > 0.9 and result["interval_95"][0] > 0.85, result


@needs_scene
@pytest.mark.slow
def test_repeated_runs_average_single_runs_of_their_own_seeds(halves):
    """repeats=3 is three single runs (seeds 5, 1005, 2005): the accuracy is their mean, run 0 is exactly the single
    run, and on two samples of real tiles the runs differ (the classifier's seed moves one run) around 50 %."""
    a, b, ga, gb = halves
    steps = 150  # a short budget: this test is about the bookkeeping of repeats, not the classifier's power
    repeated = c2st(a, b, (ga, gb), seed=5, steps=steps, control=False, repeats=3)
    singles = [c2st(a, b, (ga, gb), seed=5 + 1000 * k, steps=steps, control=False) for k in range(3)]
    assert repeated["runs"] == [s["accuracy"] for s in singles] and singles[0]["repeats"] == 1
    assert repeated["accuracy"] == pytest.approx(np.mean(repeated["runs"]))
    assert repeated["spread_sd"] == pytest.approx(np.std(repeated["runs"], ddof=1)) and repeated["spread_sd"] > 0
    low, high = repeated["interval_95"]
    assert low < repeated["accuracy"] < high and abs(repeated["accuracy"] - 0.5) < 0.1
    with pytest.raises(ValueError, match="repeats"):
        c2st(a, b, (ga, gb), repeats=0)


def test_folds_keep_each_group_on_one_side():
    groups = np.repeat(np.arange(23), np.arange(1, 24))  # uneven group sizes
    folds = group_folds(groups, 5, np.random.default_rng(0))
    for g in np.unique(groups):
        assert len(np.unique(folds[groups == g])) == 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 23  # greedy largest-first: within one group of each other


def test_identical_inputs_give_gradient_ratio_one_and_scaling_by_two_gives_four():
    tiles = np.random.default_rng(0).random((10, 4, 32, 32)).astype(np.float32) * 0.3
    same = statistics(tiles, tiles.copy(), BANDS)
    assert all(same["gradient_energy"][b]["ratio"] == 1.0 for b in BANDS)
    assert all(v["difference"] == 0.0 for v in same["band_correlation"].values())
    doubled = statistics(tiles, 2 * tiles + 0.1, BANDS)  # an offset has no gradient
    assert [doubled["gradient_energy"][b]["ratio"] for b in BANDS] == pytest.approx([4.0] * 4)


def test_gradient_energy_of_a_ramp():
    ramp = np.tile(np.arange(32, dtype=np.float64) * 0.01, (32, 1))[None, None]  # +0.01 per column, flat down
    # 32 x 31 horizontal differences of 0.01, 31 x 32 vertical ones of 0: mean of their squares
    assert gradient_energy(ramp)[0] == pytest.approx(0.01**2 * 32 * 31 / (2 * 32 * 31))


def _wave(k: int, axis: int, amplitude: float = 1.0) -> np.ndarray:
    """A sinusoid of k cycles across a 32 px tile, along x (axis 1) or y (axis 0)."""
    i = np.arange(32)
    wave = amplitude * np.cos(2 * np.pi * k * i / 32 + 0.3)
    return np.tile(wave, (32, 1)) if axis == 1 else np.tile(wave[:, None], (1, 32))


def test_high_frequency_share_of_sinusoids_matches_the_closed_form():
    """With a periodic Hann window a sinusoid on DFT bin k leaks only into bins k-1 and k+1 along its axis and
    -1..1 across it: k = 4 of 32 stays below 1/4 cycle per pixel (radius <= sqrt(5² + 1) / 32 = 0.16), k = 12
    above it (radius >= 11 / 32 = 0.34). Both leak the same fractions, so for a sum of the two along different axes
    (disjoint bins) the share is b² / (a² + b²)."""
    low, high = _wave(4, 1), _wave(12, 0)
    tiles = np.stack([low, high, low + 0.5 * high, 0.5 * low + high])[None]
    share = high_frequency_share(tiles)
    assert share == pytest.approx([0.0, 1.0, 0.25 / 1.25, 1 / 1.25], abs=1e-12)
    off_bin = high_frequency_share(np.tile(np.cos(2 * np.pi * 0.45 * np.arange(32)), (32, 1))[None, None])
    assert off_bin[0] > 0.95  # 0.45 cycle per pixel, not on a bin: almost all above 1/4


def test_radial_spectrum_peaks_at_the_sinusoid_frequency():
    freq, power = radial_spectrum(np.stack([_wave(6, 1), _wave(10, 0)])[None])
    assert freq[np.argmax(power[0])] == pytest.approx(6 / 32) and freq[np.argmax(power[1])] == pytest.approx(10 / 32)
    assert freq[0] == pytest.approx(1 / 32) and freq[-1] == pytest.approx(0.5)


def test_band_correlation_of_a_known_construction():
    """x and y: sinusoids of whole periods along different axes, orthogonal with equal energy over the tile."""
    x, y = _wave(4, 1), _wave(3, 0)
    tile = np.stack([x, -x, x + y, 2 * x + 3])[None]
    expected = np.array(
        [
            [1, -1, 2**-0.5, 1],
            [-1, 1, -(2**-0.5), -1],
            [2**-0.5, -(2**-0.5), 1, 2**-0.5],
            [1, -1, 2**-0.5, 1],
        ]
    )
    np.testing.assert_allclose(band_correlation(np.concatenate([tile, tile])), expected, atol=1e-12)
    flat = np.stack([x, np.zeros_like(x), y, x])[None]  # a flat band: no correlation, left out (NaN), not 0
    assert np.isnan(band_correlation(flat)[0, 1]) and band_correlation(flat)[0, 2] == pytest.approx(0, abs=1e-12)


def test_tiles_with_nodata_and_the_partial_margin_are_left_out():
    image = np.ones((4, 70, 100), np.float32)
    image[2, 40, 5] = np.nan
    tiles, origins = cut_tiles(image)
    assert tiles.shape == (5, 4, 32, 32)  # 2 rows x 3 columns, one with a NaN
    assert [tuple(o) for o in origins] == [(0, 0), (0, 32), (0, 64), (32, 32), (32, 64)]


def test_class_groups_need_a_majority():
    names = {1: "water", 2: "residential_building", 3: "grass", 4: "forest"}
    codes = np.ones((4, 32, 32), np.int64)
    codes[1, :20] = 2  # 62.5 % building
    codes[2, :, :16], codes[2, :, 16:] = 3, 4  # grass + forest: vegetation
    codes[3, :15] = 2  # 47 % building, 53 % water
    assert list(tile_groups(codes, names)) == ["water", "built_up", "vegetation", "water"]


def _write(path: Path, reflectance: np.ndarray, profile: dict) -> None:
    dn = np.clip(np.round((np.nan_to_num(reflectance, nan=-0.1) + 0.1) * 10000), 1, 65535).astype(np.uint16)
    dn[~np.isfinite(reflectance)] = 0
    with rasterio.open(path, "w", **{**profile, "count": 4, "dtype": "uint16", "nodata": 0}) as dst:
        dst.write(dn)
        dst.update_tags(encoding="reflectance = DN * 0.0001 - 0.1; DN 0 = nodata")
        for i, name in enumerate(BANDS, start=1):
            dst.set_band_description(i, name)


@needs_scene
@pytest.mark.slow
def test_evaluate_with_real_writes_the_realism_section_and_strict_json(scene, tmp_path):
    """A 320 px crop of the real scene against itself plus noise of 0.01, a map of three classes: every measure,
    per class, in the report and in metrics.json without NaN."""
    crop = scene[:, 300:620, 200:520]
    with rasterio.open(SCENE) as src:
        transform = src.window_transform(rasterio.windows.Window(200, 300, 320, 320))
        profile = {"driver": "GTiff", "crs": src.crs, "transform": transform, "width": 320, "height": 320}
    synthetic = crop + np.random.default_rng(0).normal(0, 0.01, crop.shape).astype(np.float32)
    synthetic[:, :10, :10] = np.nan  # nodata corner: its tile is left out
    _write(tmp_path / "real.tif", crop, profile)
    _write(tmp_path / "synthetic.tif", synthetic, profile)
    ndvi = (crop[3] - crop[2]) / (crop[3] + crop[2])
    palette = json.loads((ROOT / "resources" / "styles" / "semantic_palette.json").read_text())
    rgb = {c["key"]: c["rgb"] for c in palette["classes"]}
    classes = np.where(crop[3] < 0.05, 0, np.where(ndvi > 0.5, 1, 2))
    colours = np.array([rgb["water"], rgb["grass"], rgb["residential_building"]], np.uint8)[classes]
    with rasterio.open(tmp_path / "map.tif", "w", **{**profile, "count": 3, "dtype": "uint8"}) as dst:
        dst.write(colours.transpose(2, 0, 1))
    params = {"synthetic": str(tmp_path / "synthetic.tif"), "real": str(tmp_path / "real.tif")}
    params.update(map=str(tmp_path / "map.tif"), palette=str(ROOT / "resources" / "styles" / "semantic_palette.json"))
    result = evaluate(
        COMMANDS[0].resolve({**params, "c2st_repeats": 2, "output_dir": str(tmp_path / "rep")}),
        ConsoleReporter(json_result=False),
    )
    assert "realism" in result["sections"]

    def refuse(constant):
        raise ValueError(f"metrics.json holds {constant}")

    metrics = json.loads((tmp_path / "rep" / "metrics.json").read_text(), parse_constant=refuse)
    realism = metrics["realism"]
    assert realism["tiles"] == {"real": 99, "synthetic": 99}  # 10 x 10 tiles, the nodata corner's left out
    assert realism["c2st"]["accuracy"] > 0.9 and realism["c2st"]["groups"] == 9
    assert 0.3 < realism["c2st"]["shuffled_control_accuracy"] < 0.7  # 198 tiles: chance, within its spread
    assert realism["c2st_detail"]["accuracy"] > 0.9 and realism["c2st_detail"]["tiles"] == 198  # noise is detail
    for view in ("c2st", "c2st_detail"):  # two runs averaged, each reported, their spread too
        entry = realism[view]
        assert entry["repeats"] == 2 and len(entry["runs"]) == 2 and entry["spread_sd"] is not None
        assert entry["accuracy"] == pytest.approx(np.mean(entry["runs"]))
    assert all(realism["gradient_energy"][b]["ratio"] > 1 for b in BANDS)
    assert set(realism["per_class"]) <= {"water", "vegetation", "built_up"} and realism["per_class"]
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<h2>Realism</h2>" in page and "C2ST accuracy" in page and "50 % means indistinguishable" in page
    assert "2 runs, SD" in page and "mean of the runs" in page
    assert "<td>detail only</td>" in page and "texture and pixel noise without layout or colour" in page
    assert "Radially averaged power spectra" in page and "real imagery scores 1" in page
