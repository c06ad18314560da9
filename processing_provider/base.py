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


def backend_command(algorithm: QgsProcessingAlgorithm) -> str:
    """The backend command serving an algorithm: its name with dashes (``assemble_mosaic`` -> ``assemble-mosaic``)."""
    return algorithm.name().replace("_", "-")


def job_value(algorithm: QgsProcessingAlgorithm, definition, parameters, context):
    """One Processing parameter as the backend job takes it: enums as their option string, layers as their source,
    patch grids (vector layers) as their GeoPackage, absent optional values as ""."""
    name, kind = definition.name(), definition.type()
    if kind == "number":
        integer = definition.dataType() == definition.Integer
        return (algorithm.parameterAsInt if integer else algorithm.parameterAsDouble)(parameters, name, context)
    if kind == "boolean":
        return algorithm.parameterAsBool(parameters, name, context)
    if kind == "enum":
        return definition.options()[algorithm.parameterAsEnum(parameters, name, context)]
    if kind == "file":
        return algorithm.parameterAsFile(parameters, name, context) or ""
    if kind == "fileDestination":
        return algorithm.parameterAsFileOutput(parameters, name, context)
    if kind in ("rasterDestination", "vectorDestination"):
        return algorithm.parameterAsOutputLayer(parameters, name, context)
    if kind == "vector":
        return grid_path(algorithm, parameters, name, context) if parameters.get(name) not in (None, "") else ""
    if kind == "raster":
        layer = algorithm.parameterAsRasterLayer(parameters, name, context)
        return layer.source() if layer is not None else ""
    if kind == "multilayer":
        return [layer.source() for layer in algorithm.parameterAsLayerList(parameters, name, context)]
    return algorithm.parameterAsString(parameters, name, context) or ""


def job_params(algorithm: QgsProcessingAlgorithm, parameters, context, **overrides) -> dict:
    """The backend job's parameters, derived from the algorithm's parameter definitions (name lower-cased);
    ``overrides`` (by job name) replace or add values the generic rule cannot know."""
    params = {}
    for definition in algorithm.parameterDefinitions():
        key = definition.name().lower()
        params[key] = overrides.pop(key) if key in overrides else job_value(algorithm, definition, parameters,
                                                                            context)
    return {**params, **overrides}


def job_default(definition):
    """A parameter's default as the backend job would receive it (None: no default, e.g. a required input)."""
    default = definition.defaultValue()
    if definition.type() == "enum":
        return definition.options()[int(default)] if default not in (None, "") else None
    if default is None and definition.flags() & definition.FlagOptional and not definition.isDestination():
        return [] if definition.type() == "multilayer" else ""  # what job_value gives for "no value"
    return default


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
