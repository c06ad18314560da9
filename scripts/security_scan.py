"""Run the plugins.qgis.org security scan on a plugin zip, with the site's tools, commands and rule set, and fail
on any finding (a Bandit or detect-secrets finding blocks a version on the site unless its rule is skipped at
upload; we skip none). Also refuses `# nosec` on the rules the site does not let anyone skip.

Rules copied from github.com/qgis/QGIS-Plugins-Website at 73c20fa990e4 (2026-07-23):
qgis-app/plugins/security_scanner.py (the commands) and qgis-app/plugins/management/commands/data/*.json (rules).
Run it with the Python of the tools venv (bandit, detect-secrets, flake8 next to it): `make zip` does.
Usage: .venv-tools/bin/python scripts/security_scan.py dist/mapsynth-X.Y.Z.zip"""

import json
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from validate_zip import report  # the same output convention (scripts/ is on sys.path)

# bandit_rules.json: enabled rules; the non-skippable ones (severity critical) cannot be skipped at upload
BANDIT_SKIPPABLE = ("B101 B104 B108 B110 B112 B113 B303 B308 B310 B311 B313 B314 B315 B316 B317 B318 B319 B320 "
                    "B324 B403 B405 B406 B407 B408 B409 B504 B508 B509 B603 B606 B607 B608 B614 B702 B703 "
                    "B704").split()
BANDIT_MANDATORY = ("B102 B103 B105 B106 B107 B111 B201 B202 B301 B302 B304 B305 B306 B307 B312 B321 B323 B401 "
                    "B402 B412 B413 B501 B502 B503 B505 B506 B507 B601 B602 B604 B605 B609 B610 B611 B612 B613 "
                    "B615 B701").split()
SECRETS_DISABLED = ("IPPublicDetector",)  # secrets_rules.json: the only disabled detector
FLAKE8_SELECT = ("E101 E711 E712 E713 E714 E721 E722 E731 E741 E742 E743 E901 E902 E999 W605 F402 F403 F404 F405 "
                 "F811 F821 F822 F823 F831 F901 C901").split()
SUSPICIOUS = (".exe", ".dll", ".so", ".dylib", ".bat", ".sh", ".ps1", ".cmd")  # file_analysis: FILE_SUSPICIOUS
TOOLS = Path(sys.executable).parent


def tool(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOOLS / name), *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          check=False)


def bandit(tree: Path, tests: list[str], *extra: str) -> list[dict]:
    done = tool("bandit", "-r", str(tree), "-f", "json", "--quiet", "-t", ",".join(sorted(tests)), *extra)
    report = json.loads(done.stdout)
    return report["results"] + [{"test_id": "ERROR", "filename": e["filename"], "line_number": 0,
                                 "issue_text": e["reason"]} for e in report["errors"]]


def bandit_findings(tree: Path) -> list[str]:
    found = []
    reported = bandit(tree, BANDIT_SKIPPABLE + BANDIT_MANDATORY)
    for r in reported:
        severity = "critical" if r["test_id"] in BANDIT_MANDATORY else "warning"
        found.append(f"bandit {r['test_id']} ({severity}) {r['filename']}:{r['line_number']}: {r['issue_text']}")
    seen = {(r["filename"], r["line_number"], r["test_id"]) for r in reported}
    for r in bandit(tree, BANDIT_MANDATORY, "--ignore-nosec"):
        if (r["filename"], r["line_number"], r["test_id"]) not in seen:
            found.append(f"bandit {r['test_id']} (critical) {r['filename']}:{r['line_number']}: silenced with "
                         f"'# nosec', which plugins.qgis.org does not accept for this rule: fix the code")
    return found


def secrets_findings(tree: Path) -> list[str]:
    args = ["scan", "--all-files", "--exclude-files", r"metadata\.txt", "--exclude-files", r"\.secrets\.baseline"]
    for plugin in SECRETS_DISABLED:
        args += ["--disable-plugin", plugin]
    report = json.loads(tool("detect-secrets", *args, ".", cwd=tree).stdout)
    return [f"detect-secrets {s['type']} {name}:{s['line_number']}" for name, hits in report["results"].items()
            for s in hits]


def flake8_findings(tree: Path) -> list[str]:
    files = sorted(str(p) for p in tree.rglob("*.py"))
    done = tool("flake8", "--max-line-length=120", "--select", ",".join(FLAKE8_SELECT), *files)
    return [f"flake8 {line}" for line in done.stdout.splitlines() if line.strip()]


def file_findings(archive: zipfile.ZipFile) -> list[str]:
    found = []
    for info in archive.infolist():
        mode = info.external_attr >> 16
        if info.filename.lower().endswith(SUSPICIOUS):
            found.append(f"file FILE_SUSPICIOUS (critical) {info.filename}")
        if info.filename.endswith(".py") and mode & 0o111 and not stat.S_ISLNK(mode):
            found.append(f"file FILE_EXECUTABLE (warning) {info.filename}")
    return found


def scan(path: Path) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as archive:
        tree = Path(tmp)
        archive.extractall(tree)
        found = file_findings(archive) + bandit_findings(tree) + secrets_findings(tree) + flake8_findings(tree)
        return [line.replace(str(tree) + os.sep, "") for line in found]


def main() -> int:
    missing = [name for name in ("bandit", "detect-secrets", "flake8") if not (TOOLS / name).exists()]
    if len(sys.argv) != 2 or missing:
        print(f"usage: <tools venv>/bin/python {sys.argv[0]} PLUGIN.zip (missing next to {sys.executable}: "
              f"{', '.join(missing) or 'none'}; `make tools` installs them)", file=sys.stderr)
        return 2
    path = Path(sys.argv[1])
    return report(path, scan(path), "security scan OK (bandit, detect-secrets, flake8 with the plugins.qgis.org rules)")


if __name__ == "__main__":
    sys.exit(main())
