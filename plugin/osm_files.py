"""Which OpenStreetMap files MapSynth reads and how GDAL opens them: .osm.pbf, .osm, .osm.gz (GDAL's /vsigzip/
reads it in place), .osm.bz2 (this GDAL build has no /vsibz2/, so it is decompressed once into a cache file) and
GeoPackages of OGR OSM layers. Anything else is refused with one line naming these formats, instead of QGIS's
generic "Incorrect parameter value". Pure Python apart from QgsProcessingException."""

from __future__ import annotations

import bz2
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from qgis.core import QgsProcessingException

from .i18n import tr

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.gz", ".osm.bz2", ".gpkg")
ACCEPTED = ".osm.pbf, .osm, .osm.gz, .osm.bz2 or a GeoPackage of OGR OSM layers (.gpkg)"
# The parameters' file filter lists the OSM formats first; "All files" lets any other name reach checked_osm_path,
# whose message names the accepted formats (QGIS would refuse it with "Incorrect parameter value" only).
OSM_FILE_FILTER = "OpenStreetMap (*.osm.pbf *.pbf *.osm *.osm.gz *.osm.bz2 *.gpkg);;All files (*)"


def is_osm_path(path: str) -> bool:
    return str(path).lower().endswith(OSM_SUFFIXES)


def looks_like_osm(path: str) -> bool:
    """Named like an OSM extract (e.g. .osm.xz, .pbf.zip) though not in a format MapSynth reads."""
    return ".osm" in Path(path).name.lower() or ".pbf" in Path(path).name.lower()


def checked_osm_path(path: str, label: str = "OSM_FILE") -> str:
    """``path`` when it exists and has an accepted suffix; else one QgsProcessingException saying what to give."""
    if not Path(path).is_file():
        raise QgsProcessingException(tr("{label}: file not found: {path}").format(label=label, path=path))
    if not is_osm_path(path):
        raise QgsProcessingException(
            tr("{label}: expected {accepted}, got {path}").format(label=label, accepted=ACCEPTED, path=path)
        )
    return path


def gdal_osm_path(path: str) -> str:
    """The name GDAL/OGR opens ``path`` by: /vsigzip/ for .osm.gz, a decompressed cache copy for .osm.bz2."""
    lower = str(path).lower()
    if lower.endswith(".gz"):
        return "/vsigzip/" + str(Path(path).resolve())
    if lower.endswith(".bz2"):
        return str(decompressed_bz2(Path(path)))
    return str(path)


def decompressed_bz2(path: Path) -> Path:
    """A decompressed copy of ``path`` in the temp folder, named by its path, size and modification time, so a
    second step (or a rerun) reuses it; written under a temporary name first (never a half-written copy)."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "mapsynth-osm"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.name[: -len('.bz2')]}.{key}.osm"
    if not target.is_file():
        partial = target.with_suffix(f".part{os.getpid()}")
        try:
            with bz2.open(path, "rb") as source, open(partial, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        except (OSError, EOFError) as exc:
            partial.unlink(missing_ok=True)
            raise QgsProcessingException(
                tr("OSM_FILE: cannot decompress {path}: {msg}").format(path=path, msg=exc)
            ) from exc
        partial.replace(target)
    return target
