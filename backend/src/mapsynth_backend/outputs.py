"""Output folders of per-patch steps: a manifest ties a folder to one grid and one set of settings, files are
written under temporary names and renamed when complete, so reruns resume and never mix grids."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .protocol import UserError

MANIFEST = "mapsynth_output.json"


def prepare_output_dir(folder: Path, kind: str, fingerprint: str, details: dict[str, Any]) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"OUTPUT_DIR: cannot create {folder}: {exc.strerror}") from exc
    manifest = folder / MANIFEST
    if manifest.exists():
        try:
            existing = json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UserError(f"OUTPUT_DIR: {manifest} is corrupt; remove it or choose another folder") from exc
        if existing.get("kind") != kind or existing.get("grid_fingerprint") != fingerprint:
            raise UserError(
                f"OUTPUT_DIR {folder} holds {existing.get('kind')} patches of grid {existing.get('grid_fingerprint')};"
                f" choose an empty folder for this grid ({fingerprint})"
            )
        if existing.get("details") != details:
            raise UserError(
                f"OUTPUT_DIR {folder} was made with other settings ({existing.get('details')}); choose an empty"
                " folder or the same settings to resume"
            )
        return
    atomic_write(
        manifest,
        lambda tmp: tmp.write_text(
            json.dumps({"kind": kind, "grid_fingerprint": fingerprint, "details": details}, indent=2), encoding="utf-8"
        ),
    )


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary sibling, then rename it to ``path``; no partial file survives."""
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
