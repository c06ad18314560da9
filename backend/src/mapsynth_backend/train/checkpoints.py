"""Training checkpoints carry a manifest: the SHA-256 of every file, signed with a key private to this
installation. accelerate's ``load_state`` unpickles parts of a checkpoint (through torch's ``weights_only``
loader, and the EMA state without it), so resume only loads a folder this installation wrote and nobody changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from ..contract import cache_dir
from ..runtime.protocol import UserError

CHECKPOINT_MANIFEST = "mapsynth_checkpoint.json"
KEY_NAME = "checkpoint.key"


def _key_path() -> Path:
    return cache_dir() / KEY_NAME


def installation_key(create: bool) -> bytes | None:
    """The secret that signs checkpoint manifests (created once, readable by this user only)."""
    path = _key_path()
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32))
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return bytes.fromhex(text) if len(text) == 64 else None


def _hashes(folder: Path) -> dict[str, str]:
    hashes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != CHECKPOINT_MANIFEST:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):  # noqa: B023
                    digest.update(block)
            hashes[path.relative_to(folder).as_posix()] = digest.hexdigest()
    return hashes


def _signature(key: bytes, files: dict[str, str]) -> str:
    body = json.dumps(files, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def write_manifest(folder: Path) -> None:
    """Called once every process has saved into ``folder`` and before it is renamed to checkpoint-N."""
    key = installation_key(create=True)
    if key is None:
        raise UserError(f"cannot create the checkpoint key {_key_path()}; check the cache folder's permissions")
    files = _hashes(folder)
    manifest = {"files": files, "hmac_sha256": _signature(key, files)}
    (folder / CHECKPOINT_MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def verify_checkpoint(folder: Path) -> None:
    """Refuse, with one line, a checkpoint without a manifest, signed by another installation, or with any file
    added, missing or changed since it was saved; nothing in it is loaded before this passes."""
    refuse = f"RESUME: refusing {folder}:"
    try:
        manifest = json.loads((folder / CHECKPOINT_MANIFEST).read_text(encoding="utf-8"))
        files, signature = dict(manifest["files"]), str(manifest["hmac_sha256"])
    except FileNotFoundError as exc:
        raise UserError(
            f"{refuse} it has no {CHECKPOINT_MANIFEST}, so this installation did not write it (or it was saved by an"
            " older MapSynth); only checkpoints written here are loaded, since they contain pickled state"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{refuse} its {CHECKPOINT_MANIFEST} is unreadable or damaged") from exc
    key = installation_key(create=False)
    if key is None or not hmac.compare_digest(_signature(key, files), signature):
        raise UserError(
            f"{refuse} its manifest was not signed by this installation (key {_key_path()}); only checkpoints"
            " written here are loaded, since they contain pickled state"
        )
    found = _hashes(folder)
    changed = sorted(n for n in files.keys() & found.keys() if files[n] != found[n])
    missing, added = sorted(files.keys() - found.keys()), sorted(found.keys() - files.keys())
    for what, names in (("changed", changed), ("missing", missing), ("added", added)):
        if names:
            raise UserError(
                f"{refuse} {', '.join(names)} {'was' if len(names) == 1 else 'were'} {what} since it was"
                " saved; resume from another checkpoint or start a new training"
            )
