"""make docs: the algorithm reference, docs/algorithms.md, and its HTML twin resources/help/algorithms.html (what
each algorithm's Help button opens), written from the algorithms' own definitions and help in QGIS and from the
backend's `mapsynth describe --json`, so the reference cannot drift from the code (tests/qgis/test_algorithm_docs.py
regenerates both and compares).

Run with QGIS's Python: QT_QPA_PLATFORM=offscreen .venv-qgis/bin/python scripts/make_algorithms_doc.py [--check]
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN = ROOT / "docs" / "algorithms.md"
HTML = ROOT / "resources" / "help" / "algorithms.html"
COMMAND = "make docs"
# Parameter types as a GIS user reads them (QgsProcessingParameterDefinition.type() -> words).
TYPES = {
    "boolean": "yes / no",
    "crs": "CRS",
    "distance": "distance",
    "enum": "choice",
    "extent": "extent",
    "field": "field",
    "file": "file",
    "fileDestination": "output file",
    "folderDestination": "output folder",
    "multilayer": "layers",
    "number": "number",
    "raster": "raster layer",
    "rasterDestination": "output raster",
    "string": "text",
    "vector": "vector layer",
    "vectorDestination": "output vector",
    "source": "vector features",
}
NO_LIMIT = 1e300  # QgsProcessingParameterNumber's unset minimum / maximum are +-DBL_MAX


def backend_described(python: Path) -> dict:
    """`mapsynth describe --json`: every backend command's parameters, keyed by the QGIS algorithm name."""
    done = subprocess.run([str(python), "-I", "-m", "mapsynth_backend", "describe", "--json"], capture_output=True,
                          text=True, check=True, timeout=300)
    return json.loads(done.stdout)


def number(value: float, integer: bool) -> str:
    return str(int(value)) if integer else f"{value:g}"


def type_of(definition) -> str:
    kind = definition.type()
    words = TYPES.get(kind, kind)
    if kind == "number":
        words = "integer" if definition.dataType() == definition.Integer else "decimal number"
    elif kind == "file":
        words = "folder" if definition.behavior() == definition.Folder else "file"
        if definition.extension():
            words += f" (.{definition.extension()})"
    elif kind == "enum" and definition.allowMultiple():
        words = "choices (several)"
    return words


def default_of(definition) -> str:
    """The default as the dialog shows it: option names for choices, yes/no, numbers as typed."""
    value = definition.defaultValue()
    kind = definition.type()
    if value is None or value == "" or value == []:
        return ""
    if kind == "enum":
        indices = value if isinstance(value, list) else [value]
        return ", ".join(definition.options()[int(i)] for i in indices)
    if kind == "boolean":
        return "yes" if value else "no"
    if kind == "number":
        return number(float(value), definition.dataType() == definition.Integer)
    return str(value).replace(str(ROOT), "<plugin folder>")


def values_of(definition) -> str:
    """Choices of a choice, the range of a number."""
    if definition.type() == "enum":
        return ", ".join(definition.options())
    if definition.type() == "number":
        integer = definition.dataType() == definition.Integer
        low, high = definition.minimum(), definition.maximum()
        low_text = number(low, integer) if math.isfinite(low) and abs(low) < NO_LIMIT else ""
        high_text = number(high, integer) if math.isfinite(high) and abs(high) < NO_LIMIT else ""
        if low_text or high_text:
            return f"{low_text or '…'} to {high_text or '…'}"
    return ""


def paragraphs(algorithm) -> list[str]:
    """The plain-text paragraphs of the dialog's help (base.help_html: paragraphs, then generated lists)."""
    parts = algorithm.shortHelpString().split("<br><br>")
    return [html.unescape(part) for part in parts if part and not part.startswith("<b>")]


def backend_only(algorithms, described: dict) -> list[dict]:
    """Backend commands that no toolbox algorithm serves (helpers for scripts), with their flags."""
    served = {algorithm.name() for algorithm in algorithms}
    return [{"command": name.replace("_", "-"), "flags": [
        {"flag": "--" + key.replace("_", "-"), "default": value["default"], "type": value.get("type", ""),
         "help": value.get("help", "")} for key, value in params.items()]}
        for name, params in described.items() if name not in served]


