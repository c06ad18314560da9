"""Pixel-model samplers (model card ``sampler``) and min-SNR loss weighting (train-model SNR_GAMMA): stochastic
samplers stay deterministic per item whatever the batch, an unknown sampler is one clear error, and the weighted
loss equals the unweighted one times min(SNR, gamma) / (SNR + 1) computed here from the noise schedule."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mapsynth_backend.generate.command import generate
from mapsynth_backend.models import load_model
from mapsynth_backend.runtime.protocol import UserError

sys.path.insert(0, str(Path(__file__).parent))
import test_distill  # noqa: E402
from test_models import generate_params  # noqa: E402

REPORTER, read_all = test_distill.REPORTER, test_distill.read_all


def with_sampler(model_dir: Path, folder: Path, sampler: str) -> Path:
    shutil.copytree(model_dir, folder)
    card = json.loads((folder / "model_card.json").read_text())
    card["sampler"] = sampler
    (folder / "model_card.json").write_text(json.dumps(card))
    return folder


@pytest.mark.parametrize("sampler", ["sde-dpmsolver++", "ddim-eta1", "sde-dpmsolver++-logsnr"])
def test_a_stochastic_sampler_is_deterministic_per_item_whatever_the_batch(teacher, tmp_path, sampler):
    folder, _, teacher_dir = teacher
    model = with_sampler(teacher_dir, tmp_path / "model", sampler)
    common = {"patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / "maps"), "variations": 1, "steps": 4}
    runs = {"ode": (teacher_dir, 8), "first": (model, 8), "again": (model, 8), "single": (model, 1)}
    for name, (path, batch) in runs.items():
        generate(generate_params(**common, model=str(path), batch_size=batch, output_dir=str(tmp_path / name)),
                 REPORTER)
    ode, first, again, single = (read_all(tmp_path / n) for n in runs)
    assert len(first) == 6 and all(np.array_equal(first[k], again[k]) for k in first), "bitwise the same"
    # the injected noise is the item's own: a batch of one gives the same patch (up to convolution rounding)
    assert all(np.abs(single[k].astype(int) - first[k].astype(int)).max() <= 1 for k in first)
    assert all(not np.array_equal(first[k], ode[k]) for k in first), "the injected noise must change every patch"


def test_a_stochastic_sampler_runs_seamless(teacher, tmp_path):
    folder, _, teacher_dir = teacher
    model = with_sampler(teacher_dir, tmp_path / "model", "sde-dpmsolver++")
    common = {"patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / "maps"), "variations": 1,
              "seamless": True, "steps": 3}
    for name in ("a", "b"):
        generate(generate_params(**common, model=str(model), output_dir=str(tmp_path / name)), REPORTER)
    a, b = read_all(tmp_path / "a"), read_all(tmp_path / "b")
    assert len(a) == 6 and all(np.array_equal(a[k], b[k]) for k in a)


def test_the_log_snr_samplers_step_evenly_in_log_snr(teacher, tmp_path):
    """'-logsnr': the solver's noise levels are evenly spaced in log-SNR, computed here from the training schedule's
    alphas, so more steps fall at low noise than with the timestep grid (which is not even in log-SNR)."""
    _, _, teacher_dir = teacher
    alphas = load_model(teacher_dir).train_scheduler().alphas_cumprod.double()

    def levels(sampler: str) -> tuple[np.ndarray, np.ndarray]:
        model = load_model(with_sampler(teacher_dir, tmp_path / sampler, sampler))
        scheduler = model._sampler(12)
        sigmas = scheduler.sigmas[:-1].double().numpy()  # the last is 0 (the clean image)
        return -np.log(sigmas), scheduler.timesteps.numpy()

    found = {name: levels(name) for name in ("dpmsolver++-logsnr", "sde-dpmsolver++-logsnr", "dpmsolver++")}
    for name in ("dpmsolver++-logsnr", "sde-dpmsolver++-logsnr"):
        log_snr, timesteps = found[name]
        steps = np.diff(log_snr)
        assert np.allclose(steps, steps[0], rtol=1e-3) and steps[0] > 0, steps
        # the UNet sees each level's nearest integer timestep; below t=900 (where detail forms) it is a close match
        low = timesteps < 900
        alpha = alphas[torch.as_tensor(timesteps[low])].numpy()
        assert low.sum() >= 6 and np.abs(0.5 * np.log(alpha / (1 - alpha)) - log_snr[low]).max() < 0.1
    plain_log_snr, plain_t = found["dpmsolver++"]
    assert not np.allclose(np.diff(plain_log_snr), np.diff(plain_log_snr)[0], rtol=0.1)
    assert (found["dpmsolver++-logsnr"][1] < 100).sum() > (plain_t < 100).sum()


def test_an_unknown_sampler_is_one_clear_error(teacher, tmp_path):
    _, _, teacher_dir = teacher
    model = load_model(with_sampler(teacher_dir, tmp_path / "model", "euler-maybe"))
    maps = torch.zeros(1, 3, 16, 16)
    with pytest.raises(UserError, match="unknown sampler 'euler-maybe'.*one of dpmsolver\\+\\+"):
        model.sample(maps, {"bands": torch.randn(1, 4, 16, 16)}, 2)


@pytest.mark.parametrize("gamma", [1.0, 5.0])
def test_min_snr_weighting_matches_its_closed_form(teacher, gamma):
    _, _, teacher_dir = teacher
    model = load_model(teacher_dir)
    model.card["map_dropout"] = 0.0  # no map-free draws: the generator's draws are noise, then timesteps
    scheduler = model.train_scheduler()
    alphas = scheduler.alphas_cumprod.double()
    gen = torch.Generator().manual_seed(7)
    batch = {"target": torch.rand(1, 4, 16, 16) * 2 - 1, "map": torch.rand(1, 3, 16, 16) * 2 - 1,
             "valid": torch.ones(1, 1, 16, 16)}
    for seed in range(6):
        replay = torch.Generator().manual_seed(seed)
        torch.randn(batch["target"].shape, generator=replay)
        t = int(torch.randint(0, 1000, (1,), generator=replay))
        snr = float(alphas[t] / (1 - alphas[t]))
        with torch.no_grad():
            model.snr_gamma = 0.0
            plain = float(model.loss(batch, scheduler, gen.manual_seed(seed)))
            model.snr_gamma = gamma
            weighted = float(model.loss(batch, scheduler, gen.manual_seed(seed)))
        assert weighted == pytest.approx(plain * min(snr, gamma) / (snr + 1), rel=1e-5), (t, snr)


def test_min_snr_is_refused_for_distillation_in_one_line(teacher, run_job, tmp_path):
    """SNR_GAMMA weights the denoising loss of a pixel model; a distillation's loss is the teacher's target, so the
    option is refused with one error line (exit 1) and no model is saved."""
    _, dataset, teacher_dir = teacher
    params = {"dataset": str(dataset), "distill_from": str(teacher_dir), "distill_steps": 2, "snr_gamma": 5.0,
              "output_dir": "o"}  # fmt: skip
    code, events, _log = run_job("train-model", params)
    errors = [e for e in events if e.get("type") == "error"]
    assert code == 1 and len(errors) == 1 and errors[0]["message"].startswith("SNR_GAMMA:"), errors
    assert "\n" not in errors[0]["message"]
    assert not (tmp_path / "job-train-model" / "o" / "model").exists()
