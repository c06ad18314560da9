"""mapsynth:train_model on the synthetic chain (conftest.py): a tiny pixel model through processing.run."""

import csv
import json
from pathlib import Path

import pytest


def test_training_writes_a_model_with_its_card_and_loss_curve(trained):
    out = trained["root"] / "training"
    card = trained["card"]
    assert trained["training"]["MODEL_DIR"] == str(out / "model") and card["steps"] == 3
    assert card["family"] == "pixel" and card["preset"] == "tiny" and card["bands"] == ["B02", "B03", "B04", "B08"]
    assert card["pixel_size"] == pytest.approx(10.0) and card["crs"] == "EPSG:32630"
    rows = list(csv.DictReader(open(out / "loss.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    # the output is the last step's loss (loss.csv keeps 6 significant digits), not a mean or the first step's
    assert trained["training"]["FINAL_LOSS"] == pytest.approx(float(rows[-1]["loss"]), rel=1e-5)
    assert float(rows[-1]["loss"]) not in (float(rows[0]["loss"]), float(rows[1]["loss"]))
    assert (out / "checkpoints" / "checkpoint-2").is_dir() and (out / "loss.png").is_file()


def test_warmup_schedule_and_knobs_reach_the_backend(prepared, run_alg, tmp_path):
    """LR_SCHEDULER / LR_WARMUP_STEPS: the learning rate ramps up over the warmup steps (loss.csv records it);
    DATA_SCALING std: the model card records each band's scaling, measured on the training split."""
    run_alg("train_model", {"DATASET": str(prepared["root"] / "dataset"), "PRESET": 0, "MAX_STEPS": 3,
                            "BATCH_SIZE": 2, "VALIDATION_EVERY": 0, "LEARNING_RATE": 0.001, "LR_SCHEDULER": 1,
                            "LR_WARMUP_STEPS": 2, "WEIGHT_DECAY": 0.0, "MAX_GRAD_NORM": 0.5, "DATA_SCALING": 1,
                            "OUTPUT_DIR": str(tmp_path / "t")})
    rates = [float(r["lr"]) for r in csv.DictReader(open(Path(tmp_path / "t" / "loss.csv")))]
    assert rates == pytest.approx([0.0005, 0.001, 0.001])
    card = json.loads((tmp_path / "t" / "model" / "model_card.json").read_text())
    assert card["training"]["data_scaling"] == "std" and card["band_scaling"]["method"] == "std"
    assert len(card["band_scaling"]["scale"]) == len(card["bands"]) and min(card["band_scaling"]["scale"]) > 0


def test_an_unknown_preset_for_the_family_is_one_clear_error(prepared, run_alg, tmp_path):
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException, match="PRESET: 'sd15' is not a pixel preset"):
        run_alg("train_model", {"DATASET": str(prepared["root"] / "dataset"), "PRESET": 2, "MAX_STEPS": 1,
                                "OUTPUT_DIR": str(tmp_path / "t")})
