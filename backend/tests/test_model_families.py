"""The model-family registry: every family implements the ModelFamily interface; controlnet-sd15 takes its noise
schedule from the base model; an unknown prediction type is an error, never a silent fallback."""

import json
import sys
from pathlib import Path

import pytest

from mapsynth_backend.models import FAMILIES, family_class
from mapsynth_backend.models.base import ModelFamily, check_prediction_type
from mapsynth_backend.models.pixel import PixelModel
from mapsynth_backend.runtime.protocol import UserError

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import build_tiny_sd  # noqa: E402

MEMBERS = [name for name in ModelFamily.__dict__ if not name.startswith("_")] + ["family", "presets", "noise_names"]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_implements_the_interface(name):
    cls = FAMILIES[name]
    missing = [member for member in MEMBERS if not hasattr(cls, member)]
    assert not missing and cls.family == name and cls.presets


def test_an_unknown_family_is_one_clear_error():
    with pytest.raises(UserError, match="FAMILY: 'gan' is not one of pixel, controlnet-sd15"):
        family_class("gan")


def test_an_unknown_prediction_type_is_an_error():
    assert check_prediction_type("epsilon") == "epsilon"
    with pytest.raises(UserError, match="predicts 'sample'"):
        check_prediction_type("sample")
    model = PixelModel.create("tiny", ["B02", "B03", "B04", "B08"], 16, {})
    model.card["train_scheduler"] = {**model.card["train_scheduler"], "prediction_type": "sample"}
    with pytest.raises(UserError, match="predicts 'sample'"):
        model.train_scheduler()


def test_controlnet_takes_the_noise_schedule_of_its_base_model(tmp_path):
    base = build_tiny_sd(tmp_path / "sd")
    config_path = base / "scheduler" / "scheduler_config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "beta_end": 0.02, "prediction_type": "v_prediction"}))
    pair = FAMILIES["controlnet-sd15"].create("tiny", ["B02", "B03", "B04", "B08"], 16, {}, base_model=str(base),
                                              allow_download=False)
    assert pair.card["train_scheduler"]["beta_end"] == 0.02
    scheduler = pair.train_scheduler()
    assert scheduler.config.beta_end == 0.02 and scheduler.config.prediction_type == "v_prediction"
    config_path.write_text(json.dumps({**config, "prediction_type": "sample"}))
    with pytest.raises(UserError, match="predicts 'sample'"):
        FAMILIES["controlnet-sd15"].create("tiny", ["B02", "B03", "B04", "B08"], 16, {}, base_model=str(base),
                                           allow_download=False)
