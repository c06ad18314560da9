"""Plugin settings (QgsSettings under "mapsynth/") with environment overrides for headless use."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from qgis.core import QgsSettings

from .about import PLUGIN_DIR
from .contract import contract

PREFIX = "mapsynth/"
ENV_BACKEND_PYTHON = "MAPSYNTH_BACKEND_PYTHON"
ENV_CACHE_DIR = contract.ENV_CACHE_DIR
KEY_BACKEND_PYTHON = "backend_python"
KEY_DEVICE = "device"
KEY_CACHE_DIR = "cache_dir"


def value(key: str, default: str = "") -> str:
    return str(QgsSettings().value(PREFIX + key, default) or "")


def set_value(key: str, new_value: str) -> None:
    QgsSettings().setValue(PREFIX + key, new_value)


DEVICES = ("auto", "cpu", "cuda")  # the DEVICE choices of the generating algorithms and of the Settings dialog


def device(choices: tuple[str, ...] = DEVICES) -> str:
    """The Settings dialog's Device: what DEVICE 'auto' of Train model and Generate patches runs on ('auto'
    when unset or when the backend command does not offer it, e.g. 'cuda' for training, where auto uses it)."""
    chosen = value(KEY_DEVICE, "auto") or "auto"
    return chosen if chosen in choices else "auto"


def cache_dir() -> Path:
    """Per-user cache (backend venv, jobs, logs): the contract's rule, with the plugin setting."""
    return contract.cache_dir(value(KEY_CACHE_DIR))


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def backend_python() -> tuple[Path, str]:
    """The backend interpreter and where the choice came from (env var, setting, repo venv or cache venv)."""
    if os.environ.get(ENV_BACKEND_PYTHON):
        return Path(os.environ[ENV_BACKEND_PYTHON]), f"environment variable {ENV_BACKEND_PYTHON}"
    if value(KEY_BACKEND_PYTHON):
        return Path(value(KEY_BACKEND_PYTHON)), "plugin setting mapsynth/backend_python"
    repo_venv = venv_python(PLUGIN_DIR / ".venv-backend")
    if repo_venv.exists():
        return repo_venv, "the plugin folder's .venv-backend"
    return venv_python(cache_dir() / "venv"), "the default per-user environment"
