"""mapsynth:inpaint_scenario — what-if map edits (a housing estate, a lake, a burned field) inpainted into imagery."""

from qgis.core import (
    QgsFillSymbol,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
    QgsSingleSymbolRenderer,
)

from ..plugin.about import PLUGIN_DIR
from ..plugin.backend_client import new_job_dir
from ..plugin.settings import DEVICES
from ..plugin.styling import Styler, load_styled, run_group
from .base import MapSynthAlgorithm, backend_command, export_gpkg, job_params, run_backend

DEMO_MODEL = PLUGIN_DIR / "resources" / "models" / "mapsynth-demo-pixel-small"
_KEEP: list = []  # post-processors must stay referenced or QGIS silently skips them


class OutlineStyler(Styler):
    """The edit polygons as red outlines over before/after (then placed in the run's group like the others)."""

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 - QGIS API name
        if layer is not None and layer.isValid():
            layer.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
                {"color": "0,0,0,0", "outline_color": "230,30,30,230", "outline_width": "0.5"})))
        super().postProcessLayer(layer, context, feedback)


def load_outline(context, path: str, name: str, group: str) -> None:
    if context.project() is None:
        return
    styler = OutlineStyler("outline", group)
    _KEEP.append(styler)
    details = QgsProcessingContext.LayerDetails(name, context.project())
    details.forceName = True
    details.setPostProcessor(styler)
    context.addLayerToLoadOnCompletion(path, details)


