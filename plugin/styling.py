"""How results look when they load: true colour and NIR false colour mosaics with a fixed reflectance stretch and
band legends such as "B04 (red)", coverage masks in a red ramp over 0..1 (never a "nan / nan" legend), classified
buildings by class with semi-transparent fills, seams as thin red lines, all in one layer-tree group per run with
the true colour above the NIR false colour. Runs as layer post-processors (main thread, after the algorithm), never
from processAlgorithm; scripts/make_demo_project.py applies the same functions to demo.qgz."""

from __future__ import annotations

import math

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsFillSymbol,
    QgsLineSymbol,
    QgsMapLayerLegendUtils,
    QgsMultiBandColorRenderer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterBandStats,
    QgsRasterShader,
    QgsRendererCategory,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsStyle,
)
from qgis.PyQt.QtGui import QColor

from .i18n import tr

# DN of the patch encoding (reflectance = DN / 10000 - 0.1): 0..0.25 reflectance visible, 0..0.5 NIR
STRETCH = {"B02": (1000, 3500), "B03": (1000, 3500), "B04": (1000, 3500), "B08": (1000, 6000)}
TRUE_COLOUR, FALSE_COLOUR = ("B04", "B03", "B02"), ("B08", "B04", "B03")
BAND_NAMES = {"B02": "blue", "B03": "green", "B04": "red", "B08": "near infrared"}
# class value written by the backend's masks command -> legend label, fill (RGBA, semi-transparent)
BUILDING_CLASSES = (("residential", "Residential", (60, 120, 200, 140)),
                    ("non_residential", "Non-residential", (230, 90, 20, 160)),
                    ("uncertain", "Undecided", (150, 150, 150, 120)))
# top-to-bottom order of a run's layers in its group: vectors over masks over the mosaics, true colour first (the
# what-if edit outlines on top: below the rasters they were hidden)
ORDER = ("outline", "buildings", "seams", "mask", "labels", "true_colour", "false_colour")
KIND_PROPERTY = "mapsynth/kind"
RAMP_TITLES = {"mask": "Coverage fraction (0-1)", "labels": "Source patch"}
_KEEP: list = []  # post-processors must stay referenced or QGIS silently skips them


def _move_to_group(layer, project, group_name: str) -> None:
    """Move the layer into ``group_name`` at its place in ORDER, whatever order QGIS loaded the run's layers in."""
    if project is None or not group_name:
        return
    root = project.layerTreeRoot()
    group = root.findGroup(group_name) or root.insertGroup(0, group_name)
    node = root.findLayer(layer.id())
    if node is None:
        return
    rank = _rank(layer)
    children = group.children()
    position = sum(1 for child in children
                   if child is not node and getattr(child, "layer", None) and _rank(child.layer()) <= rank)
    # QGIS may have added the layer into this group already (the group is the Layers panel's insertion point once
    # it exists): the clone goes in before the node is removed (removing it first would drop the layer), so an
    # index counted without the node moves one down when the node is above it
    own = next((index for index, child in enumerate(children) if child is node), None)
    if own is not None and own <= position:
        position += 1
    clone = node.clone()
    group.insertChildNode(position, clone)
    node.parent().removeChildNode(node)
    kind = layer.customProperty(KIND_PROPERTY)
    if kind in ("true_colour", "false_colour"):
        label_bands(clone, layer)
    elif kind in RAMP_TITLES:  # "Band 1 (Gray)" above the ramp says nothing
        QgsMapLayerLegendUtils.setLegendNodeUserLabel(clone, 0, tr(RAMP_TITLES[kind]))


def _rank(layer) -> int:
    kind = layer.customProperty(KIND_PROPERTY) if layer is not None else None
    return ORDER.index(kind) if kind in ORDER else len(ORDER)


class Styler(QgsProcessingLayerPostProcessorInterface):
    def __init__(self, kind: str, group: str) -> None:
        super().__init__()
        self.kind, self.group = kind, group

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 - QGIS API name
        if layer is None or not layer.isValid():
            return
        style_layer(layer, self.kind)
        layer.triggerRepaint()
        _move_to_group(layer, context.project(), self.group)


def style_layer(layer, kind: str) -> None:
    """Apply the style of ``kind`` (one of ORDER) and remember the kind for the group order."""
    if kind in ("true_colour", "false_colour"):
        style_mosaic(layer, TRUE_COLOUR if kind == "true_colour" else FALSE_COLOUR)
    elif kind == "mask":
        style_mask(layer)
    elif kind == "labels":
        style_mask(layer, None, "Spectral")
    elif kind == "seams":
        layer.setRenderer(QgsSingleSymbolRenderer(QgsLineSymbol.createSimple(
            {"line_color": "230,30,30,220", "line_width": "0.3", "line_width_unit": "MM"})))
    elif kind == "buildings":
        style_buildings(layer)
    layer.setCustomProperty(KIND_PROPERTY, kind)


def add_styled(project, group, layer, kind: str) -> None:
    """Add an already loaded layer to ``group`` (a layer-tree group) with the style and place of ``kind``."""
    style_layer(layer, kind)
    project.addMapLayer(layer, False)
    group.addLayer(layer)
    _move_to_group(layer, project, group.name())


def band_index(layer) -> dict[str, int]:
    provider = layer.dataProvider()
    index = {}
    for i in range(1, layer.bandCount() + 1):
        for band in STRETCH:
            if band in layer.bandName(i) or band in provider.generateBandName(i):
                index.setdefault(band, i)
    return index


