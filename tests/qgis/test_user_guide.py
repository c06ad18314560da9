"""docs/user-guide.md's pictures exist and are current: beside each dialog picture (docs/images/guide/<algorithm>.png,
taken by the GUI tier, scripts/guide_images.py) lies the list of parameters that dialog showed and the values it was
filled in with; the parameters must equal the algorithm's parameters now, else the picture is older than the dialog
it shows, and the values must cover every input the algorithm needs, else the picture shows an empty dialog. Every
step also has a picture of its result (<algorithm>_result.png), and all pictures come from one GUI run (run make
guide-images after any change)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
IMAGES = re.findall(r"!\[[^\]]*\]\((images/guide/[^)\s]+\.png)\)", GUIDE.read_text(encoding="utf-8"))


def record(image: str) -> dict:
    path = (GUIDE.parent / image).with_suffix(".json")
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def guide_images():
    spec = importlib.util.spec_from_file_location("guide_images", ROOT / "scripts" / "guide_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DIALOG_IMAGES = [image for image in IMAGES if "algorithm" in record(image)]


def test_the_guide_shows_every_step_it_promises():
    module = guide_images()
    shown = {Path(image).stem for image in IMAGES}
    assert set(module.DIALOGS) | set(module.RESULTS) <= shown, "pictures taken but not shown in the guide"
    missing = [name for name in module.DIALOGS if f"{name}_result" not in shown]
    assert not missing, f"steps without a picture of their result: {missing}"


@pytest.mark.parametrize("image", IMAGES)
def test_each_picture_exists_with_its_record(image):
    png = GUIDE.parent / image
    assert png.is_file() and png.stat().st_size > 1000, f"{image} is missing: make guide-images"
    assert png.with_suffix(".json").is_file(), f"{image} has no record beside it: make guide-images"


def test_every_picture_comes_from_the_same_gui_run():
    runs = {image: record(image).get("run") for image in IMAGES}
    assert len(set(runs.values())) == 1 and None not in runs.values(), (
        f"pictures of different make guide-images runs (or without one): {runs}")


def test_each_result_picture_shows_layers_or_a_window_of_its_step():
    for name in guide_images().DIALOGS:
        shown = record(f"images/guide/{name}_result.png")
        assert shown.get("result_of") == f"mapsynth:{name}", (name, shown)
        assert shown.get("visible") or shown.get("title"), f"{name}_result.png shows nothing recorded: {shown}"


@pytest.mark.parametrize("image", DIALOG_IMAGES)
def test_each_dialog_picture_shows_the_current_parameters(plugin, image):
    from qgis.core import QgsApplication

    shown = record(image)
    algorithm = QgsApplication.processingRegistry().algorithmById(shown["algorithm"])
    assert algorithm is not None, f"{image}: {shown['algorithm']} no longer exists"
    now = [p.name() for p in algorithm.parameterDefinitions()]
    assert now == shown["parameters"], (
        f"{image} is older than its dialog (parameters then {shown['parameters']}, now {now}): make guide-images")


@pytest.mark.parametrize("image", DIALOG_IMAGES)
def test_each_dialog_picture_is_filled_in(plugin, image):
    """Every input the algorithm needs (not optional, no default) and every output has a value in the picture."""
    from qgis.core import QgsApplication, QgsProcessingParameterDefinition

    shown = record(image)
    algorithm = QgsApplication.processingRegistry().algorithmById(shown["algorithm"])
    needed = [p.name() for p in algorithm.parameterDefinitions()
              if not p.flags() & QgsProcessingParameterDefinition.FlagOptional
              and (p.isDestination() or p.defaultValue() is None)]
    empty = [name for name in needed if not shown.get("values", {}).get(name)]
    assert not empty, f"{image} shows {empty} empty: make guide-images"
