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


def grid_path(algorithm: QgsProcessingAlgorithm, parameters, name: str, context) -> str:
    """The GeoPackage behind a patch-grid layer parameter (verified to be a MapSynth grid)."""
    from qgis.core import QgsProcessingException

    from ..plugin.grid import read_definition

    layer = algorithm.parameterAsVectorLayer(parameters, name, context)
    if layer is None:
        raise QgsProcessingException(tr("{name}: no patch grid given").format(name=name))
    path = layer.source().split("|", 1)[0]
    read_definition(path)
    return path


def run_backend(command: str, params: dict, feedback) -> dict:
    """Run a backend job; on cancel, keep what was finished and say so instead of failing."""
    from qgis.core import QgsProcessingException

    from ..plugin.backend_client import BackendProcess

    process = BackendProcess(command, params)
    try:
        return process.run(feedback)
    except QgsProcessingException as exc:
        if not process.cancelled:
            raise
        feedback.pushWarning(str(exc) + " " + tr("Finished patches are kept; rerun to continue."))
        return {}
