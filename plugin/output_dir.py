"""Per-step output folders: a manifest ties the folder to one grid, so reruns resume and never mix grids."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from qgis.core import QgsProcessingException

from .contract import contract
from .i18n import tr

MANIFEST, LOCK_NAME = contract.MANIFEST, contract.LOCK_NAME  # the backend's formats: one protocol for every job


def prepare_output_dir(folder: Path, kind: str, fingerprint: str, details: dict[str, Any]) -> None:
    """Create or reopen ``folder`` for ``kind`` patches of the grid ``fingerprint``; refuse another grid's."""
    try:
        contract.prepare_output_dir(folder, kind, fingerprint, details)
    except contract.UserError as exc:
        raise QgsProcessingException(str(exc)) from None


@contextlib.contextmanager
def output_lock(folder: Path, command: str):
    """Hold ``folder`` for this job: refuse while another live job holds it, take over a dead job's lock, remove a
    killed run's temporary files. QGIS jobs share one process, so the lock names this thread too."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = contract.lock_path(folder, True)
    me = contract.lock_owner(command, thread=threading.get_ident())
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            owner = json.loads(lock.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            owner = {}
        if owner and contract.owner_alive(owner):
            raise QgsProcessingException(str(contract.lock_in_use(lock, owner))) from None
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
