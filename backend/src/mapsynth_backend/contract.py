"""What the QGIS plugin and the backend must agree on, written once: the job protocol's constants and the doctor
handshake, the cache folder, the patch grid's fingerprint and status table, output manifests and locks.

Standard library only: the plugin loads this very file from the backend source it ships (``plugin/contract.py``),
so both sides run the same code. Errors are :class:`UserError` (one line for the user); the backend raises it as
is, the plugin turns it into a ``QgsProcessingException``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# The job protocol (docs/ARCHITECTURE.md): job file and events carry "v"; exit codes of a backend job.
PROTOCOL_VERSION = 1
EVENT_TYPES = ("progress", "log", "metric", "result", "error")
LOG_LEVELS = ("debug", "info", "warning", "error")
CANCEL_FILE = "cancel"
EXIT_OK, EXIT_ERROR, EXIT_CANCELLED = 0, 1, 130
BACKEND_MODULE = "mapsynth_backend"
ENV_CACHE_DIR = "MAPSYNTH_CACHE_DIR"


class UserError(Exception):
    """Bad input or environment: the message is one actionable line shown to the user (exit code 1)."""


def backend_argv(python: str | Path, command: str, *args: str) -> list[str]:
    """How the plugin runs a backend command: isolated mode (-I), never through a shell."""
    return [str(python), "-I", "-m", BACKEND_MODULE, command, *args]


def handshake_argv(python: str | Path, log_file: str | Path) -> list[str]:
    """The handshake before a session's first job: the fast doctor report as JSON."""
    return backend_argv(python, "doctor", "--brief", "--json", "--log-file", str(log_file))


def handshake_problem(report: dict[str, Any]) -> str | None:
    """Why a backend's doctor report is unusable for this plugin (None when it speaks our protocol)."""
    if report.get("protocol_version") != PROTOCOL_VERSION:
        return (
            f"the backend speaks protocol {report.get('protocol_version')}, this plugin needs {PROTOCOL_VERSION}:"
            " reinstall the backend from this plugin's backend/ folder ('make setup')"
        )
    return None


def cache_dir(configured: str | Path = "") -> Path:
    """Per-user cache (backend venv, jobs, logs): MAPSYNTH_CACHE_DIR, else the plugin setting, else the
    platform's cache folder; outside the plugin folder, so plugin updates keep it."""
    chosen = os.environ.get(ENV_CACHE_DIR) or str(configured or "")
    if chosen:
        return Path(chosen)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "mapsynth"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "mapsynth"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mapsynth"


