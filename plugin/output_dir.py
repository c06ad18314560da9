"""Per-step output folders: a manifest ties the folder to one grid, so reruns resume and never mix grids."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from qgis.core import QgsProcessingException

from .i18n import tr

MANIFEST = "mapsynth_output.json"


def prepare_output_dir(folder: Path, kind: str, fingerprint: str, details: dict[str, Any]) -> None:
    """Create or reopen ``folder`` for ``kind`` patches of the grid ``fingerprint``; refuse another grid's."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST
    if manifest.exists():
        try:
            existing = json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise QgsProcessingException(tr("OUTPUT_DIR: {m} is corrupt; remove it or choose another folder")
                                         .format(m=manifest)) from exc
        if existing.get("kind") != kind or existing.get("grid_fingerprint") != fingerprint:
            raise QgsProcessingException(tr(
                "OUTPUT_DIR {folder} holds {kind} patches of grid {fp}; choose an empty folder for this grid ({new})"
            ).format(folder=folder, kind=existing.get("kind"), fp=existing.get("grid_fingerprint"), new=fingerprint))
        if existing.get("details") != details:
            raise QgsProcessingException(tr(
                "OUTPUT_DIR {folder} was made with other settings ({old}); choose an empty folder or the same "
                "settings to resume").format(folder=folder, old=existing.get("details")))
        return
    tmp = manifest.with_suffix(".partial")
    tmp.write_text(json.dumps({"kind": kind, "grid_fingerprint": fingerprint, "details": details}, indent=2),
                   encoding="utf-8")
    os.replace(tmp, manifest)
