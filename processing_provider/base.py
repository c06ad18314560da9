"""Shared base of MapSynth algorithms: instance creation, icon, groups, help, translation."""

from qgis.core import QgsProcessingAlgorithm
from qgis.PyQt.QtGui import QIcon

from ..plugin.about import ICON_PATH, METADATA
from ..plugin.i18n import tr

GROUPS = {
    "setup": "Setup and diagnostics",
    "data": "Data preparation",
    "training": "Training",
    "generation": "Generation",
    "postprocessing": "Mosaics, masks and export",
}


class MapSynthAlgorithm(QgsProcessingAlgorithm):
    group_id = "data"

    def createInstance(self):  # noqa: N802 - QGIS API name
        return type(self)()

    def tr(self, text: str) -> str:
        return tr(text)

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def groupId(self) -> str:  # noqa: N802 - QGIS API name
        return self.group_id

    def group(self) -> str:
        return tr(GROUPS[self.group_id])

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API name
        return f"{METADATA['homepage']}#{self.name()}"
