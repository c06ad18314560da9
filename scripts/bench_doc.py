"""docs/BENCHMARKS.md is written only by scripts: each benchmark script writes its own sections, between
``<!-- section: NAME -->`` and ``<!-- /section -->``, and leaves every other section as it is. Each section says
which script wrote it, when, on which machine, and the command that reproduces it (``header``);
tests/unit/test_benchmarks_doc.py checks that. Standard library only: QGIS's Python and the backend's both use it.
"""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "BENCHMARKS.md"
START = "<!-- section: {} -->"
END = "<!-- /section -->"
SECTION = re.compile(r"<!-- section: ([\w-]+) -->\n(.*?)\n<!-- /section -->", re.S)
PREAMBLE = """# Benchmarks

Every section below is written by the script it names, with the date, the machine and the command that reproduces
it; a script rewrites only its own sections. `make bench` reruns the quick ones; the long ones have their own make
target, named in the section. Measured numbers only: nothing here is typed by hand.
"""


def cpu_model() -> str:
    """The CPU model as /proc/cpuinfo names it (Linux), else what the platform says."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    return next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )


def machine() -> str:
    """CPU model and cores, the load when measured (wall times on a shared machine depend on it)."""
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{cpu_model()}, {os.cpu_count()} cores{load}"


def header(script: str, command: str, when: str | None = None, on: str | None = None) -> str:
    """The line every section starts with (after its heading): who wrote it, when, where, how to reproduce it."""
    when = when or time.strftime("%Y-%m-%d %H:%M")
    return f"Written by `{script}` on {when}; machine: {on or machine()}. Reproduce: `{command}`."


def compact_png(path: Path) -> None:
    """Rewrite a picture of the docs as a 256-colour PNG at full compression: the docs ship in the plugin zip, which
    must stay under 25 MB (validate_zip.py); maximum-coverage quantisation keeps every pixel within about 10 of 255
    of its colour (median cut moved some by 57)."""
    from PIL import Image

    with Image.open(path) as image:
        compact = image.convert("RGB").quantize(256, method=Image.Quantize.MAXCOVERAGE)
    compact.save(path, optimize=True)


def sections(text: str) -> dict[str, str]:
    return {name: body for name, body in SECTION.findall(text)}


def write_section(name: str, body: str, doc: Path = DOC, after: str | None = None) -> None:
    """Replace section ``name`` of ``doc`` with ``body`` (a '## ' heading first); a new section goes after section
    ``after`` when given and present, else at the end. Nothing outside the section changes."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else PREAMBLE
    block = f"{START.format(name)}\n{body.strip()}\n{END}"
    found = re.search(re.escape(START.format(name)) + r"\n.*?\n" + re.escape(END), text, re.S)
    if found:
        text = text[: found.start()] + block + text[found.end() :]
    else:
        anchor = re.search(re.escape(START.format(after)) + r"\n.*?\n" + re.escape(END), text, re.S) if after else None
        at = anchor.end() if anchor else len(text)
        head, rest = text[:at].rstrip("\n"), text[at:].strip("\n")
        text = head + "\n\n" + block + "\n" + ("\n" + rest + "\n" if rest else "")
    doc.write_text(text, encoding="utf-8")


def publish(
    summary: dict, out: Path | None, filename: str, section: str | None, body, after: str, doc: Path = DOC
) -> None:
    """A measuring script's end: the summary as one JSON line on stdout, kept as OUT/FILENAME when OUT is given, and
    written as SECTION of the document (body(summary), after section AFTER) when SECTION is given."""
    import json

    print(json.dumps(summary))
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / filename).write_text(json.dumps(summary, indent=2))
    if section:
        write_section(section, body(summary), doc, after=after)
