"""Regenerate resources/styles/semantic_*.qml from semantic_palette.json (run with QGIS's Python).

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/make_styles.py [OUTPUT_DIR]
"""

import json
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsLineSymbol,
    QgsProperty,
    QgsRendererCategory,
    QgsSymbolLayer,
    QgsUnitTypes,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor

STYLES = Path(__file__).resolve().parents[1] / "resources" / "styles"


def renderer(classes, geometry):
    categories = []
    for cls in sorted((c for c in classes if c["geometry"] == geometry), key=lambda c: c["order"]):
        color = QColor(*cls["rgb"])
        if geometry == "area":
            symbol = QgsFillSymbol.createSimple({})
            layer = symbol.symbolLayer(0)
            layer.setColor(color)
            layer.setStrokeStyle(Qt.NoPen)
        else:
            symbol = QgsLineSymbol.createSimple({})
            layer = symbol.symbolLayer(0)
            layer.setColor(color)
            layer.setWidth(cls["width_m"])
            layer.setWidthUnit(QgsUnitTypes.RenderMapUnits)
            layer.setPenCapStyle(Qt.FlatCap)
            layer.setPenJoinStyle(Qt.MiterJoin)
            layer.setDataDefinedProperty(QgsSymbolLayer.PropertyStrokeWidth,
                                         QgsProperty.fromExpression(f'coalesce("width_m", {cls["width_m"]})'))
        layer.setRenderingPass(cls["order"])
        categories.append(QgsRendererCategory(cls["key"], symbol, cls["label"]))
    result = QgsCategorizedSymbolRenderer("class", categories)
    result.setUsingSymbolLevels(True)
    return result


def main(out_dir: Path) -> None:
    palette = json.loads((STYLES / "semantic_palette.json").read_text())
    outputs = (("area", "MultiPolygon", "semantic_areas"), ("line", "MultiLineString", "semantic_lines"))
    for geometry, kind, name in outputs:
        layer = QgsVectorLayer(f"{kind}?crs=EPSG:3857&field=class:string&field=width_m:double", name, "memory")
        layer.setRenderer(renderer(palette["classes"], geometry))
        message, ok = layer.saveNamedStyle(str(out_dir / f"{name}.qml"))
        assert ok, message


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else STYLES)
    app.exitQgis()
