"""docs/BENCHMARKS.md is written only by scripts: every section sits between markers, names the script that wrote
it (which really writes that section), the date, the machine and a command that reproduces it; a script rewrites
only its own section (scripts/bench_doc.py); and every link into BENCHMARKS.md from the README and the docs
resolves to a heading."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "BENCHMARKS.md"
HEADER = re.compile(r"Written by `(scripts/[\w./-]+)` on (\d{4}-\d{2}-\d{2})[^;]*; machine: (.+?)\. "
                    r"Reproduce: `([^`]+)`")


def bench_doc():
    spec = importlib.util.spec_from_file_location("bench_doc", ROOT / "scripts" / "bench_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_recipe(target: str) -> str:
    """The recipe lines of a Makefile target (tab-indented lines after 'target:')."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(target)}:", line)), None)
    assert start is not None, f"no make target {target}"
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line)
    return "\n".join(recipe)


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


SECTIONS = bench_doc().sections(DOC.read_text(encoding="utf-8"))


def test_nothing_outside_the_sections_but_the_preamble():
    text = DOC.read_text(encoding="utf-8")
    outside = bench_doc().SECTION.sub("", text)
    assert outside.strip() == bench_doc().PREAMBLE.strip(), "text outside a script's section"
    assert len(SECTIONS) >= 8
    assert not re.search(r"\bissues? \d+", text, re.I), "no issue numbers in user documentation"


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_each_section_names_its_script_date_machine_and_command(name):
    body = SECTIONS[name]
    assert body.startswith("## "), f"{name}: a section starts with its heading"
    found = HEADER.search(body)
    assert found, f"{name}: no 'Written by `scripts/...` on DATE; machine: ...cores... Reproduce: `...`' line"
    script, _, machine, command = found.groups()
    assert "cores" in machine, f"{name}: the machine names its cores"
    source = (ROOT / script).read_text(encoding="utf-8")
    assert f'"{name}"' in source and "write_section" in source, f"{name}: {script} does not write this section"
    if command.startswith("make "):
        assert Path(script).name in make_recipe(command.split()[1]), f"{name}: `{command}` does not run {script}"
    else:
        assert (ROOT / command.split()[0]).exists() or command.split()[0].endswith("python"), command


BENCH_TARGETS = ("bench", "bench-realism", "bench-realism-ablation", "bench-realism-training", "bench-realism-cues",
                 "bench-realism-fields", "bench-realism-parcels", "bench-realism-tones", "bench-realism-regions",
                 "bench-realism-voronoi", "bench-realism-layout-model",
                 "bench-realism-settlements",
                 "bench-realism-whiten", "bench-realism-guidance-below",
                 "bench-realism-band-weights", "bench-realism-guard-mask", "bench-realism-sampler",
                 "bench-realism-seen-maps", "bench-realism-longer", "bench-realism-preset",
                 "bench-realism-scaling", "bench-realism-calibration", "bench-realism-sensor-mtf",
                 "bench-realism-shorter",
                 "bench-realism-guidance", "bench-realism-cosine",
                 "bench-realism-minsnr",
                 "bench-area",
                 "bench-water", "bench-pix2pix", "experiment")


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_a_make_target_rewrites_each_section(name):
    """make bench regenerates the document; a long section may have its own bench target, named in the section."""
    script = HEADER.search(SECTIONS[name]).group(1)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = [t for t in BENCH_TARGETS if re.search(rf"^{re.escape(t)}:", makefile, re.M)]
    running = [t for t in targets if Path(script).name in make_recipe(t)]
    assert running, f"{name}: no make target of {targets} runs {script}"
    command = HEADER.search(SECTIONS[name]).group(4)
    assert command.split()[:2] in (["make", t] for t in running), f"{name}: the section names `{command}`"


def test_write_section_rewrites_only_its_own_section(tmp_path):
    module = bench_doc()
    doc = tmp_path / "B.md"
    module.write_section("one", "## One\n\nfirst", doc)
    module.write_section("two", "## Two\n\nsecond", doc)
    module.write_section("three", "## Three\n\nthird", doc, after="one")
    assert list(module.sections(doc.read_text())) == ["one", "three", "two"]
    before = doc.read_text()
    module.write_section("three", "## Three\n\nthird, again", doc)
    after = doc.read_text()
    assert module.sections(after)["three"] == "## Three\n\nthird, again"
    assert after.replace("third, again", "third") == before
    assert after.startswith(module.PREAMBLE)


def test_publish_keeps_the_summary_and_writes_the_section_only_when_asked(tmp_path, capsys):
    module = bench_doc()
    doc = tmp_path / "B.md"
    summary = {"patches": 3, "accuracy": 0.5}
    module.publish(summary, tmp_path / "out", "s.json", None, lambda s: f"## S\n\n{s['patches']}", "x", doc)
    assert json.loads((tmp_path / "out" / "s.json").read_text()) == summary
    assert json.loads(capsys.readouterr().out) == summary
    assert not doc.exists()
    module.publish(summary, None, "s.json", "s", lambda s: f"## S\n\n{s['patches']} patches", "x", doc)
    assert module.sections(doc.read_text()) == {"s": "## S\n\n3 patches"}


def links_into_benchmarks() -> list[tuple[str, str]]:
    """(file, anchor) of every Markdown link to BENCHMARKS.md#anchor in the README and docs/."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for anchor in re.findall(r"\]\((?:[\w./]*/)?BENCHMARKS\.md#([^)\s]+)\)", path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), anchor))
    return found


@pytest.mark.parametrize(("source", "anchor"), links_into_benchmarks())
def test_every_link_into_the_benchmarks_resolves(source, anchor):
    headings = re.findall(r"^#{1,6} (.+)$", DOC.read_text(encoding="utf-8"), re.M)
    anchors = {slug(h) for h in headings}
    assert anchor in anchors, f"{source} links to BENCHMARKS.md#{anchor}, which no heading has"
