"""Job files and command parameters: one schema drives the job-file validation and the CLI flags.

A job file is ``{"v": 1, "command": "<name>", "params": {...}}``; parameter names are the QGIS parameter names
in lower case (``PATCH_GRID`` -> ``patch_grid``), which are also the CLI flags (``--patch-grid``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .protocol import PROTOCOL_VERSION, UserError

REQUIRED = object()
TYPES = {"str": str, "int": int, "float": float, "bool": bool, "path": str, "paths": list}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # one of TYPES
    default: Any = REQUIRED
    help: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> Any:
        label = self.name.upper()
        if self.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        expected = TYPES[self.kind]
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise UserError(f"{label}: expected a {self.kind}, got {value!r}")
        if self.choices and value not in self.choices:
            raise UserError(f"{label}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:
            raise UserError(f"{label}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise UserError(f"{label}: {value} is above the maximum {self.maximum}")
        if self.kind == "path" and not value.strip():
            raise UserError(f"{label}: the path is empty")
        if self.kind == "paths" and not all(isinstance(item, str) and item.strip() for item in value):
            raise UserError(f"{label}: expected a list of paths, got {value!r}")
        return value


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Any  # Callable[[dict, Reporter], dict]
    params: tuple[Param, ...] = field(default_factory=tuple)

    def resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """Validate ``given`` against the schema and fill in defaults."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise UserError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}")
        resolved = {}
        for param in self.params:
            if param.name in given and given[param.name] is not None:
                resolved[param.name] = param.validate(given[param.name])
            elif param.default is REQUIRED:
                raise UserError(f"{param.name.upper()}: required parameter is missing ({param.flag})")
            else:
                resolved[param.name] = param.default
        return resolved

    def add_flags(self, parser: argparse.ArgumentParser) -> None:
        for param in self.params:
            kwargs: dict[str, Any] = {"dest": param.name, "default": None, "help": param.help}
            if param.kind == "bool":
                kwargs["action"] = argparse.BooleanOptionalAction
            elif param.kind == "paths":
                kwargs["nargs"] = "*"
            else:
                kwargs["type"] = TYPES[param.kind]
                if param.choices:
                    kwargs["choices"] = param.choices
            flags = [param.flag] + ([f"--{param.name}"] if "_" in param.name else [])
            parser.add_argument(*flags, **kwargs)


def load_job(path: Path, command: Command, aliases: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Read and validate a job file written by the QGIS plugin (or by hand, to replay a job)."""
    try:
        job = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"job file not found: {path}") from exc
    except (OSError, ValueError) as exc:
        raise UserError(f"job file {path} is not valid JSON: {exc}") from exc
    if not isinstance(job, dict) or set(job) - {"v", "command", "params"}:
        raise UserError(f"job file {path}: expected an object with keys v, command, params")
    if job.get("v") != PROTOCOL_VERSION:
        raise UserError(
            f"job file {path} uses protocol version {job.get('v')!r}, this backend speaks {PROTOCOL_VERSION}:"
            " update the plugin or the backend so they match"
        )
    if job.get("command") not in (command.name, *aliases):
        raise UserError(f"job file {path} is for command {job.get('command')!r}, not {command.name!r}")
    params = job.get("params", {})
    if not isinstance(params, dict):
        raise UserError(f"job file {path}: params must be an object")
    return command.resolve(params)
