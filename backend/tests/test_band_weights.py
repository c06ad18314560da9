"""Per-band loss weights (train-model --band-weights): the gradient weighting is the inverse of each band's
pixel-to-pixel variation over valid pixel pairs, the pixel loss weights each band's error by it, and a training run
computes it from the training split only and records it in the model card."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mapsynth_backend.runtime.protocol import UserError
from mapsynth_backend.train.band_weights import band_weights, gradient_energy, parse_band_weights
from mapsynth_backend.train.command import train
from mapsynth_backend.train.data import load_pair, read_dataset

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid  # noqa: E402
from test_models import REPORTER, train_params  # noqa: E402

BANDS = ["B02", "B03", "B04", "B08"]


def test_gradient_energy_counts_only_pairs_of_valid_pixels():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(2, 6, 5))
    valid = np.ones((6, 5), bool)
    valid[2, 3] = False
    target[:, 2, 3] = 1e6  # an invalid pixel's value must not reach the measure
    pairs = [
        (target[:, r, c] - target[:, r2, c2]) ** 2
        for r in range(6)
        for c in range(5)
        for r2, c2 in ((r + 1, c), (r, c + 1))
        if r2 < 6 and c2 < 5 and valid[r, c] and valid[r2, c2]
    ]
    assert len(pairs) == 5 * 5 + 6 * 4 - 4  # the invalid pixel has four neighbours
    np.testing.assert_allclose(gradient_energy([(target, valid)], 2), np.mean(pairs, axis=0), rtol=1e-12)


def test_gradient_weights_equalise_the_bands_and_explicit_ones_are_checked():
    rng = np.random.default_rng(1)
    amplitude = np.array([0.5, 0.5, 1.0, 2.0])
    targets = [(rng.normal(size=(4, 32, 32)) * amplitude[:, None, None], np.ones((32, 32))) for _ in range(4)]
    weights = band_weights("gradient", BANDS, targets)
    assert np.mean(list(weights.values())) == pytest.approx(1, abs=1e-5)
    weighted = gradient_energy(targets, 4) * np.array([weights[b] for b in BANDS])
    np.testing.assert_allclose(weighted, weighted.mean(), rtol=1e-4)  # every band's variation now counts alike
    assert weights["B02"] == pytest.approx(16 * weights["B08"], rel=0.1)  # half the amplitude: 4x, squared
    assert band_weights("none", BANDS, targets) is None
    explicit = band_weights("B02:3", BANDS, targets)
    assert explicit == pytest.approx({"B02": 2.0, "B03": 2 / 3, "B04": 2 / 3, "B08": 2 / 3}, abs=1e-6)
    for bad in ("B05:2", "B02:0", "B02:x", "loud"):
        with pytest.raises(UserError, match="^BAND_WEIGHTS:"):
            parse_band_weights(bad, BANDS)


def test_the_pixel_loss_weights_each_bands_error(teacher):
    from mapsynth_backend.models import load_model

    _, _, teacher_dir = teacher
    model = load_model(teacher_dir)
    model.card["map_dropout"] = 0.0
    scheduler = model.train_scheduler()
    batch = {"target": torch.rand(2, 4, 16, 16) * 2 - 1, "map": torch.rand(2, 3, 16, 16) * 2 - 1,
             "valid": torch.ones(2, 1, 16, 16)}  # fmt: skip
    per_band = []
    with torch.no_grad():
        for band in BANDS:  # the loss with one band weighted 4 and the rest 0 is 4 x that band's share
            model.card["band_loss_weights"] = {b: 4.0 if b == band else 0.0 for b in BANDS}
            per_band.append(float(model.loss(batch, scheduler, torch.Generator().manual_seed(3))))
        model.card["band_loss_weights"] = {"B02": 1.0, "B03": 2.0, "B04": 0.5, "B08": 0.5}
        mixed = float(model.loss(batch, scheduler, torch.Generator().manual_seed(3)))
        model.card.pop("band_loss_weights")
        plain = float(model.loss(batch, scheduler, torch.Generator().manual_seed(3)))
    assert sum(per_band) / 4 == pytest.approx(plain, rel=1e-5)
    assert mixed == pytest.approx((per_band[0] + 2 * per_band[1] + 0.5 * per_band[2] + 0.5 * per_band[3]) / 4, rel=1e-5)
    assert len({round(v, 6) for v in per_band}) == 4, per_band


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("band-weights")
    return make_dataset(folder, make_grid(folder / "grid.gpkg", 2, 3, 16))


def test_training_records_the_weights_of_the_training_split(dataset, tmp_path):
    common = {"dataset": str(dataset), "family": "pixel", "preset": "tiny", "max_steps": 2}
    train(train_params(**common, output_dir=str(tmp_path / "w"), band_weights="gradient"), REPORTER)
    train(train_params(**common, output_dir=str(tmp_path / "p")), REPORTER)
    card = json.loads((tmp_path / "w" / "model" / "model_card.json").read_text())
    splits, radiometry, _ = read_dataset(dataset)
    from mapsynth_backend.radiometry import ClipRange

    clip = ClipRange(*(np.array([radiometry["clip"][b][i] for b in radiometry["bands"]]) for i in (0, 1)))
    pairs = [load_pair(row, "pixel", clip) for row in splits["train"]]
    expected = band_weights("gradient", radiometry["bands"],
                            [(p["target"].numpy(), p["valid"].numpy()[0]) for p in pairs])  # fmt: skip
    assert card["band_loss_weights"] == expected and card["training"]["band_weights"] == "gradient"
    held_out = [load_pair(row, "pixel", clip) for row in splits["validation"] + splits["test"]]
    assert held_out, "the fixture has no held-out pairs to tell the splits apart"
    everything = band_weights("gradient", radiometry["bands"],
                              [(p["target"].numpy(), p["valid"].numpy()[0]) for p in pairs + held_out])  # fmt: skip
    assert everything != expected  # the held-out patches would have changed them
    plain = json.loads((tmp_path / "p" / "model" / "model_card.json").read_text())
    assert "band_loss_weights" not in plain and plain["training"]["band_weights"] == "none"
    with pytest.raises(UserError, match="^BAND_WEIGHTS:"):
        train(train_params(**common, output_dir=str(tmp_path / "x"), band_weights="B09:2"), REPORTER)
