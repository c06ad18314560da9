"""How every MapSynth algorithm presents itself in Processing: which outputs are required, what its help says
(and that QGIS's rich-text help shows it without eating text), the dialog's own checks, the default model and the
plugin's Device setting as the backend job receives it."""

import html
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsSettings
from qgis.PyQt.QtGui import QTextDocument

from ..conftest import ROOT  # noqa: TID252

DEMO_MODEL = ROOT / "resources" / "models" / "mapsynth-demo-pixel-small"
EXTENT = "420000,420640,5808360,5809000 [EPSG:32630]"
# The one destination each algorithm exists for; every other destination is a by-product and must be optional.
MAIN_OUTPUT = {
    "backend_doctor": None,  # its result is the REPORT string; the JSON file is a copy
    "create_patch_grid": "OUTPUT", "render_map_patches": "OUTPUT_DIR", "map_from_land_cover": "OUTPUT_DIR",
    "crop_sentinel2": "OUTPUT_DIR",
    "build_training_dataset": "OUTPUT_DIR", "train_model": "OUTPUT_DIR", "generate_patches": "OUTPUT_DIR",
    "assemble_mosaic": "OUTPUT", "building_masks": "OUTPUT_DIR", "export_netcdf": "OUTPUT",
    "evaluate": "OUTPUT_DIR", "synthesize_city": "OUTPUT_DIR", "augmentation_experiment": "OUTPUT_DIR",
    "inpaint_scenario": ("OUTPUT", "OUTPUT_MASK"),  # after + change mask: the triplet's image and label
    "sample_class": "OUTPUT_DIR",
}
HELP_TAGS = {"b", "i", "br", "ul", "li", "p", "code"}
MAX_LABEL = 32  # characters: longer labels make the dialogs scroll sideways at their default size


def algorithms():
    return QgsApplication.processingRegistry().providerById("mapsynth").algorithms()


def test_every_by_product_destination_is_optional(plugin):
    found = {}
    for alg in algorithms():
        mandatory = [p.name() for p in alg.destinationParameterDefinitions() if not p.flags() & p.FlagOptional]
        found[alg.name()] = mandatory
    expected = {name: list(main) if isinstance(main, tuple) else [main] if main else []
                for name, main in MAIN_OUTPUT.items()}
    assert found == expected


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("name", sorted(MAIN_OUTPUT))
def test_help_is_html_that_eats_no_text_and_names_every_parameter(plugin, name):
    alg = QgsApplication.processingRegistry().createAlgorithmById(f"mapsynth:{name}")
    text = alg.shortHelpString()
    parser = _Tags()
    parser.feed(text)
    assert parser.tags <= HELP_TAGS, f"not formatting tags, so text QGIS would swallow: {parser.tags - HELP_TAGS}"
    document = QTextDocument()
    document.setHtml(text)
    shown = document.toPlainText()  # what the dialog's help panel shows
    assert "".join(html.unescape("".join(parser.text)).split()) == "".join(shown.split())  # nothing swallowed
    for definition in [*alg.parameterDefinitions(), *alg.outputDefinitions()]:
        assert f"{definition.description()} ({definition.name()}" in shown, definition.name()
    for definition in alg.parameterDefinitions():
        assert len(definition.description()) <= MAX_LABEL, definition.description()


def test_placeholders_and_sources_are_visible_in_the_help(plugin):
    registry = QgsApplication.processingRegistry()

    def shown(name):
        document = QTextDocument()
        document.setHtml(registry.algorithmById(f"mapsynth:{name}").shortHelpString())
        return document.toPlainText()

    assert "<patch_id>_vNN.tif" in shown("assemble_mosaic")
    assert "<patch_id>_vNN.tif" in shown("generate_patches")
    assert "<name>_patches/" in shown("export_netcdf")
    assert "Map patches folder (MAP_DIR): the output of Render map patches" in shown("generate_patches")
    assert "Generated patches folder (GENERATED_DIR): the output of Generate patches" in shown("assemble_mosaic")


