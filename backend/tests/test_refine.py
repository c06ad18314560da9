"""The teacher's low-noise pass after a few-step student (model card ``refiner``, models/refine.py): the DDIM step
against its closed form, and a tiny student refined by its tiny teacher in generate, per patch and seamless."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mapsynth_backend.generate.command import generate
from mapsynth_backend.models import load_model
from mapsynth_backend.models.refine import RefineSchedule, fresh_noise
from mapsynth_backend.runtime.protocol import UserError

sys.path.insert(0, str(Path(__file__).parent))
import test_distill  # noqa: E402
from test_models import generate_params  # noqa: E402

REPORTER, read_all = test_distill.REPORTER, test_distill.read_all

ALPHAS = torch.cos(torch.linspace(0.01, 1.5, 1000, dtype=torch.float64)) ** 2  # any decreasing alpha_bar


@pytest.mark.parametrize(("start", "steps"), [(24, 1), (49, 2), (99, 4)])
def test_with_the_true_velocity_the_schedule_lands_on_x0_exactly(start, steps):
    """v = sqrt(a) eps - sqrt(1 - a) x0 at every step: DDIM (eta 0) must return x0 whatever the grid."""
    gen = torch.Generator().manual_seed(start)
    x0, eps = torch.randn(2, 3, 8, 8, generator=gen, dtype=torch.float64), torch.randn(2, 3, 8, 8, generator=gen,
                                                                                        dtype=torch.float64)
    schedule = RefineSchedule(ALPHAS, start, steps)
    assert int(schedule.timesteps[0]) == start and len(schedule.timesteps) == steps
    assert all(int(a) > int(b) >= 0 for a, b in zip(schedule.timesteps[:-1], schedule.timesteps[1:], strict=True))
    a = ALPHAS[start]
    x = a.sqrt() * x0 + (1 - a).sqrt() * eps
    for t in schedule.timesteps:
        at = ALPHAS[int(t)]
        v = at.sqrt() * eps - (1 - at).sqrt() * x0
        x = schedule.step(v, t, x).prev_sample
    torch.testing.assert_close(x, x0, rtol=0, atol=1e-12)


def test_fresh_noise_depends_only_on_the_item():
    a, b = torch.randn(4, 16, 16), torch.randn(4, 16, 16)
    assert torch.equal(fresh_noise(a), fresh_noise(a.clone()))
    assert not torch.equal(fresh_noise(a), fresh_noise(b))
    drawn = fresh_noise(torch.randn(4, 64, 64))
    assert abs(float(drawn.mean())) < 0.03 and abs(float(drawn.std()) - 1) < 0.03
    assert abs(float(torch.corrcoef(torch.stack([drawn.flatten(), a.repeat(1, 4, 4).flatten()]))[0, 1])) < 0.03


def refined_student(student_dir: Path, teacher_dir: Path, folder: Path, **spec) -> Path:
    """A copy of the student whose card names the teacher (by a relative path) as its refiner."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(teacher_dir, folder / "teacher")
    target = folder / "student"
    shutil.copytree(student_dir, target)
    card = json.loads((target / "model_card.json").read_text())
    card["refiner"] = {"model": "../teacher", "start": 24, "steps": 1, **spec}
    (target / "model_card.json").write_text(json.dumps(card))
    return target


def test_a_refined_student_generates_deterministically_and_differs_from_the_plain_one(teacher, student, tmp_path):
    folder, _, teacher_dir = teacher
    refined = refined_student(student[0] / "model", teacher_dir, tmp_path / "models")
    common = {"patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / "maps"), "variations": 1}
    runs = {"plain": student[0] / "model", "refined": refined, "again": refined}
    for name, model in runs.items():
        generate(generate_params(**common, model=str(model), output_dir=str(tmp_path / name)), REPORTER)
    plain, first, again = (read_all(tmp_path / n) for n in runs)
    assert len(first) == 6 and all(np.array_equal(first[k], again[k]) for k in first), "bitwise the same"
    assert all(not np.array_equal(first[k], plain[k]) for k in first), "the refiner must change every patch"
    # batch size 1 vs the default: each item's re-noising is its own, so the patches are the same
    generate(generate_params(**common, model=str(refined), batch_size=1, output_dir=str(tmp_path / "one")), REPORTER)
    one = read_all(tmp_path / "one")
    assert all(np.abs(one[k].astype(int) - first[k].astype(int)).max() <= 1 for k in first)


def test_a_refined_student_runs_seamless(teacher, student, tmp_path):
    folder, _, teacher_dir = teacher
    refined = refined_student(student[0] / "model", teacher_dir, tmp_path / "models", start=49, steps=2)
    common = {"patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / "maps"), "variations": 1,
              "seamless": True}
    for name, model in (("plain", student[0] / "model"), ("refined", refined)):
        generate(generate_params(**common, model=str(model), output_dir=str(tmp_path / name)), REPORTER)
    plain, refined_out = read_all(tmp_path / "plain"), read_all(tmp_path / "refined")
    assert len(refined_out) == 6 and any(not np.array_equal(refined_out[k], plain[k]) for k in plain)


def test_a_missing_or_mismatched_refiner_is_one_clear_error(teacher, student, tmp_path):
    _, _, teacher_dir = teacher
    refined = refined_student(student[0] / "model", teacher_dir, tmp_path / "models")
    shutil.rmtree(tmp_path / "models" / "teacher")
    with pytest.raises(UserError, match="which is missing at .*keep the two model folders side by side"):
        load_model(refined)
    other = refined_student(student[0] / "model", teacher_dir, tmp_path / "other")
    card = json.loads((tmp_path / "other" / "teacher" / "model_card.json").read_text())
    (tmp_path / "other" / "teacher" / "model_card.json").write_text(json.dumps({**card, "patch_size": 999}))
    with pytest.raises(UserError, match="differs from .* in 'patch_size'"):
        load_model(other)