def collect(algorithms, described: dict) -> list[dict]:
    """One entry per algorithm, in the toolbox's provider order: what both renderings show."""
    entries = []
    for algorithm in algorithms:
        name = algorithm.name()
        backend = described.get(name)
        params = []
        for definition in algorithm.parameterDefinitions():
            flags = definition.flags()
            params.append({
                "label": definition.description(), "name": definition.name(), "type": type_of(definition),
                "default": default_of(definition), "values": values_of(definition), "help": definition.help(),
                "optional": bool(flags & definition.FlagOptional), "advanced": bool(flags & definition.FlagAdvanced),
                "output": definition.isDestination()})
        qgis_names = {p["name"].lower() for p in params}
        cli_only = [{"flag": "--" + key.replace("_", "-"), "default": value["default"],
                     "type": value.get("type", ""), "help": value.get("help", "")}
                    for key, value in (backend or {}).items() if key not in qgis_names]
        outputs = [{"label": out.description(), "name": out.name(), "type": out.type().replace("output", "", 1)}
                   for out in algorithm.outputDefinitions()]
        entries.append({"id": name, "display": algorithm.displayName(), "group": algorithm.group(),
                        "command": name.replace("_", "-") if backend is not None else "",
                        "help": paragraphs(algorithm), "params": params, "outputs": outputs, "cli_only": cli_only})
    return entries


def cell(text: str) -> str:
    """Markdown table cell: HTML-escaped (placeholders such as <patch_id> stay visible), pipes escaped."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def notes(param: dict) -> str:
    return ", ".join(n for n, on in (("optional", param["optional"]), ("advanced", param["advanced"])) if on)


def intro(entries: list[dict]) -> list[str]:
    return [
        "Every MapSynth algorithm of the Processing toolbox (provider MapSynth), with its parameters as the dialog "
        "shows them. **Name** is the parameter's id for `qgis_process`, the graphical modeler and "
        "`processing.run(\"mapsynth:<algorithm>\", {...})`; algorithms that run the backend also exist as a "
        "command line (`mapsynth <command> --help` in the backend's environment), whose flags are the names in "
        "lower case with dashes.",
        f"Written by `scripts/make_algorithms_doc.py` (`{COMMAND}`) from the algorithms' definitions and the "
        f"backend's `mapsynth describe --json`; do not edit by hand. {len(entries)} algorithms.",
    ]


def flag_text(flag: dict, escape, code: str) -> str:
    """A command-line flag with its type, default and help, for the page (``code``: how code is marked)."""
    default = "required" if flag["default"] is None else f"default {json.dumps(flag['default'])}"
    text = code.format(flag["flag"]) + f" ({escape(flag['type'])}, {escape(default)})"
    return text + (f": {escape(flag['help'])}" if flag["help"] else "")


def flags_md(flags: list[dict]) -> str:
    return "; ".join(flag_text(flag, cell, "`{}`") for flag in flags)


def markdown(entries: list[dict], commands: list[dict]) -> str:
    lines = ["# Algorithm reference", "", *[p + "\n" for p in intro(entries)]]
    for group in dict.fromkeys(e["group"] for e in entries):
        lines.append(f"- **{group}**: " + ", ".join(f"[{e['display']}](#{e['id']})" for e in entries
                                                    if e["group"] == group))
    for entry in entries:
        lines += ["", f'<a id="{entry["id"]}"></a>', "", f"## {entry['display']}", "",
                  f"`mapsynth:{entry['id']}` · {entry['group']}"
                  + (f" · command line: `mapsynth {entry['command']}`" if entry["command"] else ""), ""]
        for paragraph in entry["help"]:
            lines += [cell(paragraph).replace("\\|", "|"), ""]
        lines += ["| Parameter | Name | Type | Default | Values | Notes | Description |",
                  "|---|---|---|---|---|---|---|"]
        for p in entry["params"]:
            lines.append(f"| {cell(p['label'])} | `{p['name']}` | {cell(p['type'])} | {cell(p['default'])} | "
                         f"{cell(p['values'])} | {notes(p)} | {cell(p['help'])} |")
        if entry["outputs"]:
            lines += ["", "Outputs: " + "; ".join(f"**{cell(o['label'])}** (`{o['name']}`, {o['type']})"
                                                 for o in entry["outputs"]) + "."]
        if entry["cli_only"]:
            lines += ["", f"Command line only: {flags_md(entry['cli_only'])}."]
    lines += ["", '<a id="backend-commands"></a>', "", "## Command-line helpers", "",
              "Backend commands without a toolbox algorithm (`mapsynth <command> --help` in the backend's "
              "environment):", ""]
    for command in commands:
        lines.append(f"- `mapsynth {command['command']}`: {flags_md(command['flags'])}")
    return "\n".join(lines) + "\n"


def flags_html(flags: list[dict]) -> str:
    return "; ".join(flag_text(flag, html.escape, "<code>{}</code>") for flag in flags)


def html_page(entries: list[dict], commands: list[dict]) -> str:
    """The same reference as one self-contained HTML page, an anchor per algorithm (id = algorithm name)."""
    esc = html.escape
    body = [f"<p>{esc(p)}</p>" for p in intro(entries)]
    body.append("<ul>" + "".join(
        f"<li><b>{esc(group)}</b>: " + ", ".join(f'<a href="#{e["id"]}">{esc(e["display"])}</a>'
                                                 for e in entries if e["group"] == group) + "</li>"
        for group in dict.fromkeys(e["group"] for e in entries)) + "</ul>")
    for entry in entries:
        body.append(f'<h2 id="{entry["id"]}">{esc(entry["display"])}</h2>')
        body.append(f"<p class=\"meta\"><code>mapsynth:{entry['id']}</code> · {esc(entry['group'])}"
                    + (f" · command line: <code>mapsynth {entry['command']}</code>" if entry["command"] else "")
                    + "</p>")
        body += [f"<p>{esc(p)}</p>" for p in entry["help"]]
        rows = "".join(
            f"<tr><td>{esc(p['label'])}</td><td><code>{p['name']}</code></td><td>{esc(p['type'])}</td>"
            f"<td>{esc(p['default'])}</td><td>{esc(p['values'])}</td><td>{notes(p)}</td><td>{esc(p['help'])}</td></tr>"
            for p in entry["params"])
        body.append("<table><tr><th>Parameter</th><th>Name</th><th>Type</th><th>Default</th><th>Values</th>"
                    f"<th>Notes</th><th>Description</th></tr>{rows}</table>")
        if entry["outputs"]:
            body.append("<p>Outputs: " + "; ".join(
                f"<b>{esc(o['label'])}</b> (<code>{o['name']}</code>, {esc(o['type'])})" for o in entry["outputs"])
                + ".</p>")
        if entry["cli_only"]:
            body.append(f"<p>Command line only: {flags_html(entry['cli_only'])}.</p>")
    body.append('<h2 id="backend-commands">Command-line helpers</h2><p>Backend commands without a toolbox '
                "algorithm (<code>mapsynth &lt;command&gt; --help</code> in the backend's environment):</p><ul>"
                + "".join(f"<li><code>mapsynth {c['command']}</code>: {flags_html(c['flags'])}</li>"
                          for c in commands) + "</ul>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:1em auto;padding:0 1em;line-height:1.4}"
             "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:.2em .4em;"
             "vertical-align:top;text-align:left}.meta{color:#555}h2{margin-top:2em}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>MapSynth algorithm reference"
            f"</title><style>{style}</style></head><body>\n<h1>MapSynth algorithm reference</h1>\n"
            + "\n".join(body) + "\n</body></html>\n")


def render(algorithms, described: dict) -> dict[Path, str]:
    """Both files' expected contents."""
    entries, commands = collect(algorithms, described), backend_only(algorithms, described)
    return {MARKDOWN: markdown(entries, commands), HTML: html_page(entries, commands)}