def test_create_patch_grid_refuses_before_run_without_an_area(plugin, tmp_path):
    alg = QgsApplication.processingRegistry().createAlgorithmById("mapsynth:create_patch_grid")
    context = QgsProcessingContext()
    ok, message = alg.checkParameterValues({"OUTPUT": str(tmp_path / "grid.gpkg")}, context)
    assert not ok and "EXTENT" in message and "AOI" in message
    assert alg.checkParameterValues({"EXTENT": EXTENT, "OUTPUT": str(tmp_path / "grid.gpkg")}, context) == (True, "")


def latest_job(command: str) -> dict:
    from mapsynth.plugin.settings import cache_dir

    jobs = sorted((cache_dir() / "jobs").glob(f"*-{command}-*"), key=lambda p: p.stat().st_mtime)
    return json.loads((jobs[-1] / "job.json").read_text())["params"]


@pytest.fixture
def device_setting():
    settings = QgsSettings()
    settings.remove("mapsynth/device")  # whatever an earlier test saved: each case starts from the default
    yield lambda value: settings.setValue("mapsynth/device", value)
    settings.remove("mapsynth/device")


@pytest.mark.parametrize("setting, expected", [(None, "auto"), ("cpu", "cpu"), ("cuda", "auto")])
def test_train_device_follows_the_plugin_setting(run_alg, backend_python, tmp_path, device_setting, setting,
                                                 expected):
    if setting:
        device_setting(setting)
    with pytest.raises(QgsProcessingException, match="DATASET"):  # the job starts, then fails on the dataset
        run_alg("train_model", {"DATASET": str(tmp_path), "OUTPUT_DIR": str(tmp_path / "training")})
    assert latest_job("train")["device"] == expected


def test_train_refuses_a_resume_folder_that_is_not_a_checkpoint(run_alg, tmp_path):
    (tmp_path / "my-run").mkdir()
    with pytest.raises(QgsProcessingException, match="RESUME: .*my-run is not a checkpoint folder"):
        run_alg("train_model", {"DATASET": str(tmp_path), "RESUME": str(tmp_path / "my-run"),
                                "OUTPUT_DIR": str(tmp_path / "training")})
    assert not (tmp_path / "training").exists()


@pytest.fixture(scope="module")
def grid_and_maps(plugin, tmp_path_factory):
    import processing

    from ..conftest import write_map_patches  # noqa: TID252 - map patches as render_map_patches writes them

    root = tmp_path_factory.mktemp("interfaces")
    processing.run("mapsynth:create_patch_grid", {"EXTENT": EXTENT, "OUTPUT": str(root / "grid.gpkg")})
    return root / "grid.gpkg", write_map_patches(root / "grid.gpkg", root / "maps")


def test_generate_uses_the_demo_model_by_default_and_the_device_setting(run_alg, backend_python, grid_and_maps,
                                                                       tmp_path, device_setting):
    grid, maps = grid_and_maps
    device_setting("cpu")
    result = run_alg("generate_patches", {"PATCH_GRID": str(grid), "MAP_DIR": str(maps), "VARIATIONS": 1,
                                          "STEPS": 1, "OUTPUT_DIR": str(tmp_path / "generated")})
    job = latest_job("generate")
    assert Path(job["model"]) == DEMO_MODEL and job["device"] == "cpu"
    assert result["PATCH_COUNT"] == len(list(maps.glob("r*.tif"))) > 0
    assert len(list((tmp_path / "generated").glob("r*_v00.tif"))) == result["PATCH_COUNT"]


def test_generate_accepts_a_training_folder_as_model(run_alg, backend_python, grid_and_maps, tmp_path):
    grid, maps = grid_and_maps
    training = tmp_path / "training"
    shutil.copytree(DEMO_MODEL, training / "model")
    (training / "checkpoints").mkdir()
    run_alg("generate_patches", {"MODEL": str(training), "PATCH_GRID": str(grid), "MAP_DIR": str(maps),
                                 "VARIATIONS": 1, "STEPS": 1, "OUTPUT_DIR": str(tmp_path / "generated")})
    assert Path(latest_job("generate")["model"]) == training / "model"
    assert list((tmp_path / "generated").glob("r*_v00.tif"))
