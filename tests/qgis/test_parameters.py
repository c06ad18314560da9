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


def disagreements(name, backend):
    """Each parameter of the QGIS algorithm ``name`` whose name, choices or default differ from ``backend`` (the
    command as ``describe --json`` gives it)."""
    from mapsynth.processing_provider.base import job_default

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
    return problems


@pytest.mark.parametrize("name", BACKEND_ALGORITHMS)
def test_qgis_and_cli_agree_on_names_defaults_and_choices(plugin, described, name):
    problems = disagreements(name, described[name])
    assert not problems, problems


def test_the_check_sees_a_disagreement(plugin, described):
    """The comparison is not vacuous: a changed default, changed choices and a missing parameter are each
    reported, by the same function the test above uses."""
    backend = json.loads(json.dumps(described["generate_patches"]))
    assert disagreements("generate_patches", backend) == []
    backend["variations"]["default"] += 1
    assert disagreements("generate_patches", backend) == [
        f"VARIATIONS: default {backend['variations']['default'] - 1!r} in QGIS,"
        f" {backend['variations']['default']!r} in the CLI"
    ]
    del backend["variations"]
    assert disagreements("generate_patches", backend) == ["VARIATIONS: no backend parameter variations"]
    name, key = next(
        (name, d.name().lower()) for name in BACKEND_ALGORITHMS for d in algorithm(name).parameterDefinitions()
        if d.type() == "enum" and described[name].get(d.name().lower(), {}).get("choices")
        and d.name().lower() not in CONVERTED.get(name, ()))
    backend = json.loads(json.dumps(described[name]))
    backend[key]["choices"] = [*backend[key]["choices"], "another"]
    found = disagreements(name, backend)
    assert len(found) == 1 and found[0].startswith(f"{key.upper()}: choices"), found