def start_qgis():
    """Headless QGIS with the plugin loaded as package ``mapsynth`` (as the tests load it)."""
    plugins = Path(tempfile.mkdtemp(prefix="mapsynth-docs-"))
    (plugins / "mapsynth").symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(plugins))
    os.environ.setdefault("QGIS_CUSTOM_CONFIG_PATH", tempfile.mkdtemp(prefix="mapsynth-docs-profile-"))
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append(str(Path(QgsApplication.pkgDataPath()) / "python" / "plugins"))  # processing
    from processing.core.Processing import Processing

    Processing.initialize()
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are current")
    parser.add_argument("--backend-python", type=Path, default=Path(
        os.environ.get("MAPSYNTH_BACKEND_PYTHON") or ROOT / ".venv-backend" / "bin" / "python"))
    args = parser.parse_args()
    app = start_qgis()
    from mapsynth.processing_provider.provider import ALGORITHMS

    algorithms = []
    for cls in ALGORITHMS:
        algorithm = cls()
        algorithm.initAlgorithm()
        algorithms.append(algorithm)
    stale = []
    for path, text in render(algorithms, backend_described(args.backend_python)).items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    del algorithms
    app.exitQgis()
    if args.check and stale:
        print(f"out of date: {', '.join(map(str, stale))}; run '{COMMAND}'", file=sys.stderr)
        return 1
    print("written: " + ", ".join(map(str, stale)) if stale else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
