"""The algorithm reference (docs/algorithms.md and resources/help/algorithms.html) is current: regenerated here from
the loaded algorithms and `mapsynth describe --json` by scripts/make_algorithms_doc.py and compared; and every
algorithm's Help button opens a page that exists, at an anchor that exists."""

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location("make_algorithms_doc", ROOT / "scripts" / "make_algorithms_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def docs():
    return load_script()


@pytest.fixture(scope="module")
def algorithms(plugin):
    from qgis.core import QgsApplication

    return QgsApplication.processingRegistry().providerById("mapsynth").algorithms()


@pytest.fixture(scope="module")
def expected(docs, plugin, backend_python):
    from mapsynth.processing_provider.provider import ALGORITHMS
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    ordered = [registry.algorithmById(f"mapsynth:{cls().name()}") for cls in ALGORITHMS]
    return docs.render(ordered, docs.backend_described(backend_python))


def test_the_reference_is_current(expected):
    stale = [str(path.relative_to(ROOT)) for path, text in expected.items()
             if not path.is_file() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"{stale} out of date: run 'make docs' (scripts/make_algorithms_doc.py)"


def test_the_reference_covers_every_algorithm_parameter_and_choice(expected, algorithms, docs):
    """Not vacuous: each algorithm's parameter ids and choices are on the page (a new parameter shows up)."""
    page = expected[docs.MARKDOWN]
    for algorithm in algorithms:
        assert f'<a id="{algorithm.name()}"></a>' in page
        section = page.split(f'<a id="{algorithm.name()}"></a>', 1)[1].split("<a id=", 1)[0]
        for definition in algorithm.parameterDefinitions():
            assert f"| `{definition.name()}` |" in section, f"{algorithm.name()}: {definition.name()} missing"
            if definition.type() == "enum":
                assert ", ".join(definition.options()) in section


def test_the_reference_notices_a_changed_default(docs, algorithms, backend_python):
    """A parameter whose default changes changes the page."""
    from qgis.core import QgsProcessingParameterNumber

    algorithm = next(a for a in algorithms if a.name() == "generate_patches").create()  # initialised copy
    described = docs.backend_described(backend_python)
    before = docs.markdown(docs.collect([algorithm], described), [])
    definition = algorithm.parameterDefinition("VARIATIONS")
    assert isinstance(definition, QgsProcessingParameterNumber)
    definition.setDefaultValue(int(definition.defaultValue()) + 1)
    assert docs.markdown(docs.collect([algorithm], described), []) != before


def test_the_help_button_opens_the_shipped_reference_at_the_algorithm(algorithms):
    from qgis.PyQt.QtCore import QUrl

    assert len(algorithms) >= 16
    for algorithm in algorithms:
        url = QUrl(algorithm.helpUrl())
        assert url.isLocalFile(), f"{algorithm.name()}: {algorithm.helpUrl()} is not a local file"
        page = Path(url.toLocalFile())
        assert page.is_file(), f"{algorithm.name()}: {page} does not exist"
        assert page.resolve().is_relative_to(ROOT.resolve()), "the page must ship inside the plugin"
        assert url.fragment() == algorithm.name()
        anchors = set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))
        assert url.fragment() in anchors, f"{algorithm.name()}: no anchor #{url.fragment()} in {page}"


def test_the_help_page_is_committed_so_the_zip_ships_it():
    """make zip is a git archive of HEAD: the page must be tracked (and not export-ignored)."""
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "resources/help/algorithms.html"],
                             capture_output=True, text=True, check=False)
    if tracked.returncode:
        pytest.skip("not a git checkout")
    assert tracked.stdout.strip() == "resources/help/algorithms.html"
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-attr", "export-ignore", "resources/help/algorithms.html"],
                             capture_output=True, text=True, check=True)
    assert ignored.stdout.strip().endswith(": unspecified")
