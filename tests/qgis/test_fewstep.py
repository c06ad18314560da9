"""Few-step students through QGIS Processing (issue 22): train_model's DISTILL_* parameters reach the backend,
and generate_patches with STEPS 0 (its default) takes the student card's default steps."""

import json

import pytest


def test_distillation_parameters_reach_the_backend_and_steps_0_is_the_card_default(trained, run_alg, tmp_path):
    teacher = trained["training"]["MODEL_DIR"]
    result = run_alg("train_model", {"DATASET": str(trained["root"] / "dataset"), "MAX_STEPS": 2, "BATCH_SIZE": 2,
                                     "VALIDATION_EVERY": 0, "DISTILL_FROM": teacher, "DISTILL_STEPS": 4,
                                     "DISTILL_SUBSTEPS": 5, "DISTILL_GUIDANCE": 1.5, "OUTPUT_DIR": str(tmp_path / "s")})
    card = json.loads((tmp_path / "s" / "model" / "model_card.json").read_text())
    assert card["default_steps"] == 4 and card["distilled"]["substeps"] == 5
    assert card["distilled"]["teacher_ddim_steps"] == 20 and card["distilled"]["teacher_created"] == trained["card"][
        "created"]
    generated = tmp_path / "generated"
    run_alg("generate_patches", {"MODEL": result["MODEL_DIR"], "PATCH_GRID": trained["grid"]["OUTPUT"],
                                 "MAP_DIR": str(trained["root"] / "maps"), "VARIATIONS": 1,
                                 "OUTPUT_DIR": str(generated)})
    details = json.loads((generated / "mapsynth_output.json").read_text())["details"]
    assert details["steps"] == 4 and details["guidance"] == 1.0


def test_an_uneven_distillation_grid_is_one_clear_error(trained, run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="DISTILL_STEPS x DISTILL_SUBSTEPS = 21 must divide"):
        run_alg("train_model", {"DATASET": str(trained["root"] / "dataset"), "MAX_STEPS": 1, "BATCH_SIZE": 2,
                                "DISTILL_FROM": trained["training"]["MODEL_DIR"], "DISTILL_STEPS": 7,
                                "DISTILL_SUBSTEPS": 3, "OUTPUT_DIR": str(tmp_path / "s")})
    assert not (tmp_path / "s" / "model").exists()


def test_per_class_guidance_reaches_the_backend_in_generation_and_distillation(trained, run_alg, tmp_path):
    """Per-class guidance (water=1.75) from Processing: generate_patches records it, a distillation folds it in
    (its card says so), and the student, without a map-free branch, refuses it in one line."""
    import shutil

    from qgis.core import QgsProcessingException

    teacher = tmp_path / "teacher"  # the session's tiny model, with a map-free branch by its card (map dropout)
    shutil.copytree(trained["training"]["MODEL_DIR"], teacher)
    (teacher / "model_card.json").write_text(json.dumps({**trained["card"], "map_dropout": 0.1}))
    teacher = str(teacher)
    common = {"PATCH_GRID": trained["grid"]["OUTPUT"], "MAP_DIR": str(trained["root"] / "maps"), "VARIATIONS": 1,
              "STEPS": 2}
    run_alg("generate_patches", {"MODEL": teacher, **common, "CLASS_GUIDANCE": "water=1.75",
                                 "CLASS_GUIDANCE_MARGIN": 3, "OUTPUT_DIR": str(tmp_path / "g")})
    details = json.loads((tmp_path / "g" / "mapsynth_output.json").read_text())["details"]
    assert details["class_guidance"] == {"water": 1.75} and details["class_guidance_margin"] == 3
    with pytest.raises(QgsProcessingException, match="CLASS_GUIDANCE: 'lake' is no semantic-palette class"):
        run_alg("generate_patches", {"MODEL": teacher, **common, "CLASS_GUIDANCE": "lake=2",
                                     "OUTPUT_DIR": str(tmp_path / "bad")})
    result = run_alg("train_model", {"DATASET": str(trained["root"] / "dataset"), "MAX_STEPS": 1, "BATCH_SIZE": 2,
                                     "VALIDATION_EVERY": 0, "DISTILL_FROM": teacher, "DISTILL_STEPS": 2,
                                     "DISTILL_SUBSTEPS": 2, "DISTILL_CLASS_GUIDANCE": "water=1.75",
                                     "OUTPUT_DIR": str(tmp_path / "s")})
    card = json.loads((tmp_path / "s" / "model" / "model_card.json").read_text())
    assert card["distilled"]["teacher_class_guidance"] == {"water": 1.75}
    assert card["distilled"]["teacher_class_guidance_margin"] == 2
    with pytest.raises(QgsProcessingException, match="CLASS_GUIDANCE: a pixel model trained without map dropout"):
        run_alg("generate_patches", {"MODEL": result["MODEL_DIR"], **common, "CLASS_GUIDANCE": "water=1.75",
                                     "OUTPUT_DIR": str(tmp_path / "student")})