# The patch grid (docs/GRID_FORMAT.md).
GRID_FORMAT = "mapsynth-patch-grid"
FORMAT_VERSION = 1
GRID_TABLE = "mapsynth_grid"
PATCH_LAYER = "patches"
# Patches whose footprint shares pixels with a patch of another split: kept in the grid (maps, imagery and mosaics
# still cover them) but never written into a dataset, so no step trains or scores on them.
GUARD_SPLIT = "guard"
GEOMETRY_KEYS = (
    "format_version",
    "crs_wkt",
    "origin_x",
    "origin_y",
    "pixel_size",
    "patch_size",
    "overlap",
    "rows",
    "cols",
)
SAFE_PATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def fingerprint(definition: dict[str, Any]) -> str:
    """Hash of everything that fixes patch geometry; a step refuses outputs made on another grid."""
    canonical = json.dumps({key: definition[key] for key in GEOMETRY_KEYS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def patch_id(row: int, col: int, width: int = 4) -> str:
    return f"r{row:0{width}d}_c{col:0{width}d}"


def overlap_reach(patch_size: int, overlap: int) -> int:
    """How many rows (or columns) apart two patches can be and still share pixels: stride x reach < patch size."""
    return (patch_size - 1) // (patch_size - overlap)


def guard_splits(
    splits: dict[tuple[int, int], str], patch_size: int, overlap: int, order: tuple[str, ...] = ("train", "val", "test")
) -> dict[tuple[int, int], str]:
    """Move to ``guard`` every patch that shares pixels with a patch of a later split in ``order``.

    The last split's blocks stay whole (automatic blocks are often 2 x 2 patches; guarding inside one would empty
    it); each earlier split is guarded against the later ones as they stand after their own guard, so a training
    patch beside a val patch that became guard stays training. Edge-adjacent patches (overlap 0) share no pixel."""
    rank = {name: index for index, name in enumerate(order)}
    reach = overlap_reach(patch_size, overlap)
    guarded = dict(splits)
    for split in reversed(order[:-1]):
        for (row, col), own in splits.items():
            if own != split:
                continue
            near = (
                guarded.get((row + d_row, col + d_col))
                for d_row in range(-reach, reach + 1)
                for d_col in range(-reach, reach + 1)
            )
            if any(rank.get(other, -1) > rank[split] for other in near):
                guarded[(row, col)] = GUARD_SPLIT
    return guarded


# SQL statements spell the table names out (static SQL, values bound as parameters: no string-built SQL)
STATUS_TABLE = "mapsynth_status"
STATUS_SCHEMA = """
CREATE TABLE IF NOT EXISTS mapsynth_status (
    fid INTEGER PRIMARY KEY AUTOINCREMENT, patch_id TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL,
    valid_fraction REAL, cloud_fraction REAL, detail TEXT, output TEXT, updated TEXT,
    UNIQUE (patch_id, step))
"""


def record_status(path: str | Path, step: str, records: list[dict[str, Any]]) -> None:
    """Per-patch outcome of a step in the grid's ``mapsynth_status`` table (one row per patch and step)."""
    with sqlite3.connect(path, timeout=30) as conn:
        conn.execute(STATUS_SCHEMA)
        if conn.execute("SELECT name FROM sqlite_master WHERE name = 'gpkg_contents'").fetchone():
            conn.execute(
                "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                "VALUES (?, 'attributes', ?, 'MapSynth per-patch status of each step')",
                (STATUS_TABLE, STATUS_TABLE),
            )
        conn.executemany(
            "INSERT INTO mapsynth_status (patch_id, step, status, valid_fraction, cloud_fraction, detail, output,"
            " updated) VALUES (:patch_id, :step, :status, :valid_fraction, :cloud_fraction, :detail, :output,"
            " datetime('now')) ON CONFLICT (patch_id, step) DO UPDATE SET status=excluded.status,"
            " valid_fraction=excluded.valid_fraction, cloud_fraction=excluded.cloud_fraction,"
            " detail=excluded.detail, output=excluded.output, updated=excluded.updated",
            [
                {"valid_fraction": None, "cloud_fraction": None, "detail": None, "output": None, **r, "step": step}
                for r in records
            ],
        )


def read_status(path: str | Path, step: str) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute("SELECT * FROM mapsynth_status WHERE step = ?", (step,)).fetchall()
        except sqlite3.OperationalError:
            return {}
    return {row["patch_id"]: dict(row) for row in rows}


# Output folders: a manifest ties a folder to one grid and one set of settings.
MANIFEST = "mapsynth_output.json"


def prepare_output_dir(folder: Path, kind: str, fingerprint: str, details: dict[str, Any]) -> None:
    """Create or reopen ``folder`` for ``kind`` patches of the grid ``fingerprint``; refuse another grid's or
    other settings' (reruns resume, grids never mix)."""
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
    tmp = manifest.with_name(f".{manifest.stem}.{uuid.uuid4().hex[:8]}.partial{manifest.suffix}")
    try:
        record = {"kind": kind, "grid_fingerprint": fingerprint, "details": details}
        tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
        os.replace(tmp, manifest)
    finally:
        tmp.unlink(missing_ok=True)


# Locks: one job per output; the owner record says who holds it, a dead owner's lock is stale.
LOCK_NAME = ".mapsynth.lock"


def lock_path(target: Path, is_dir: bool) -> Path:
    """A folder is locked by a file inside it; a single-file output by a hidden sibling."""
    return target / LOCK_NAME if is_dir else target.with_name(f".{target.name}.mapsynth.lock")


def process_start(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks (Linux), so a reused pid is not taken for the lock's owner."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def lock_owner(command: str, **extra: Any) -> dict[str, Any]:
    """The record written into a lock file by the job taking it."""
    return {
        "pid": os.getpid(),
        "process_start": process_start(os.getpid()),
        "host": socket.gethostname(),
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        **extra,
    }


def owner_alive(owner: dict[str, Any]) -> bool:
    if owner.get("host") != socket.gethostname():
        return True  # cannot tell from here: only a person can declare it stale
    try:
        pid = int(owner.get("pid", -1))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass
    started = owner.get("process_start")
    return started is None or process_start(pid) in (None, started)


def lock_in_use(lock: Path, owner: dict[str, Any], label: str = "OUTPUT_DIR") -> UserError:
    """The one line shown when a live job holds ``lock``."""
    return UserError(
        f"{label}: {lock.parent} is in use by another MapSynth job ({owner.get('command')}, pid {owner.get('pid')}"
        f" on {owner.get('host')}, since {owner.get('started')}); wait for it, stop it, or choose another"
        f" output (if that job is gone, delete {lock})"
    )