def style_mosaic(layer, bands: tuple[str, str, str]) -> None:
    provider = layer.dataProvider()
    index = band_index(layer)
    if not all(b in index for b in bands):
        return
    renderer = QgsMultiBandColorRenderer(provider, *(index[b] for b in bands))
    enhancements = []
    for band in bands:
        enhancement = QgsContrastEnhancement(provider.dataType(index[band]))
        enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
        low, high = stretch_values(provider, index[band], band)
        enhancement.setMinimumValue(low)
        enhancement.setMaximumValue(high)
        enhancements.append(enhancement)
    renderer.setRedContrastEnhancement(enhancements[0])
    renderer.setGreenContrastEnhancement(enhancements[1])
    renderer.setBlueContrastEnhancement(enhancements[2])
    layer.setRenderer(renderer)


def stretch_values(provider, band_number: int, band: str) -> tuple[float, float]:
    """STRETCH in the values QGIS shows: with GDAL band scale/offset set, QGIS applies them (reflectance),
    so the DN limits are scaled the same way."""
    scale, offset = provider.bandScale(band_number), provider.bandOffset(band_number)
    return tuple(dn * scale + offset for dn in STRETCH[band])


def label_bands(node, layer) -> None:
    """Legend entries "B04 (red)" instead of "Band 3: B04": user labels on the layer-tree node (saved in the
    project). The multi-band legend lists the red, green and blue channels in that order."""
    renderer = layer.renderer()
    if not isinstance(renderer, QgsMultiBandColorRenderer):
        return
    names = {i: name for name, i in band_index(layer).items()}
    for position, band in enumerate((renderer.redBand(), renderer.greenBand(), renderer.blueBand())):
        if band in names:
            label = f"{names[band]} ({tr(BAND_NAMES[names[band]])})"
            QgsMapLayerLegendUtils.setLegendNodeUserLabel(node, position, label)


def style_mask(layer, value_range: tuple[float, float] | None = (0.0, 1.0), ramp_name: str = "") -> None:
    """A pseudo-colour ramp with explicit min/max on the renderer and the shader: without them QGIS saves NaN and
    the legend reads "nan / nan". Coverage fractions span 0..1; ``None`` takes the range from the statistics."""
    provider = layer.dataProvider()
    if value_range is None:
        stats = provider.bandStatistics(1, QgsRasterBandStats.Min | QgsRasterBandStats.Max)
        low, high = stats.minimumValue, stats.maximumValue
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            low, high = (low, low + 1.0) if math.isfinite(low) else (0.0, 1.0)
    else:
        low, high = value_range
    ramp = QgsColorRampShader(low, high)
    if ramp_name:
        ramp = QgsColorRampShader(low, high, QgsStyle.defaultStyle().colorRamp(ramp_name))
        ramp.classifyColorRamp(5, -1)
    else:
        ramp.setColorRampType(QgsColorRampShader.Interpolated)
        ramp.setColorRampItemList([QgsColorRampShader.ColorRampItem(low, QColor(255, 255, 255, 0), f"{low:g}"),
                                   QgsColorRampShader.ColorRampItem(high, QColor(200, 20, 20, 255), f"{high:g}")])
    ramp.setMinimumValue(low)
    ramp.setMaximumValue(high)
    shader = QgsRasterShader(low, high)
    shader.setRasterShaderFunction(ramp)
    renderer = QgsSingleBandPseudoColorRenderer(provider, 1, shader)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    layer.setRenderer(renderer)


def style_buildings(layer) -> None:
    """Categorised by the masks command's ``class`` field with semi-transparent fills; a layer without the field
    gets one semi-transparent fill."""
    def fill(rgba: tuple[int, int, int, int]) -> QgsFillSymbol:
        return QgsFillSymbol.createSimple({"color": ",".join(map(str, rgba)), "outline_color": "60,60,60,200",
                                           "outline_width": "0.1", "outline_width_unit": "MM"})

    if layer.fields().indexOf("class") < 0:
        layer.setRenderer(QgsSingleSymbolRenderer(fill(BUILDING_CLASSES[2][2])))
        return
    categories = [QgsRendererCategory(value, fill(rgba), tr(label)) for value, label, rgba in BUILDING_CLASSES]
    layer.setRenderer(QgsCategorizedSymbolRenderer("class", categories))


def load_styled(context, path: str, name: str, kind: str, group: str, output_name: str = "") -> None:
    """Load ``path`` on completion with a styler; for a destination output, style the layer QGIS loads anyway."""
    styler = Styler(kind, group)
    _KEEP.append(styler)
    if output_name and context.willLoadLayerOnCompletion(path):
        details = context.layerToLoadOnCompletionDetails(path)
        details.name = name
        details.forceName = True  # otherwise QGIS names it after the parameter
        details.setPostProcessor(styler)
        return
    if context.project() is None:
        return
    details = QgsProcessingContext.LayerDetails(name, context.project(), output_name)
    details.forceName = True
    details.setPostProcessor(styler)
    context.addLayerToLoadOnCompletion(path, details)


def run_group(title: str) -> str:
    from datetime import datetime

    return tr("MapSynth {title} {time}").format(title=title, time=datetime.now().strftime("%H:%M:%S"))
