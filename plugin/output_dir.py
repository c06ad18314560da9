"""Per-step output folders: a manifest ties the folder to one grid, so reruns resume and never mix grids."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
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


LOCK_NAME = ".mapsynth.lock"  # the backend's lock format: one protocol for every MapSynth job


def _alive(owner: dict[str, Any]) -> bool:
    if owner.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(owner.get("pid", -1)), 0)
    except (ProcessLookupError, ValueError, OverflowError):
        return False
    except PermissionError:
        pass
    return True


@contextlib.contextmanager
def output_lock(folder: Path, command: str):
    """Hold ``folder`` for this job: refuse while another live job holds it, take over a dead job's lock, remove a
    killed run's temporary files. QGIS jobs share one process, so the lock names this thread too."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    me = {"pid": os.getpid(), "thread": threading.get_ident(), "host": socket.gethostname(), "command": command,
          "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            owner = json.loads(lock.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            owner = {}
        if owner and _alive(owner):
            raise QgsProcessingException(tr(
                "OUTPUT_DIR: {folder} is in use by another MapSynth job ({cmd}, pid {pid} on {host}, since {since});"
                " wait for it, stop it, or choose another folder (if that job is gone, delete {lock})").format(
                    folder=folder, cmd=owner.get("command"), pid=owner.get("pid"), host=owner.get("host"),
                    since=owner.get("started"), lock=lock)) from None
        lock.unlink(missing_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except OSError as exc:
        raise QgsProcessingException(tr("OUTPUT_DIR: cannot write into {folder}: {error}").format(
            folder=folder, error=exc.strerror)) from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(me, handle)
    for leftover in folder.glob(".*.partial*"):
        leftover.unlink(missing_ok=True)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
