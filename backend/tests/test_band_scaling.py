"""Per-band data scaling (train-model --data-scaling std): measured on the training split's valid pixels only, it
gives each band mean 0 and spread 0.5 in the space the model diffuses in; the loss diffuses the scaled targets,
sampling returns model units, and a training run records it in the card and generates with it."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mapsynth_backend.models import load_model
from mapsynth_backend.models.band_scaling import SPREAD, from_diffusion, measure_band_scaling, to_diffusion
from mapsynth_backend.runtime.protocol import UserError
from mapsynth_backend.train.command import train
from mapsynth_backend.train.data import load_pair, read_dataset

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid  # noqa: E402
from test_models import REPORTER, train_params  # noqa: E402

BANDS = ["B02", "B03", "B04", "B08"]


def test_the_scaling_centres_each_band_at_spread_one_half_over_valid_pixels():
    rng = np.random.default_rng(0)
    targets = []
    for _ in range(3):
        target = rng.normal([-0.6, -0.4, -0.5, 0.1], [0.05, 0.08, 0.1, 0.3], size=(8, 8, 4)).transpose(2, 0, 1)
        valid = rng.random((8, 8)) > 0.2
        target[:, ~valid] = 50.0  # an invalid pixel's value must not reach the measure
        targets.append((target.astype(np.float32), valid))
    scaling = measure_band_scaling(targets, BANDS)
    card = {"band_scaling": scaling}
    pixels = np.concatenate([t[:, v] for t, v in targets], axis=1)
    scaled = to_diffusion(card, torch.tensor(pixels, dtype=torch.float64)[None, :, :, None]).numpy()[0, :, :, 0]
    np.testing.assert_allclose(scaled.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(scaled.std(axis=1), SPREAD, rtol=1e-4)
    back = from_diffusion(card, to_diffusion(card, torch.tensor(targets[0][0], dtype=torch.float64)))
    np.testing.assert_allclose(back.numpy(), targets[0][0], atol=1e-6)
    assert to_diffusion({}, torch.ones(2)) is not None and torch.equal(to_diffusion({}, torch.ones(2)), torch.ones(2))
    flat = [(np.zeros((4, 2, 2), np.float32), np.ones((2, 2), bool))]
    with pytest.raises(UserError, match="^DATA_SCALING: band"):
        measure_band_scaling(flat, BANDS)


def test_whitening_decorrelates_the_bands_and_the_networks_errors_come_back_with_the_bands_covariance():
    rng = np.random.default_rng(1)
    mixing = np.array([[0.05, 0.0, 0.0, 0.0], [0.06, 0.02, 0.0, 0.0], [0.09, 0.01, 0.02, 0.0], [-0.1, 0.0, 0.0, 0.3]])
    pixels = (mixing @ rng.normal(size=(4, 4096)) + np.array([[-0.6], [-0.4], [-0.5], [0.1]])).astype(np.float32)
    targets = [(pixels.reshape(4, 64, 64), np.ones((64, 64), bool))]
    scaling = measure_band_scaling(targets, BANDS, "whiten")
    card = {"band_scaling": scaling}
    diffused = to_diffusion(card, torch.tensor(pixels, dtype=torch.float64)[None, :, :, None]).numpy()[0, :, :, 0]
    np.testing.assert_allclose(np.cov(diffused, bias=True), SPREAD**2 * np.eye(4), atol=2e-5)  # decorrelated
    np.testing.assert_allclose(diffused.mean(axis=1), 0, atol=1e-4)
    back = from_diffusion(card, to_diffusion(card, torch.tensor(targets[0][0], dtype=torch.float64)))
    np.testing.assert_allclose(back.numpy(), targets[0][0], atol=1e-5)  # (B, bands, H, W) and (bands, H, W) alike
    errors = (
        from_diffusion(card, torch.randn(1, 4, 256, 256, dtype=torch.float64))
        - torch.tensor(scaling["center"], dtype=torch.float64)[None, :, None, None]
    )
    real_r = np.corrcoef(pixels)
    error_r = np.corrcoef(errors.numpy()[0].reshape(4, -1))
    np.testing.assert_allclose(error_r, real_r, atol=0.02)  # the bands' correlations, not independent errors
    per_band = from_diffusion({"band_scaling": measure_band_scaling(targets, BANDS)}, torch.randn(1, 4, 256, 256))
    assert abs(np.corrcoef(per_band.numpy()[0].reshape(4, -1))[0, 2]) < 0.02  # std: independent noise stays so
    with pytest.raises(UserError, match="^DATA_SCALING: the bands are linearly dependent"):
        measure_band_scaling([(np.stack([pixels[0]] * 4).reshape(4, 64, 64), np.ones((64, 64), bool))], BANDS, "whiten")


@pytest.fixture(scope="module")
def scaled_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("band-scaling")
    dataset = make_dataset(folder, make_grid(folder / "grid.gpkg", 2, 3, 16))
    common = {"dataset": str(dataset), "family": "pixel", "preset": "tiny", "max_steps": 2}
    train(train_params(**common, output_dir=str(folder / "s"), data_scaling="std"), REPORTER)
    return dataset, folder / "s" / "model", common


def test_training_records_the_training_splits_scaling_and_the_model_diffuses_in_it(scaled_run, tmp_path):
    dataset, model_dir, common = scaled_run
    card = json.loads((model_dir / "model_card.json").read_text())
    splits, radiometry, _ = read_dataset(dataset)
    from mapsynth_backend.radiometry import ClipRange

    clip = ClipRange(*(np.array([radiometry["clip"][b][i] for b in radiometry["bands"]]) for i in (0, 1)))
    pairs = [load_pair(row, "pixel", clip) for row in splits["train"]]
    assert card["band_scaling"] == measure_band_scaling(
        [(p["target"].numpy(), p["valid"].numpy()[0]) for p in pairs], radiometry["bands"]
    )
    assert card["training"]["data_scaling"] == "std"
    # the loss is the plain loss of the scaled targets (same noise and timesteps)
    model = load_model(model_dir)
    batch = {key: torch.stack([p[key] for p in pairs[:2]]) for key in ("target", "valid", "map")}
    scaled = model.loss(batch, model.train_scheduler(), torch.Generator().manual_seed(3))
    plain_card = {k: v for k, v in model.card.items() if k != "band_scaling"}
    model.card, plain_card = plain_card, model.card
    shifted = {**batch, "target": to_diffusion(plain_card, batch["target"])}
    assert torch.equal(scaled, model.loss(shifted, model.train_scheduler(), torch.Generator().manual_seed(3)))
    # sampling diffuses the same noise through the same weights and returns from_diffusion of the result: a centre
    # shifts the output by itself, a scale divides it (where nothing is clamped at the edge of [-1, 1])
    noise = {"bands": torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(1))}
    maps = batch["map"][:1]

    def sampled(center, scale):
        model.card = {**plain_card, "band_scaling": {"center": [center] * 4, "scale": [scale] * 4}}
        return model.sample(maps, noise, 2)["bands"]

    model.card = {k: v for k, v in plain_card.items() if k != "band_scaling"}
    plain = model.sample(maps, noise, 2)["bands"]
    assert torch.equal(sampled(0.0, 1.0), plain)
    inside = plain.abs() < 0.5
    assert inside.float().mean() > 0.2
    assert torch.allclose(sampled(0.25, 1.0)[inside], plain[inside] + 0.25, atol=1e-6)
    assert torch.allclose(sampled(0.0, 2.0)[inside] * 2, plain[inside], atol=1e-6)
    with pytest.raises(UserError, match="^DATA_SCALING:"):
        train(train_params(**common, output_dir=str(tmp_path / "x"), data_scaling="std", base_model=str(model_dir)),
              REPORTER)  # fmt: skip


def test_fine_tuning_keeps_the_base_models_scaling(scaled_run, tmp_path):
    dataset, model_dir, common = scaled_run
    train(train_params(**common, output_dir=str(tmp_path / "t"), base_model=str(model_dir)), REPORTER)
    tuned = json.loads((tmp_path / "t" / "model" / "model_card.json").read_text())
    assert tuned["band_scaling"] == json.loads((model_dir / "model_card.json").read_text())["band_scaling"]


def test_a_student_and_its_refiner_diffuse_in_the_teachers_space(scaled_run, tmp_path):
    """Distillation copies the teacher's scaling into the student's card (the student learns the teacher's
    velocities in that space); a refiner that diffuses in another space is refused when the student loads."""
    import shutil

    from test_distill import distill

    dataset, model_dir, _ = scaled_run
    distill(dataset, model_dir, tmp_path / "student", max_steps=2)
    teacher_card = json.loads((model_dir / "model_card.json").read_text())
    card = json.loads((tmp_path / "student" / "model" / "model_card.json").read_text())
    assert card["band_scaling"] == teacher_card["band_scaling"]
    shutil.copytree(model_dir, tmp_path / "teacher")
    card["refiner"] = {"model": "../../teacher", "start": 24, "steps": 1}
    (tmp_path / "student" / "model" / "model_card.json").write_text(json.dumps(card))
    assert load_model(tmp_path / "student" / "model").refiner is not None
    teacher_card.pop("band_scaling")
    (tmp_path / "teacher" / "model_card.json").write_text(json.dumps(teacher_card))
    with pytest.raises(UserError, match="differs from .* in 'band_scaling'"):
        load_model(tmp_path / "student" / "model")


def test_inpaintings_known_pixels_enter_the_scaled_space(scaled_run):
    """inpaint_scenario blends the base image's known pixels into the sample at every step: in a scaled model they
    must be in the space it diffuses in, i.e. sampling's own inverse (from_diffusion) gives them back."""
    _, model_dir, _ = scaled_run
    model = load_model(model_dir)
    unit = np.random.default_rng(1).random((4, 16, 16)).astype(np.float32)
    known = model.known_values(unit)["bands"]
    assert not torch.allclose(known, torch.from_numpy(unit * 2 - 1))
    np.testing.assert_allclose(from_diffusion(model.card, known).numpy(), unit * 2 - 1, atol=1e-5)


def test_a_whitened_run_records_its_matrix_and_samples_in_model_units(tmp_path):
    dataset = make_dataset(tmp_path, make_grid(tmp_path / "grid.gpkg", 2, 3, 16))
    common = {"dataset": str(dataset), "family": "pixel", "preset": "tiny", "max_steps": 2}
    train(train_params(**common, output_dir=str(tmp_path / "w"), data_scaling="whiten"), REPORTER)
    model = load_model(tmp_path / "w" / "model")
    scaling = model.card["band_scaling"]
    assert scaling["method"] == "whiten" and np.asarray(scaling["matrix"]).shape == (4, 4)
    assert np.allclose(scaling["matrix"], np.transpose(scaling["matrix"]))  # ZCA: symmetric
    maps = torch.zeros(1, 3, 16, 16)
    noise = {"bands": torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(1))}
    bands = model.sample(maps, noise, 2)["bands"]
    assert bands.shape == (1, 4, 16, 16) and bool(torch.isfinite(bands).all()) and float(bands.abs().max()) <= 1