class InpaintScenario(MapSynthAlgorithm):
    BASE, EDITS, CLASS_FIELD, MODEL, MAP, MAP_DIR = "BASE", "EDITS", "CLASS_FIELD", "MODEL", "MAP", "MAP_DIR"
    BUILDING_COVERAGE, NONRESIDENTIAL_COVERAGE = "BUILDING_COVERAGE", "NONRESIDENTIAL_COVERAGE"
    OUTPUT_BUILDING_COVERAGE = "OUTPUT_BUILDING_COVERAGE"
    OUTPUT_NONRESIDENTIAL_COVERAGE = "OUTPUT_NONRESIDENTIAL_COVERAGE"
    MARGIN, SEED, VARIATIONS, STEPS, RESAMPLE = "MARGIN", "SEED", "VARIATIONS", "STEPS", "RESAMPLE"
    JUMP, CONTEXT = "JUMP", "CONTEXT"
    GUIDANCE, DEVICE, SCALE, OFFSET = "GUIDANCE", "DEVICE", "SCALE", "OFFSET"
    OUTPUT, OUTPUT_MASK, OUTPUT_MAP = "OUTPUT", "OUTPUT_MASK", "OUTPUT_MAP"
    EDITED_PIXELS = "EDITED_PIXELS"
    group_id = "generation"

    def name(self) -> str:
        return "inpaint_scenario"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Inpaint a what-if scenario")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Draws map edits into a reflectance raster: EDITS polygons (any CRS), each with a semantic-palette class "
            "in CLASS_FIELD (residential_building, bare, water, forest, ...), are painted onto the map of BASE's "
            "area (MAP: a rendered map raster, a file or a layer of the project; or MAP_DIR: the folder of Render "
            "map patches; where neither reaches, derived from BASE as the demo model's maps are), and the "
            "model (MODEL; empty = the embedded demo model) regenerates the edits plus MARGIN pixels around them, "
            "conditioned on the known pixels around (RePaint resampling; controlnet-sd15: the same in latent "
            "space), blended into BASE across the margin.\n\nOUTPUT: BASE with the edits (same grid, data "
            "type, nodata and encoding; every pixel outside the edits + MARGIN is BASE's value, bit for bit). "
            "VARIATIONS > 1 adds OUTPUT_v01, .... OUTPUT_MASK: uint8 on BASE's grid, 1 = edit (the pixel's "
            "centre lies inside a polygon: GDAL's default rule, not all-touched), 2 = margin (regenerated and "
            "blended), 0 = unchanged. BASE, OUTPUT and OUTPUT_MASK form a before/after/label triplet for change "
            "detection. OUTPUT_MAP: the edited map. An edit reaching beyond BASE is refused, not clipped.\n\n"
            "BUILDING_COVERAGE / NONRESIDENTIAL_COVERAGE (the coverage rasters of Building masks, any grid): "
            "updated on BASE's grid from each edit's class and area (fraction of the pixel it covers): "
            "residential_building becomes building coverage, other_building non-residential building coverage, "
            "any other class clears the buildings under it; pixels no edit touches keep their value. Written to "
            "OUTPUT_BUILDING_COVERAGE / OUTPUT_NONRESIDENTIAL_COVERAGE (default: next to OUTPUT).\n\n"
            "BASE's reflectance = DN x SCALE + OFFSET; SCALE 0 reads the band metadata, else MapSynth's "
            "DN / 10000 - 0.1. GUIDANCE 0 = auto, per class for pixel models: map guidance 1.5 under water edits "
            "and their margin (a lake on fields is otherwise half field), none elsewhere (it pushed built-up "
            "spectra off the real ones; docs/BENCHMARKS.md), in one run; the model card's "
            "inpaint_guidance_by_class overrides. GUIDANCE > 0: that value everywhere. controlnet-sd15 keeps its "
            "own prompt guidance. "
            "Deterministic for a SEED; a rerun keeps "
            "finished variations."
        ))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(QgsProcessingParameterRasterLayer(self.BASE, self.tr("Base reflectance raster")))
        self.addParameter(QgsProcessingParameterVectorLayer(self.EDITS, self.tr("Edit polygons"),
                                                            [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(self.CLASS_FIELD, self.tr("Class field"), "class",
                                                      self.EDITS))
        self.addParameter(QgsProcessingParameterFile(self.MODEL, self.tr("Model (empty = demo model)"),
                                                     QgsProcessingParameterFile.Folder, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(self.MAP, self.tr("Map raster (empty = derived)"),
                                                            optional=True))
        self.addParameter(QgsProcessingParameterFile(self.MAP_DIR, self.tr("or: map patches folder"),
                                                     QgsProcessingParameterFile.Folder, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(self.BUILDING_COVERAGE,
                                                            self.tr("Building coverage to update"), optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(self.NONRESIDENTIAL_COVERAGE,
                                                            self.tr("Non-residential coverage"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.MARGIN, self.tr("Margin (px)"),
                                                       QgsProcessingParameterNumber.Integer, 4, False, 0, 256))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, self.tr("Seed"),
                                                       QgsProcessingParameterNumber.Integer, 0, False, 0))
        self.addParameter(QgsProcessingParameterNumber(self.VARIATIONS, self.tr("Variations"),
                                                       QgsProcessingParameterNumber.Integer, 1, False, 1, 16))
        advanced = [
            QgsProcessingParameterNumber(self.STEPS, self.tr("Denoising steps"),
                                         QgsProcessingParameterNumber.Integer, 8, False, 1, 1000),
            QgsProcessingParameterNumber(self.RESAMPLE, self.tr("Resampling per step"),
                                         QgsProcessingParameterNumber.Integer, 2, False, 1, 20),
            QgsProcessingParameterNumber(self.JUMP, self.tr("RePaint jump length"),
                                         QgsProcessingParameterNumber.Integer, 1, False, 1, 50),
            QgsProcessingParameterNumber(self.CONTEXT, self.tr("Canvas context (px, 0 = auto)"),
                                         QgsProcessingParameterNumber.Integer, 0, False, 0),
            QgsProcessingParameterNumber(self.GUIDANCE, self.tr("Guidance (0 = auto)"),
                                         QgsProcessingParameterNumber.Double, 0.0, False, 0.0, 30.0),
            QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), list(DEVICES), False, 0),
            QgsProcessingParameterNumber(self.SCALE, self.tr("Base DN scale (0 = metadata)"),
                                         QgsProcessingParameterNumber.Double, 0.0, False),
            QgsProcessingParameterNumber(self.OFFSET, self.tr("Base DN offset"),
                                         QgsProcessingParameterNumber.Double, 0.0, False),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Edited raster")))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_MASK, self.tr("Change mask")))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_MAP, self.tr("Edited map"),
                                                                  optional=True, createByDefault=False))
        for name, label in ((self.OUTPUT_BUILDING_COVERAGE, self.tr("Updated building coverage")),
                            (self.OUTPUT_NONRESIDENTIAL_COVERAGE, self.tr("Updated non-residential coverage"))):
            self.addParameter(QgsProcessingParameterRasterDestination(name, label, optional=True,
                                                                      createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber(self.EDITED_PIXELS, self.tr("Edited pixels")))

    def _export_edits(self, parameters, context) -> str:
        """The edit layer as a GeoPackage in its own CRS (the backend reprojects); no CRS is refused here."""
        layer = self.parameterAsVectorLayer(parameters, self.EDITS, context)
        if layer is None:
            raise QgsProcessingException(self.tr("EDITS: no polygon layer given"))
        if not layer.crs().isValid():
            raise QgsProcessingException(self.tr("EDITS: the layer has no CRS; set its CRS before editing"))
        return export_gpkg(layer, new_job_dir("inpaint-edits") / "edits.gpkg", context, "EDITS")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        edits = self._export_edits(parameters, context)
        model = self.parameterAsFile(parameters, self.MODEL, context) or str(DEMO_MODEL)
        params = job_params(self, parameters, context, edits=edits, model=model)
        result = run_backend(backend_command(self), params, feedback)
        if not result:
            return {self.OUTPUT: None, self.OUTPUT_MASK: None, self.EDITED_PIXELS: 0}
        for variation in result.get("variations", []):
            feedback.pushInfo(self.tr("{path}: seam visibility {s:.2f} (BASE at the same boundary {b:.2f})").format(
                path=variation["path"], s=variation["seam_visibility"], b=variation["seam_visibility_base"]))
        group = run_group(self.tr("scenario"))
        base = self.parameterAsRasterLayer(parameters, self.BASE, context)
        load_styled(context, base.source(), self.tr("Before"), "true_colour", group)
        load_styled(context, params["output"], self.tr("After"), "true_colour", group, self.OUTPUT)
        load_styled(context, params["output_mask"], self.tr("Change mask"), "mask", group, self.OUTPUT_MASK)
        load_outline(context, edits, self.tr("Edits"), group)
        if params["output_map"]:
            load_styled(context, params["output_map"], self.tr("Edited map"), "map", group, self.OUTPUT_MAP)
        outputs = {self.OUTPUT: params["output"], self.OUTPUT_MASK: params["output_mask"],
                   self.OUTPUT_MAP: params["output_map"] or None, self.EDITED_PIXELS: result.get("edited_pixels", 0)}
        for name, label in ((self.OUTPUT_BUILDING_COVERAGE, self.tr("Building coverage after")),
                            (self.OUTPUT_NONRESIDENTIAL_COVERAGE, self.tr("Non-residential coverage after"))):
            outputs[name] = result.get(name.lower()) or None  # the backend names it when only the input is given
            if outputs[name]:
                load_styled(context, outputs[name], label, "mask", group)
        return outputs
