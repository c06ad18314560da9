"""The sensor transfer function (generate/sensor_mtf.py, model card ``sensor_mtf``): unit gains change nothing,
a sinusoid is scaled by the gain at its frequency, a fit on real vs real plus white noise attenuates the high
frequencies and brings the high-frequency share back to real's, and a card with gains filters what generate
writes (bitwise the same on a rerun, inside the clip range) while a card without them is untouched, and pixels of
a class the card holds to its spectra stay exactly as sampled."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy.ndimage import gaussian_filter

from mapsynth_backend.evaluate.realism import gradient_energy, high_frequency_share
from mapsynth_backend.generate.command import generate
from mapsynth_backend.generate.sensor_mtf import apply_sensor_mtf, fit_sensor_mtf

sys.path.insert(0, str(Path(__file__).parent))
import test_distill  # noqa: E402
from test_class_guidance import run  # noqa: E402
from test_class_spectra import WATER, setup_hold  # noqa: E402, F401  (setup_hold: a fixture)
from test_models import generate_params  # noqa: E402

BANDS = ["B02", "B03", "B04", "B08"]


def spec_of(gain_at) -> dict:
    frequency = np.arange(46) / 64
    return {"frequency": frequency.tolist(), "gain": {b: [float(gain_at(f)) for f in frequency] for b in BANDS}}


def smooth_patches(n: int = 24, size: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(n, 4, size, size)), sigma=(0, 0, 2.5, 2.5))
    return 0.05 + 0.02 * field / field.std()


def test_unit_gains_keep_the_values():
    x = smooth_patches(3)
    assert np.abs(apply_sensor_mtf(x, spec_of(lambda f: 1.0), BANDS) - x).max() < 1e-12
    assert apply_sensor_mtf(x, None, BANDS) is x


def test_a_sinusoid_is_scaled_by_the_gain_at_its_frequency():
    size, cycles = 64, 16  # 0.25 cycle per pixel, along x
    wave = np.cos(2 * np.pi * cycles * np.arange(size) / size)[None, None, None, :] * np.ones((1, 4, size, 1))
    out = apply_sensor_mtf(0.1 + 0.01 * wave, spec_of(lambda f: 1.0 - 2 * f * f), BANDS)  # 0.875 at 0.25
    inner = out[..., 12:-12, 12:-12] - 0.1  # away from the rim, where the reflect padding's kink leaks
    np.testing.assert_allclose(inner, 0.00875 * wave[..., 12:-12, 12:-12] * np.ones_like(inner), atol=1e-4)


def test_a_fit_on_real_vs_real_plus_white_noise_removes_the_noise_power():
    rng = np.random.default_rng(2)
    real = smooth_patches(40, seed=1) + rng.normal(0, 0.0015, (40, 4, 64, 64))  # a sensor's own noise
    noisy = smooth_patches(40, seed=1) + rng.normal(0, 0.003, real.shape)  # same scenes, twice the noise

    spec = fit_sensor_mtf(real, noisy, BANDS)
    gain = np.array([spec["gain"][b] for b in BANDS])
    frequency = np.array(spec["frequency"])
    assert gain[:, 0].tolist() == [1.0] * 4, "the patch mean is kept"
    assert (np.abs(gain[:, (frequency >= 0.35) & (frequency <= 0.6)] - 0.5) < 0.1).all()
    assert (np.abs(gain[:, 1:4] - 1) < 0.1).all()
    fixed = apply_sensor_mtf(noisy, spec, BANDS)
    share = [high_frequency_share(x[:, :, :32, :32]) for x in (real, noisy, fixed)]
    assert (share[1] > 2 * share[0]).all(), "the test's noise must dominate the high frequencies"
    assert (np.abs(share[2] / share[0] - 1) < 0.2).all()
    same = fit_sensor_mtf(real, real.copy(), BANDS)
    assert all(g == 1.0 for b in BANDS for g in same["gain"][b]), "identical inputs give unit gains"


def test_generate_applies_the_cards_gains(teacher, tmp_path):
    folder, _, teacher_dir = teacher
    model = tmp_path / "model"
    shutil.copytree(teacher_dir, model)
    card = json.loads((model / "model_card.json").read_text())
    card["sensor_mtf"] = spec_of(lambda f: 1.0 if f < 0.15 else 0.2)
    (model / "model_card.json").write_text(json.dumps(card))
    common = {"patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / "maps"), "variations": 1}
    runs = {"plain": teacher_dir, "filtered": model, "again": model}
    for name, path in runs.items():
        generate(generate_params(**common, model=str(path), output_dir=str(tmp_path / name)), test_distill.REPORTER)
    plain, filtered, again = (test_distill.read_all(tmp_path / n) for n in runs)
    assert len(plain) == 6 and all(np.array_equal(filtered[k], again[k]) for k in plain), "bitwise the same"
    for key in plain:
        a, b = plain[key].astype(np.float64), filtered[key].astype(np.float64)
        assert (gradient_energy(b[None]) < 0.8 * gradient_energy(a[None])).all(), key
        # the mean is kept, up to the clip to the card's range (the tiny model saturates some pixels)
        assert (np.abs(a.mean(axis=(1, 2)) - b.mean(axis=(1, 2))) < 0.03 * a.mean(axis=(1, 2))).all()
        assert b.min() >= 0 and not np.array_equal(a, b)


@pytest.mark.parametrize("seamless", [False, True])
def test_held_classes_stay_as_sampled_under_the_gains(setup_hold, tmp_path, seamless):  # noqa: F811
    """A card that holds water (class_spectra) and has gains: water pixels are exactly the hold-only run's (the
    ellipsoid promise stays exact), the land around them is filtered."""
    folder, _, held, spec = setup_hold
    both = tmp_path / "both"
    shutil.copytree(held, both)
    card = json.loads((both / "model_card.json").read_text())
    card["sensor_mtf"] = spec_of(lambda f: 1.0 if f < 0.15 else 0.2)
    (both / "model_card.json").write_text(json.dumps(card))
    mode = {"seamless": seamless, "steps": 3}
    hold_only = run((folder, None, held), tmp_path / "hold", **mode)
    filtered = run((folder, None, both), tmp_path / "filtered", **mode)
    water_seen = 0
    for name, dn in hold_only.items():
        with rasterio.open(folder / "maps" / (name.split("_v")[0] + ".tif")) as src:
            water = np.all(src.read() == np.array(WATER)[:, None, None], axis=0)
        water_seen += int(water.sum())
        assert np.array_equal(filtered[name][:, water], dn[:, water]), name
        assert not np.array_equal(filtered[name][:, ~water], dn[:, ~water]), name
    assert water_seen > 0
