"""Output folders of per-patch steps: a manifest ties a folder to one grid and one set of settings, files are
written under temporary names and renamed when complete, so reruns resume and never mix grids."""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..contract import (
    LOCK_NAME,
    MANIFEST,
    UserError,
    lock_in_use,
    lock_owner,
    lock_path,
    owner_alive,
    prepare_output_dir,
)

__all__ = ["MANIFEST", "OutputLock", "atomic_write", "lock_path", "output_lock", "prepare_output_dir"]

FULL_CHECK_BYTES = 256 << 20
# GeoPackage 1.2, not the 1.4 that recent GDAL writes by default: QGIS 3.22's GDAL (3.6) warns "may only be
# partially supported" on every load of a 1.4 file; 1.2 holds everything MapSynth writes
GPKG_OPTIONS = {"VERSION": "1.2"}


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary sibling, check it reads back, then rename it to ``path``; no partial
    file survives, whatever fails (GDAL only logs write errors such as a full disk)."""
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    try:
        write(tmp)
        if tmp.suffix.lower() in (".tif", ".tiff"):
            _check_raster(tmp, path)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(
                f"no space left on the device of {path.parent}; free some or choose another output"
            ) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _check_raster(tmp: Path, path: Path) -> None:
    """Read the written GeoTIFF back: every block of small files, the last block of each band of large ones."""
    import rasterio

    broken = f"writing {path} failed (disk full or write error): the file came out incomplete"
    try:
        with rasterio.open(tmp) as src:
            if tmp.stat().st_size < FULL_CHECK_BYTES:
                src.read()
            else:
                windows = list(src.block_windows(1))
                for band in src.indexes:
                    src.read(band, window=windows[-1][1])
    except rasterio.errors.RasterioError as exc:
        free = shutil.disk_usage(tmp.parent).free
        reason = "no space left on its device" if free < 1 << 20 else str(exc).splitlines()[0]
        raise UserError(f"{broken} ({reason})") from exc


class OutputLock:
    """Exclusive use of an output folder or file by one job: a lock file with the owner's pid, host and
    command. A second job is refused with one line; a lock whose owner died (kill, crash, power cut) is stale
    and taken over. Only the first process of an ``accelerate launch`` takes it."""

    def __init__(self, target: Path, is_dir: bool, command: str, reporter=None, label: str = "OUTPUT_DIR") -> None:
        self.path = lock_path(target, is_dir)
        self.command = command
        self.reporter = reporter
        self.label = label
        self.held = False
        self.created: list[Path] = []

    def __enter__(self) -> OutputLock:
        if int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0) > 0:
            return self
        missing = [p for p in (self.path.parent, *self.path.parent.parents) if not p.exists()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.label}: cannot create the folder {self.path.parent}: {exc.strerror}") from exc
        self.created = missing
        me = lock_owner(self.command)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._recover_stale()
                continue
            except OSError as exc:
                self._remove_created()
                raise UserError(f"{self.label}: cannot write into {self.path.parent}: {exc.strerror}") from exc
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(me, handle)
            self.held = True
            self._sweep_partials()
            return self
        raise UserError(f"could not lock {self.path.parent}: another job keeps taking it")

    def _sweep_partials(self) -> None:
        """Temporary files of a job that was killed: with the lock held, nobody else can be writing them."""
        if self.path.name == LOCK_NAME:
            leftovers = list(self.path.parent.rglob(".*.partial*"))
        else:
            stem = self.path.name[1 : -len(".mapsynth.lock")].rsplit(".", 1)[0]
            leftovers = list(self.path.parent.glob(f".{glob.escape(stem)}*.partial*"))
        for leftover in leftovers:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        if leftovers and self.reporter is not None:
            self.reporter.log(f"removed {len(leftovers)} unfinished file(s) of an interrupted run", "warning")

    def _recover_stale(self) -> None:
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            owner = {}  # an empty or torn lock: its writer died between create and write
        if owner and owner_alive(owner):
            raise lock_in_use(self.path, owner, self.label)
        stale = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex[:8]}.stale")
        try:
            os.replace(self.path, stale)
            stale.unlink()
        except FileNotFoundError:
            return
        if self.reporter is not None:
            self.reporter.log(f"recovered a stale lock of pid {owner.get('pid')} ({owner.get('command')})", "warning")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if not self.held:
            return
        if exc_type is not None and self.path.name == LOCK_NAME:
            names = {p.name for p in self.path.parent.iterdir()} - {LOCK_NAME}
            if names == {MANIFEST}:  # failed before writing anything: no folder that looks started or done
                (self.path.parent / MANIFEST).unlink(missing_ok=True)
        try:
            if json.loads(self.path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                self.path.unlink()
        except (OSError, ValueError):
            pass
        self.held = False
        self._remove_created()

    def _remove_created(self) -> None:
        """Folders this job created and left empty (it failed before writing) go again."""
        for folder in self.created:
            try:
                folder.rmdir()
            except OSError:
                break


def output_lock(command: str, params: dict[str, Any], reporter=None) -> OutputLock | None:
    """The lock of a command's main output (``output_dir`` or ``output``), if it has one."""
    if params.get("output_dir"):
        return OutputLock(Path(params["output_dir"]), True, command, reporter)
    if params.get("output"):
        return OutputLock(Path(params["output"]), False, command, reporter, "OUTPUT")
    return None
