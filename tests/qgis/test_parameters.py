"""QGIS and the CLI agree: every backend algorithm's parameters exist in its backend command under the same name
(lower-cased), with the same defaults and choices (``mapsynth describe --json``)."""

import json
import subprocess

import pytest

BACKEND_ALGORITHMS = ("crop_sentinel2", "build_training_dataset", "train_model", "generate_patches",
                      "assemble_mosaic", "building_masks", "export_netcdf", "evaluate", "augmentation_experiment",
                      "inpaint_scenario", "map_from_land_cover", "sample_class")
# Parameters whose job value is not the parameter's own (derived or converted in processAlgorithm).
# MODEL: empty means the demo model the plugin ships, which the backend does not know about.
# DEVICE auto: the Device of MapSynth Settings, resolved by the plugin.
CONVERTED = {"train_model": {"resume"}, "evaluate": {"map"}, "generate_patches": {"model"}, "sample_class": {"model"},
             "augmentation_experiment": {"model", "device"}, "map_from_land_cover": {"vector", "table_file"}}


@pytest.fixture(scope="module")
def described(backend_python):
    done = subprocess.run([str(backend_python), "-I", "-m", "mapsynth_backend", "describe", "--json"],
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout)


def algorithm(name):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry().algorithmById(f"mapsynth:{name}")


@pytest.mark.parametrize("name", BACKEND_ALGORITHMS)
def test_qgis_and_cli_agree_on_names_defaults_and_choices(plugin, described, name):
    from mapsynth.processing_provider.base import job_default

    backend = described[name]
    problems = []
    for definition in algorithm(name).parameterDefinitions():
        key = definition.name().lower()
        if key not in backend:
            problems.append(f"{definition.name()}: no backend parameter {key}")
            continue
        if key in CONVERTED.get(name, ()):
            continue
        choices = backend[key]["choices"]
        if definition.type() == "enum" and choices and definition.options() != choices:
            problems.append(f"{definition.name()}: choices {definition.options()} in QGIS, {choices} in the CLI")
        default = job_default(definition)
        if default != backend[key]["default"] and not (default is None and definition.isDestination()):
            problems.append(f"{definition.name()}: default {default!r} in QGIS, {backend[key]['default']!r} in the CLI")
    assert not problems, problems


def test_the_check_sees_a_disagreement(plugin, described):
    """The comparison is not vacuous: a changed backend default is reported."""
    from mapsynth.processing_provider.base import job_default

    definition = algorithm("generate_patches").parameterDefinition("VARIATIONS")
    assert job_default(definition) == described["generate_patches"]["variations"]["default"]
    assert job_default(definition) != described["generate_patches"]["variations"]["default"] + 1
