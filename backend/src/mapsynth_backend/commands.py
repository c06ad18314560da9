"""Which stage module holds which command: the CLI imports only the stage of the command it runs.

Commands are named like the QGIS algorithms they serve (``assemble_mosaic`` -> ``assemble-mosaic``); the names
they had before stay as aliases, so old job files and scripts keep working.
"""

from __future__ import annotations

import importlib
from typing import Any

from .runtime.jobs import REQUIRED, Command
from .runtime.protocol import Reporter

STAGES = {
    "backend-doctor": "runtime.diagnostics",
    "protocol-check": "runtime.diagnostics",
    "describe": "commands",
    "grid-info": "grid",
    "crop-sentinel2": "prepare.crop",
    "build-training-dataset": "prepare.dataset",
    "derive-maps": "prepare.landcover",
    "map-from-land-cover": "prepare.land_cover_map",
    "train-model": "train.command",
    "generate-patches": "generate.command",
    "inpaint-scenario": "generate.inpaint",
    "sample-class": "generate.sample_class",
    "assemble-mosaic": "mosaic.command",
    "building-masks": "masks.command",
    "export-netcdf": "export",
    "evaluate": "evaluate.command",
    "convert-fid-weights": "evaluate.convert",
    "augmentation-experiment": "experiment.command",
}
ALIASES = {
    "doctor": "backend-doctor",  # also the handshake's name: every backend version answers it
    "build-dataset": "build-training-dataset",
    "train": "train-model",
    "generate": "generate-patches",
    "assemble": "assemble-mosaic",
    "masks": "building-masks",
}
HIDDEN = ("protocol-check",)  # for the plugin's tests, not for people: left out of --help and describe


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def aliases_of(name: str) -> list[str]:
    return [alias for alias, target in ALIASES.items() if target == name]


def load_command(name: str) -> Command:
    """Import the stage of ``name`` (a command or an alias) and return its command."""
    name = canonical(name)
    module = importlib.import_module(f"{__package__}.{STAGES[name]}")
    return {command.name: command for command in module.COMMANDS}[name]


def algorithm_id(name: str) -> str:
    """The QGIS algorithm name a command serves (``assemble-mosaic`` -> ``assemble_mosaic``)."""
    return name.replace("-", "_")


def describe(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    """Every command's parameters (default, choices, type, help), keyed by the QGIS algorithm name: what the plugin's
    parameters are checked against and the algorithm reference (scripts/make_algorithms_doc.py) is written from."""
    described = {}
    for name in STAGES:
        if name in HIDDEN or name == "describe":
            continue
        command = load_command(name)
        described[algorithm_id(name)] = {
            param.name: {
                "default": None if param.default is REQUIRED else param.default,
                "choices": list(param.choices),
                "type": param.kind,
                "help": param.help,
            }
            for param in command.params
        }
    return described


COMMANDS = (
    Command(
        "describe",
        "Print every command's parameters (default, choices, type, help) by QGIS algorithm name (use --json).",
        describe,
    ),
)
