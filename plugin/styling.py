"""How results look when they load: true colour and NIR false colour mosaics with a fixed reflectance stretch,
masks in a red ramp, seams as thin red lines, all in one layer-tree group per run. Runs as layer
post-processors (main thread, after the algorithm), never from processAlgorithm."""

from __future__ import annotations

from qgis.core import (
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsLineSymbol,
    QgsMultiBandColorRenderer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
)
from qgis.PyQt.QtGui import QColor

from .i18n import tr

# DN of the patch encoding (reflectance = DN / 10000 - 0.1): 0..0.25 reflectance visible, 0..0.5 NIR
STRETCH = {"B02": (1000, 3500), "B03": (1000, 3500), "B04": (1000, 3500), "B08": (1000, 6000)}
TRUE_COLOUR, FALSE_COLOUR = ("B04", "B03", "B02"), ("B08", "B04", "B03")
_KEEP: list = []  # post-processors must stay referenced or QGIS silently skips them


def _move_to_group(layer, context, group_name: str) -> None:
    project = context.project()
    if project is None or not group_name:
        return
    root = project.layerTreeRoot()
    group = root.findGroup(group_name) or root.insertGroup(0, group_name)
    node = root.findLayer(layer.id())
    if node is not None and node.parent() is not group:
        group.addChildNode(node.clone())
        node.parent().removeChildNode(node)


class Styler(QgsProcessingLayerPostProcessorInterface):
    def __init__(self, kind: str, group: str) -> None:
        super().__init__()
        self.kind, self.group = kind, group

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 - QGIS API name
        if layer is None or not layer.isValid():
            return
        if self.kind in ("true_colour", "false_colour"):
            style_mosaic(layer, TRUE_COLOUR if self.kind == "true_colour" else FALSE_COLOUR)
        elif self.kind == "mask":
            style_mask(layer)
        elif self.kind == "seams":
            layer.setRenderer(QgsSingleSymbolRenderer(QgsLineSymbol.createSimple(
                {"line_color": "230,30,30,200", "line_width": "0.3"})))
        layer.triggerRepaint()
        _move_to_group(layer, context, self.group)


def style_mosaic(layer, bands: tuple[str, str, str]) -> None:
    provider = layer.dataProvider()
    names = [provider.generateBandName(i) for i in range(1, layer.bandCount() + 1)]
    descriptions = [layer.bandName(i) for i in range(1, layer.bandCount() + 1)]
    index = {}
    for i in range(layer.bandCount()):
        for band in ("B02", "B03", "B04", "B08"):
            if band in descriptions[i] or band in names[i]:
                index[band] = i + 1
    if not all(b in index for b in bands):
        return
    renderer = QgsMultiBandColorRenderer(provider, *(index[b] for b in bands))
    enhancements = []
    for band in bands:
        enhancement = QgsContrastEnhancement(provider.dataType(index[band]))
        enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
        enhancement.setMinimumValue(STRETCH[band][0])
        enhancement.setMaximumValue(STRETCH[band][1])
        enhancements.append(enhancement)
    renderer.setRedContrastEnhancement(enhancements[0])
    renderer.setGreenContrastEnhancement(enhancements[1])
    renderer.setBlueContrastEnhancement(enhancements[2])
    layer.setRenderer(renderer)


def style_mask(layer) -> None:
    ramp = QgsColorRampShader(0.0, 1.0)
    ramp.setColorRampType(QgsColorRampShader.Interpolated)
    ramp.setColorRampItemList([QgsColorRampShader.ColorRampItem(0.0, QColor(255, 255, 255, 0), "0"),
                               QgsColorRampShader.ColorRampItem(1.0, QColor(200, 20, 20, 255), "1")])
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(ramp)
    layer.setRenderer(QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader))


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
