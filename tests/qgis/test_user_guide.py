"""docs/user-guide.md's pictures exist and are current: beside each dialog picture (docs/images/guide/<algorithm>.png,
taken by the GUI tier, scripts/guide_images.py) lies the list of parameters that dialog showed; it must equal the
algorithm's parameters now, else the picture is older than the dialog it shows (run make guide-images)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
IMAGES = re.findall(r"!\[[^\]]*\]\((images/guide/[^)\s]+\.png)\)", GUIDE.read_text(encoding="utf-8"))


def test_the_guide_shows_every_step_it_promises():
    import importlib.util

    spec = importlib.util.spec_from_file_location("guide_images", ROOT / "scripts" / "guide_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shown = {Path(image).stem for image in IMAGES}
    assert set(module.DIALOGS) | set(module.RESULTS) <= shown, "pictures taken but not shown in the guide"


@pytest.mark.parametrize("image", IMAGES)
def test_each_picture_exists_with_its_record(image):
    png = GUIDE.parent / image
    assert png.is_file() and png.stat().st_size > 1000, f"{image} is missing: make guide-images"
    assert png.with_suffix(".json").is_file(), f"{image} has no record beside it: make guide-images"


@pytest.mark.parametrize("image", [i for i in IMAGES if "algorithm" in json.loads(
    (GUIDE.parent / i).with_suffix(".json").read_text(encoding="utf-8")
    if (GUIDE.parent / i).with_suffix(".json").is_file() else "{}")])
def test_each_dialog_picture_shows_the_current_parameters(plugin, image):
    from qgis.core import QgsApplication

    record = json.loads((GUIDE.parent / image).with_suffix(".json").read_text(encoding="utf-8"))
    algorithm = QgsApplication.processingRegistry().algorithmById(record["algorithm"])
    assert algorithm is not None, f"{image}: {record['algorithm']} no longer exists"
    now = [p.name() for p in algorithm.parameterDefinitions()]
    assert now == record["parameters"], (
        f"{image} is older than its dialog (parameters then {record['parameters']}, now {now}): make guide-images")
