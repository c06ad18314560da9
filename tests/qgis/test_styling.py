"""Results styled as a GIS user expects, in demo.qgz (scripts/make_demo_project.py, run as `make demo` runs it) and
after a toolbox run (QGIS's own result loading calls our post-processors): coverage legends 0..1 (never "nan"),
buildings by class with semi-transparent fills, thin red seams, true colour above the NIR false colour, band legends
such as "B04 (red)"."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "gui"))
import demo_fixture  # noqa: E402


def legend(project) -> dict[str, list[str]]:
    from qgis.core import QgsLayerTreeModel

    return demo_fixture.legend_texts(project.layerTreeRoot(), QgsLayerTreeModel(project.layerTreeRoot()))


def check_styles(project, group_name: str) -> None:
    from qgis.core import QgsCategorizedSymbolRenderer, QgsSingleBandPseudoColorRenderer

    group = project.layerTreeRoot().findGroup(group_name)
    assert group is not None, [c.name() for c in project.layerTreeRoot().children()]
    names = [child.name() for child in group.children()]
    true_colour = next(n for n in names if "true colour" in n)
    false_colour = next(n for n in names if "NIR false colour" in n)
    assert names.index(true_colour) < names.index(false_colour), names  # above = earlier in the tree
    texts = legend(project)
    assert texts[true_colour] == ["B04 (red)", "B03 (green)", "B02 (blue)"], texts[true_colour]
    assert texts[false_colour] == ["B08 (near infrared)", "B04 (red)", "B03 (green)"], texts[false_colour]
    assert not [(n, t) for n, ts in texts.items() for t in ts if "nan" in t.lower()], texts
    for node in group.findLayers():
        layer = node.layer()
        renderer = layer.renderer()
        if "colour" in node.name():  # QGIS shows reflectance (band scale/offset): the stretch is 0..0.25 / 0..0.5
            enhancement = renderer.redContrastEnhancement()
            expected = (0.0, 0.5) if "NIR" in node.name() else (0.0, 0.25)
            actual = (enhancement.minimumValue(), enhancement.maximumValue())
            assert actual == pytest.approx(expected, abs=1e-6), (node.name(), actual)
        if "coverage" in node.name():
            assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
            assert (renderer.classificationMin(), renderer.classificationMax()) == (0.0, 1.0)
            assert texts[node.name()] == ["Coverage fraction (0-1)", "0 / 1"], texts[node.name()]
        elif "buildings" in node.name():
            assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "class"
            categories = {c.value(): c for c in renderer.categories()}
            assert set(categories) == {"residential", "non_residential", "uncertain"}
            assert [c.label() for c in renderer.categories()] == ["Residential", "Non-residential", "Undecided"]
            for category in categories.values():
                alpha = category.symbol().color().alpha()
                assert 0 < alpha < 255, (category.value(), alpha)
            assert len({c.symbol().color().name() for c in categories.values()}) == 3
            assert texts[node.name()] == ["Residential", "Non-residential", "Undecided"]
        elif "Seam" in node.name():
            symbol = renderer.symbol()
            assert symbol.width() <= 0.5 and symbol.color().red() > 200 and symbol.color().green() < 80


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
    return demo_fixture.build(tmp_path_factory.mktemp("demo-fixture"))


def test_demo_project_is_styled_as_a_gis_user_expects(qgis_app, fixture_dir):
    from qgis.core import QgsProject

    plugins = fixture_dir / ".plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "mapsynth").symlink_to(ROOT, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts" / "make_demo_project.py"), str(fixture_dir),
                           "Helsinki"], capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    project = QgsProject.instance()
    assert project.read(str(fixture_dir / "demo.qgz"))
    try:
        check_styles(project, "MapSynth demo: Helsinki")
        shown = [node.name() for node in project.layerTreeRoot().findLayers() if node.isVisible()]
        assert shown == ["Classified buildings", "Seam lines", "Synthetic Sentinel-2 (true colour)"], shown
        assert (fixture_dir / "quicklook.png").stat().st_size > 0
    finally:
        project.clear()


def test_toolbox_results_are_styled_by_the_post_processors(plugin, fixture_dir):
    """QGIS's own result loading (what the toolbox and runAndLoadResults call) runs the styling post-processors."""
    from mapsynth.plugin.styling import load_styled
    from osgeo import gdal
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProject

    project = QgsProject.instance()
    context = QgsProcessingContext()
    context.setProject(project)
    group = "MapSynth test run"
    # the order QGIS loads them in is not the order they should be shown in
    for path, name, kind in ((fixture_dir / "mosaic.tif", "Synthetic city (NIR false colour)", "false_colour"),
                             (fixture_dir / "masks" / "buildings_coverage.tif", "Building coverage", "mask"),
                             (fixture_dir / "mosaic.tif", "Synthetic city (true colour)", "true_colour"),
                             (fixture_dir / "mosaic_labels.tif", "Label map", "labels"),
                             (fixture_dir / "mosaic_seams.gpkg", "Seam lines", "seams"),
                             (fixture_dir / "buildings.gpkg", "Classified buildings", "buildings")):
        source = str(path)
        if kind == "false_colour":  # assemble_mosaic's own source for it: a VRT with the band descriptions
            source = str(fixture_dir / "false_colour.vrt")
            vrt, mosaic = gdal.BuildVRT(source, [str(path)]), gdal.Open(str(path))
            for index in range(1, mosaic.RasterCount + 1):
                vrt.GetRasterBand(index).SetDescription(mosaic.GetRasterBand(index).GetDescription())
            vrt = mosaic = None
        load_styled(context, source, name, kind, group)
    alg = QgsApplication.processingRegistry().algorithmById("mapsynth:assemble_mosaic")
    try:
        assert handleAlgorithmResults(alg, context)
        check_styles(project, group)
        names = [child.name() for child in project.layerTreeRoot().findGroup(group).children()]
        assert names == ["Classified buildings", "Seam lines", "Building coverage", "Label map",
                         "Synthetic city (true colour)", "Synthetic city (NIR false colour)"]
        assert legend(project)["Label map"] == ["Source patch", "0 / 3"]
    finally:
        project.clear()
