"""The contract shared with the backend, loaded from the backend source this plugin ships.

``backend/src/mapsynth_backend/contract.py`` (standard library only) is the one copy of what both sides must
agree on: protocol version and handshake, cache folder, grid fingerprint and status table, output manifest and
lock. Loading that file, instead of keeping a copy here, means the two sides cannot drift (docs/ARCHITECTURE.md).
"""

import importlib.util
import sys
from pathlib import Path

from .about import PLUGIN_DIR

SOURCE = PLUGIN_DIR / "backend" / "src" / "mapsynth_backend" / "contract.py"
# Not "mapsynth_backend.contract": QGIS's Python must never import the backend package itself.
MODULE_NAME = "mapsynth_plugin_contract"


def _load(path: Path):
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module


contract = _load(SOURCE)
