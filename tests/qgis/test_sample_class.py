"""Sample one map class from QGIS: the CLASS enum is translated to the palette key the backend takes, the job
runs in the backend with the demo model and writes a training dataset; a bad model is one line."""

import json

import pytest
from qgis.core import QgsProcessingException

from ..conftest import ROOT  # noqa: TID252
from .test_processing_interfaces import latest_job

PALETTE = json.loads((ROOT / "resources" / "styles" / "semantic_palette.json").read_text(encoding="utf-8"))


def test_class_options_are_the_area_classes_of_the_palette(plugin):
    from qgis.core import QgsApplication

    definition = QgsApplication.processingRegistry().algorithmById("mapsynth:sample_class").parameterDefinition("CLASS")
    areas = [c["key"] for c in PALETTE["classes"] if c["geometry"] == "area"]
    assert definition.options() == areas and "minor_road" not in definition.options()
    assert definition.options()[definition.defaultValue()] == "forest"


def test_sample_class_runs_the_demo_model_and_writes_a_dataset(run_alg, backend_python, tmp_path):
    from mapsynth.processing_provider.sample_class import CLASSES

    out = tmp_path / "water"
    result = run_alg("sample_class", {"CLASS": CLASSES.index("water"), "COUNT": 2, "STEPS": 1, "DEVICE": 1,
                                      "OUTPUT_DIR": str(out)})
    job = latest_job("sample-class")
    assert job["class"] == "water" and job["count"] == 2 and job["device"] == "cpu"
    assert result["WRITTEN"] == 2 and result["OUTPUT_DIR"] == str(out)
    rows = [json.loads(line) for line in (out / "train" / "metadata.jsonl").read_text().splitlines()]
    assert [r["patch_id"] for r in rows] == ["water_00000", "water_00001"]
    assert all((out / "train" / r["multispectral"]).is_file() for r in rows)
    assert (out / "radiometry.json").is_file()


def test_a_folder_that_is_no_model_is_one_clear_error(run_alg, backend_python, tmp_path):
    (tmp_path / "model").mkdir()
    with pytest.raises(QgsProcessingException, match="MODEL: .* has no model_card.json"):
        run_alg("sample_class", {"MODEL": str(tmp_path / "model"), "COUNT": 1, "DEVICE": 1,
                                 "OUTPUT_DIR": str(tmp_path / "o")})
    assert not (tmp_path / "o" / "train").exists()
