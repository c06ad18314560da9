"""mapsynth:assemble_mosaic — one seamless, georeferenced mosaic from the generated variations."""

from osgeo import gdal
from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
)

from ..plugin.styling import load_styled, run_group
from .base import MapSynthAlgorithm, backend_command, job_params, run_backend

SELECTIONS = ("best", "random")


class AssembleMosaic(MapSynthAlgorithm):
    PATCH_GRID, GENERATED_DIR, SELECTION, SEED = "PATCH_GRID", "GENERATED_DIR", "SELECTION", "SEED"
    FEATHER, MAX_BLOB, TARGET_PIXEL_SIZE = "FEATHER", "MAX_BLOB", "TARGET_PIXEL_SIZE"
    OUTPUT, LABELS, SEAMS, SEAM_VISIBILITY = "OUTPUT", "LABELS", "SEAMS", "SEAM_VISIBILITY"
    group_id = "postprocessing"

    def name(self) -> str:
        return "assemble_mosaic"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Assemble seamless mosaic")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr(
            "Assembles the generated variations (GENERATED_DIR, <patch_id>_vNN.tif) into one mosaic, in raster "
            "order (north to south, west to east). For each cell the variation with the lowest error against what "
            "is already placed is taken (all bands, normalised per band), or with SELECTION random a seeded pick "
            "among the best three; variations with a saturated, cloud-like blob larger than MAX_BLOB pixels are "
            "rejected. Each overlap is cut along its minimum-error boundary (dynamic programming, correct at "
            "corners), optionally feathered over FEATHER pixels. One cut serves all bands, so RGB and NIR always "
            "come from the same source pixel.<br><br>Outputs: OUTPUT, a Cloud-Optimized GeoTIFF with overviews "
            "(reflectance = DN / 10000 - 0.1, DN 0 = nodata) exactly on the grid, or resampled with area "
            "averaging onto TARGET_PIXEL_SIZE (e.g. 10 m); LABELS, the cell and variation of every pixel "
            "((row × columns + col) × 1000 + variation); SEAMS, the cut lines. The log reports the seam visibility "
            "index (1.0 = invisible) and the tiling periodicity per band."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterFile(self.GENERATED_DIR, self.tr("Generated patches folder"),
                                                     QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterEnum(
            self.SELECTION, self.tr("Candidate selection (random: among the best 3)"), list(SELECTIONS), False, 0))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, self.tr("Seed (random selection)"),
                                                       QgsProcessingParameterNumber.Integer, 0, False, 0))
        self.addParameter(QgsProcessingParameterNumber(self.FEATHER, self.tr("Feather width (pixels, 0 = hard seam)"),
                                                       QgsProcessingParameterNumber.Double, 0.0, False, 0.0, 256.0))
        self.addParameter(QgsProcessingParameterNumber(
            self.MAX_BLOB, self.tr("Largest saturated blob (pixels, 0 = off)"), QgsProcessingParameterNumber.Integer,
            0, False, 0))
        target = QgsProcessingParameterNumber(self.TARGET_PIXEL_SIZE, self.tr("Resample to pixel size (m, 0 = no)"),
                                              QgsProcessingParameterNumber.Double, 0.0, False, 0.0, 10000.0)
        target.setFlags(target.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(target)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Mosaic")))
        self.addParameter(QgsProcessingParameterRasterDestination(self.LABELS, self.tr("Label map")))
        self.addParameter(QgsProcessingParameterVectorDestination(self.SEAMS, self.tr("Seam lines"),
                                                                  QgsProcessing.TypeVectorLine))
        self.addOutput(QgsProcessingOutputNumber(self.SEAM_VISIBILITY, self.tr("Mean seam visibility index")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        seams = self.parameterAsOutputLayer(parameters, self.SEAMS, context)
        if not seams.lower().endswith(".gpkg"):
            seams = seams.rsplit(".", 1)[0] + ".gpkg"
        params = job_params(self, parameters, context, seams=seams)
        result = run_backend(backend_command(self), params, feedback)
        if result:
            group = run_group(self.tr("mosaic"))
            load_styled(context, params["output"], self.tr("Mosaic (true colour)"), "true_colour", group, self.OUTPUT)
            false_colour = params["output"].rsplit(".", 1)[0] + "_false_colour.vrt"
            vrt = gdal.BuildVRT(false_colour, [params["output"]])  # its own source: layers load keyed by source
            source = gdal.Open(params["output"])
            for index in range(1, source.RasterCount + 1):
                vrt.GetRasterBand(index).SetDescription(source.GetRasterBand(index).GetDescription())
            vrt = source = None  # written and closed
            load_styled(context, false_colour, self.tr("Mosaic (NIR false colour)"), "false_colour", group)
            load_styled(context, seams, self.tr("Seam lines"), "seams", group, self.SEAMS)
            load_styled(context, params["labels"], self.tr("Label map"), "labels", group, self.LABELS)
        visibility = [v for v in result.get("seam_visibility", {}).values() if v == v]
        return {self.OUTPUT: params["output"], self.LABELS: params["labels"], self.SEAMS: seams,
                self.SEAM_VISIBILITY: sum(visibility) / len(visibility) if visibility else float("nan")}
