"""Shared base of MapSynth algorithms: instance creation, icon, groups, help, translation."""

import html
from pathlib import Path

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsVectorFileWriter,
)
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QIcon

from ..plugin.about import ICON_PATH, PLUGIN_DIR
from ..plugin.i18n import tr

GROUPS = {
    "setup": "Setup and diagnostics",
    "data": "Data preparation",
    "training": "Training",
    "generation": "Generation",
    "postprocessing": "Mosaics, masks and export",
}

# Where inputs come from, said once for the algorithms that share them (help of the parameter).
GRID_HELP = "the output of Create patch grid (a GeoPackage)"
MODEL_HELP = ("a model folder (with model_card.json), or the training folder of Train model (its model/ is used); "
              "default: the embedded demo model")
DEMO_MODEL = PLUGIN_DIR / "resources" / "models" / "mapsynth-demo-pixel-small"
HELP_PAGE = PLUGIN_DIR / "resources" / "help" / "algorithms.html"  # the algorithm reference, one anchor each
MAP_DIR_HELP = "the output of Render map patches, for the same patch grid"


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
        """The Help button: this algorithm's entry in the reference shipped inside the plugin (a local file, so it
        opens offline and matches the installed version; written by scripts/make_algorithms_doc.py)."""
        url = QUrl.fromLocalFile(str(HELP_PAGE))
        url.setFragment(self.name())
        return url.toString()

    def help_html(self, text: str) -> str:
        """The dialog's help: ``text`` is plain text (escaped here, so placeholders such as <patch_id> stay
        visible; blank lines separate paragraphs), followed by the parameters under the labels the dialog shows,
        generated from their definitions (description, id, optional, ``help()``) so help and dialog cannot drift."""
        paragraphs = [html.escape(part.strip(), quote=False) for part in text.split("\n\n") if part.strip()]
        definitions = self.parameterDefinitions()
        if not definitions:  # help asked of an uninitialised instance
            instance = type(self)()
            instance.initAlgorithm()
            definitions, outputs = instance.parameterDefinitions(), instance.outputDefinitions()
        else:
            outputs = self.outputDefinitions()
        inputs = [param for param in definitions if not param.isDestination()]
        destinations = [param for param in definitions if param.isDestination()]
        reported = [out for out in outputs if out.name() not in {param.name() for param in destinations}]
        sections = [(tr("Inputs"), inputs), (tr("Outputs"), destinations), (tr("Also reported"), reported)]
        lists = [f"<b>{title}</b><ul>{''.join(_help_item(item) for item in items)}</ul>"
                 for title, items in sections if items]
        return "<br><br>".join(paragraphs) + "<br><br>" + "".join(lists)


def _help_item(item) -> str:
    """One <li>: the label as the dialog shows it, the id for qgis_process and scripts, then its help."""
    notes = [item.name()]
    if isinstance(item, QgsProcessingParameterDefinition):
        if item.flags() & QgsProcessingParameterDefinition.FlagOptional:
            notes.append(tr("optional"))
        if item.flags() & QgsProcessingParameterDefinition.FlagAdvanced:
            notes.append(tr("advanced"))
        detail = item.help()
    else:
        detail = ""
    text = f"<b>{html.escape(item.description(), quote=False)}</b> ({html.escape(', '.join(notes), quote=False)})"
    return f"<li>{text}{': ' + html.escape(detail, quote=False) if detail else ''}</li>"


def helped(param: QgsProcessingParameterDefinition, text: str, advanced: bool = False):
    """``param`` with its help (where the value comes from, what it means), optionally advanced."""
    param.setHelp(tr(text))
    if advanced:
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return param


def export_gpkg(layer, path: Path, context, name: str, options=None) -> str:
    """``layer`` written to a GeoPackage for the backend (which reads files, never QGIS layers); a write error is
    one line naming the parameter."""
    if options is None:
        options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.datasourceOptions = ["VERSION=1.2"]  # GeoPackage 1.2: every GDAL reads it without a version warning
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(path), context.transformContext(),
                                                                     options)
    if error != QgsVectorFileWriter.NoError:
        raise QgsProcessingException(tr("{name}: cannot export the layer: {msg}").format(name=name, msg=message))
    return str(path)


def check_area(algorithm: QgsProcessingAlgorithm, parameters, context) -> tuple[bool, str]:
    """checkParameterValues of an algorithm whose EXTENT and AOI are each optional but one of them is required:
    the dialog then refuses before Run, and qgis_process / processing.run fail with this line."""
    if all(parameters.get(name) in (None, "") for name in ("EXTENT", "AOI")):
        return False, tr("Give the area: an Extent (EXTENT) or area of interest polygons (AOI).")
    return QgsProcessingAlgorithm.checkParameterValues(algorithm, parameters, context)


def model_dir(path: str, feedback=None) -> str:
    """The model folder behind MODEL: the folder itself, or the model/ of a Train model output folder."""
    folder = Path(path)
    if not (folder / "model_card.json").is_file() and (folder / "model" / "model_card.json").is_file():
        if feedback is not None:
            feedback.pushInfo(tr("MODEL is a training folder: using its model {m}").format(m=folder / "model"))
        return str(folder / "model")
    return path


def generation_job(algorithm, parameters, context, feedback, devices: tuple[str, ...]) -> dict:
    """The job of an algorithm that runs a MODEL on a DEVICE: device auto resolved through MapSynth Settings,
    the demo model when MODEL is empty, a training folder's model/."""
    from ..plugin import settings

    device = devices[algorithm.parameterAsEnum(parameters, "DEVICE", context)]
    if device == "auto":
        device = settings.device(devices)
        feedback.pushInfo(tr("Device: {d} (MapSynth Settings)").format(d=device))
    model = model_dir(algorithm.parameterAsFile(parameters, "MODEL", context) or str(DEMO_MODEL), feedback)
    return job_params(algorithm, parameters, context, model=model, device=device)


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
    """One Processing parameter as the backend job takes it: enums as their option string (several: joined by
    commas), layers as their source,
    patch grids (vector layers) as their GeoPackage, absent optional values as ""."""
    name, kind = definition.name(), definition.type()
    if kind == "number":
        integer = definition.dataType() == definition.Integer
        return (algorithm.parameterAsInt if integer else algorithm.parameterAsDouble)(parameters, name, context)
    if kind == "boolean":
        return algorithm.parameterAsBool(parameters, name, context)
    if kind == "enum" and definition.allowMultiple():
        return ",".join(definition.options()[i] for i in algorithm.parameterAsEnums(parameters, name, context))
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
    if definition.type() == "enum" and definition.allowMultiple() and isinstance(default, list):
        return ",".join(definition.options()[int(i)] for i in default)
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
