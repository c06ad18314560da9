"""Check a plugin zip the way plugins.qgis.org does: one identifier top folder, metadata, LICENSE, no
bytecode or VCS folders, size limit. Usage: python validate_zip.py dist/mapsynth-X.Y.Z.zip"""

import sys
import zipfile
from configparser import ConfigParser
from pathlib import Path

MAX_BYTES = 25 * 1024 * 1024
REQUIRED = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker",
            "repository")
FORBIDDEN_PARTS = ("__pycache__", ".git", "__MACOSX", ".venv-backend", ".venv-qgis", "tests")


def problems(path: Path) -> list[str]:
    found = []
    if path.stat().st_size > MAX_BYTES:
        found.append(f"zip is {path.stat().st_size / 2**20:.1f} MB, more than 25 MB")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        tops = {name.split("/", 1)[0] for name in names}
        if tops != {"mapsynth"}:
            found.append(f"top-level entries must be one folder 'mapsynth', found {sorted(tops)}")
        for required in ("mapsynth/__init__.py", "mapsynth/metadata.txt", "mapsynth/LICENSE"):
            if required not in names:
                found.append(f"missing {required}")
        for name in names:
            parts = name.split("/")
            if name.endswith((".pyc", ".pyo")) or any(p in FORBIDDEN_PARTS for p in parts[1:]):
                found.append(f"forbidden entry {name}")
        if "mapsynth/metadata.txt" in names:
            meta = ConfigParser(interpolation=None)
            meta.optionxform = str
            meta.read_string(archive.read("mapsynth/metadata.txt").decode("utf-8"))
            for key in REQUIRED:
                if not meta.get("general", key, fallback="").strip():
                    found.append(f"metadata.txt lacks {key}")
    return found


def main() -> int:
    path = Path(sys.argv[1])
    found = problems(path)
    for problem in found:
        print(f"{path}: {problem}", file=sys.stderr)
    if not found:
        print(f"{path}: OK ({path.stat().st_size / 1024:.0f} KiB)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
