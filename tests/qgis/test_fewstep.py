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
