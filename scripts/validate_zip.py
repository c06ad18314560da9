"""Check a plugin zip the way plugins.qgis.org does, and stricter: one identifier top folder, metadata, LICENSE,
nothing that is not plugin source (symlinks, dot-files and dot-folders, bytecode, wheels, databases, pickles, files
over 20 MB). --release also refuses placeholder contacts (reserved domains) and development versions.
Usage: python validate_zip.py [--release] dist/mapsynth-X.Y.Z.zip"""

import re
import stat
import sys
import zipfile
from configparser import ConfigParser
from pathlib import Path
from urllib.parse import urlparse

MAX_BYTES = 25 * 1024 * 1024
MAX_MEMBER_BYTES = 20 * 1024 * 1024
REQUIRED = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker",
            "repository")
FORBIDDEN_PARTS = ("__pycache__", "__MACOSX", "tests")
# bytecode, wheels, databases (a QGIS profile's qgis-auth.db holds credentials) and pickles (code on load)
FORBIDDEN_SUFFIXES = (".pyc", ".pyo", ".whl", ".db", ".sqlite", ".pkl", ".pickle")
URL_KEYS = ("tracker", "repository", "homepage")
# RFC 2606 / RFC 6761 names that can never be a real contact
RESERVED_TLDS = ("test", "example", "invalid", "localhost")
RESERVED_DOMAINS = ("example.org", "example.com", "example.net")


def reserved(host: str) -> bool:
    host = host.lower().rstrip(".")
    return (host == "localhost" or host.rsplit(".", 1)[-1] in RESERVED_TLDS
            or any(host == d or host.endswith("." + d) for d in RESERVED_DOMAINS))


def contact_problems(meta) -> list[str]:
    """A release's email and URLs must be real: no placeholder, no reserved domain, https."""
    found = []
    email = meta.get("email", "")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) or reserved(email.rsplit("@", 1)[-1]):
        found.append(f"metadata.txt email {email!r} is a placeholder or on a reserved domain; give EMAIL=")
    for key in URL_KEYS:
        url = urlparse(meta.get(key, ""))
        if url.scheme != "https" or not url.hostname or reserved(url.hostname):
            found.append(f"metadata.txt {key} {meta.get(key, '')!r} is not an https URL on a real domain; give "
                         f"{key.upper()}_URL=")
    if not re.fullmatch(r"\d+\.\d+\.\d+", meta.get("version", "")):
        found.append(f"metadata.txt version {meta.get('version', '')!r} is not a release version X.Y.Z")
    return found


def entry_problems(info: zipfile.ZipInfo) -> list[str]:
    name, parts = info.filename, info.filename.rstrip("/").split("/")
    mode = info.external_attr >> 16
    found = []
    if stat.S_ISLNK(mode):
        found.append(f"symlink {name}")
    if name.startswith("/") or ".." in parts or "\\" in name:
        found.append(f"path outside the plugin folder {name}")
    if any(p.startswith(".") for p in parts[1:]):
        found.append(f"dot-file or dot-folder {name}")
    if name.lower().endswith(FORBIDDEN_SUFFIXES) or any(p in FORBIDDEN_PARTS for p in parts[1:]):
        found.append(f"forbidden entry {name}")
    if info.file_size > MAX_MEMBER_BYTES:
        found.append(f"{name} is {info.file_size / 2**20:.1f} MB, more than 20 MB")
    return found


def problems(path: Path, release: bool = False) -> list[str]:
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
        for info in archive.infolist():
            found.extend(entry_problems(info))
        if "mapsynth/metadata.txt" in names:
            meta = ConfigParser(interpolation=None)
            meta.optionxform = str
            meta.read_string(archive.read("mapsynth/metadata.txt").decode("utf-8"))
            for key in REQUIRED:
                if not meta.get("general", key, fallback="").strip():
                    found.append(f"metadata.txt lacks {key}")
            if release and meta.has_section("general"):
                found.extend(contact_problems(meta["general"]))
    return found


def report(path: Path, found: list[str], ok: str) -> int:
    """One line per problem on stderr and exit code 1, or the OK line (shared with security_scan.py)."""
    for problem in found:
        print(f"{path}: {problem}", file=sys.stderr)
    if not found:
        print(f"{path}: {ok}")
    return 1 if found else 0


def main() -> int:
    args = sys.argv[1:]
    release = "--release" in args
    path = Path([a for a in args if a != "--release"][0])
    return report(path, problems(path, release),
                  f"OK ({path.stat().st_size / 1024:.0f} KiB{', release' if release else ''})")


if __name__ == "__main__":
    sys.exit(main())
