"""Few-step students (train-model --distill-from): the session's tiny pixel teacher and student (conftest.py) on
the CPU, then the student's card, its deterministic generation with STEPS 0 = the card's default, and the teachers
that are refused."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from mapsynth_backend.generate.command import generate
from mapsynth_backend.models import load_model
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError
from mapsynth_backend.train.command import train

sys.path.insert(0, str(Path(__file__).parent))
from test_models import generate_params, losses, train_params  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)


def distill(dataset, teacher_dir, out, **overrides):
    params = {
        "dataset": str(dataset),
        "distill_from": str(teacher_dir),
        "distill_steps": 2,
        "distill_substeps": 2,
        "validation_every": 2,
        "output_dir": str(out),
        **overrides,
    }
    return train(train_params(**params), REPORTER)


def test_distillation_trains_a_student_with_checkpoints_and_a_card(teacher, student):
    _, _, teacher_dir = teacher
    out, result = student
    assert result["steps"] == 4 and [s for s, _ in losses(out)] == [1, 2, 3, 4]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert (out / "validation" / "step-000002.png").is_file()
    card = json.loads((out / "model" / "model_card.json").read_text())
    teacher_card = json.loads((teacher_dir / "model_card.json").read_text())
    assert card["default_steps"] == 2 and card["default_guidance"] == 1.0 and "map_dropout" not in card
    assert card["distilled"]["teacher_guidance"] == teacher_card["guidance"] > 1
    assert card["distilled"]["teacher"] == "model" and card["distilled"]["teacher_ddim_steps"] == 4
    assert card["bands"] == teacher_card["bands"] and card["radiometry"] == teacher_card["radiometry"]
    assert list((out / "model").rglob("*.safetensors")) and not list((out / "model").rglob("*.bin"))
    a, b = load_model(teacher_dir).unet.state_dict(), load_model(out / "model").unet.state_dict()
    assert any(not np.array_equal(a[k].numpy(), b[k].numpy()) for k in a), "the student must have been trained"


def test_distillation_resumes_on_the_same_loss_curve(teacher, student, tmp_path):
    _, dataset, teacher_dir = teacher
    distill(dataset, teacher_dir, tmp_path, max_steps=2)
    distill(dataset, teacher_dir, tmp_path, resume="latest")
    assert losses(tmp_path) == losses(student[0])


def test_one_substep_without_guidance_starts_at_zero_loss(teacher, tmp_path):
    """The student starts as the teacher: one unguided teacher DDIM step is exactly what it already predicts, so
    the first loss is ~0 (this checks the DDIM target inversion); two guided substeps are not."""
    _, dataset, teacher_dir = teacher
    distill(dataset, teacher_dir, tmp_path / "one", distill_substeps=1, distill_guidance=1.0, max_steps=1)
    distill(dataset, teacher_dir, tmp_path / "two", max_steps=1)
    assert float(losses(tmp_path / "one")[0][1]) < 1e-8
    assert float(losses(tmp_path / "two")[0][1]) > 1e-4


def read_all(folder):
    return {p.name: rasterio.open(p).read() for p in sorted(folder.glob("r*_v*.tif"))}


def test_student_generates_deterministically_with_its_default_steps(teacher, student, tmp_path):
    folder, _, teacher_dir = teacher
    grid, maps = str(folder / "grid.gpkg"), str(folder / "maps")
    common = {"model": str(student[0] / "model"), "patch_grid": grid, "map_dir": maps}
    for name, steps in (("a", 0), ("b", 0), ("c", 2), ("d", 3)):
        generate(generate_params(**common, steps=steps, output_dir=str(tmp_path / name)), REPORTER)
    a, b, c, d = (read_all(tmp_path / n) for n in "abcd")
    assert len(a) == 12 and all(np.array_equal(a[k], b[k]) for k in a), "same inputs, bitwise the same output"
    assert all(np.array_equal(a[k], c[k]) for k in a), "STEPS 0 must be the card's default_steps (2)"
    assert any(not np.array_equal(a[k], d[k]) for k in a)
    details = json.loads((tmp_path / "a" / "mapsynth_output.json").read_text())["details"]
    assert details["steps"] == 2 and details["guidance"] == 1.0
    common["model"] = str(teacher_dir)
    generate(generate_params(**common, steps=0, output_dir=str(tmp_path / "t")), REPORTER)
    details = json.loads((tmp_path / "t" / "mapsynth_output.json").read_text())["details"]
    assert details["steps"] == 20 and details["guidance"] > 1, "a card without default_steps: 20, its guidance"


def edited_teacher(teacher_dir: Path, folder: Path, **changes) -> Path:
    copy = folder / "edited"
    shutil.copytree(teacher_dir, copy)
    card = json.loads((copy / "model_card.json").read_text())
    (copy / "model_card.json").write_text(json.dumps({**card, **changes}))
    return copy


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"family": "controlnet-sd15"}, "is a controlnet-sd15 model; distillation trains pixel students"),
        ({"bands": ["B02", "B03", "B04"]}, "the teacher's bands .* differ from the dataset's"),
    ],
)
def test_a_teacher_of_another_family_or_band_set_is_refused(teacher, tmp_path, changes, message):
    _, dataset, teacher_dir = teacher
    with pytest.raises(UserError, match=message):
        distill(dataset, edited_teacher(teacher_dir, tmp_path, **changes), tmp_path / "out")
    assert not (tmp_path / "out" / "model").exists()


def test_the_cli_refuses_an_uneven_grid_in_one_line(teacher, run_job):
    _, dataset, teacher_dir = teacher
    params = {"dataset": str(dataset), "distill_from": str(teacher_dir), "distill_steps": 3, "output_dir": "o"}
    code, events, log = run_job("train-model", params)
    errors = [e for e in events if e.get("type") == "error"]
    assert code == 1 and len(errors) == 1 and "DISTILL_STEPS x DISTILL_SUBSTEPS = 6" in errors[0]["message"]


def test_resuming_a_finished_run_saves_its_model_again(teacher, student, tmp_path):
    _, dataset, teacher_dir = teacher
    shutil.copytree(student[0], tmp_path / "again")
    shutil.rmtree(tmp_path / "again" / "model")
    result = distill(dataset, teacher_dir, tmp_path / "again", resume="latest")
    assert result["steps"] == 4 and result["final_loss"] == float(losses(student[0])[-1][1])
    a, b = (
        load_model(student[0] / "model").unet.state_dict(),
        load_model(tmp_path / "again" / "model").unet.state_dict(),
    )
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_student_generates_seamless_with_its_default_steps(teacher, student, tmp_path):
    """Joint (SEAMLESS) denoising, make demo's mode, runs the student's DDIM grid: deterministic, STEPS 0 = 2."""
    folder, _, _ = teacher
    common = {"model": str(student[0] / "model"), "patch_grid": str(folder / "grid.gpkg"),
              "map_dir": str(folder / "maps"), "variations": 1, "seamless": True}
    for name, steps in (("a", 0), ("b", 2), ("c", 3)):
        generate(generate_params(**common, steps=steps, output_dir=str(tmp_path / name)), REPORTER)
    a, b, c = (read_all(tmp_path / n) for n in "abc")
    assert len(a) == 6 and all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    details = json.loads((tmp_path / "a" / "mapsynth_output.json").read_text())["details"]
    assert details["steps"] == 2 and details["seamless"] is True
