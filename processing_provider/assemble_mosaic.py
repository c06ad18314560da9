"""mapsynth:assemble_mosaic — one seamless, georeferenced mosaic from the generated variations."""

from osgeo import gdal
from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
)

from ..plugin.styling import load_styled, run_group
from .base import GRID_HELP, MapSynthAlgorithm, backend_command, helped, job_params, run_backend

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
        return self.help_html(self.tr(
            "Assembles the generated variations (files <patch_id>_vNN.tif) into one mosaic, in raster order (north "
            "to south, west to east). For each cell the variation with the lowest error against what is already "
            "placed is taken (all bands, normalised per band), or, with Candidate selection 'random among the best "
            "3', a seeded pick among the best three; variations with a saturated, cloud-like blob larger than the "
            "largest saturated blob are rejected. Each overlap is cut along its minimum-error boundary (dynamic "
            "programming, correct at corners), optionally feathered. One cut serves all bands, so RGB and NIR "
            "always come from the same source pixel.\n\n"
            "The folder may also be the output of Crop Sentinel-2 to the grid, for the same grid (real patches, "
            "one per cell): it is assembled as one candidate per cell and reproduces the real image exactly, the "
            "reference for the seam visibility index (1.0) and the tiling periodicity (about 0 dB).\n\n"
            "The mosaic is a Cloud-Optimized GeoTIFF with overviews (reflectance = DN / 10000 - 0.1, DN 0 = "
            "nodata) exactly on the grid, or resampled with area averaging to another pixel size (e.g. 10 m). The "
            "label map and the seam lines are by-products: when skipped they are still written next to the mosaic "
            "(<mosaic>_labels.tif, <mosaic>_seams.gpkg), because Evaluate reads the label map from there. The log "
            "reports the seam visibility index (1.0 = invisible) and the tiling periodicity per band."))
    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon]), GRID_HELP))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.GENERATED_DIR, self.tr("Generated patches folder"), QgsProcessingParameterFile.Folder),
            self.tr("the output of Generate patches (or of Crop Sentinel-2 to the grid: real patches), "
                    "for the same patch grid")))
        self.addParameter(helped(QgsProcessingParameterEnum(
            self.SELECTION, self.tr("Candidate selection"), list(SELECTIONS), False, 0),
            self.tr("best: lowest error against what is already placed; random: among the best 3")))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.SEED, self.tr("Seed (random selection)"), QgsProcessingParameterNumber.Integer, 0, False, 0),
            self.tr("only used by random selection")))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.FEATHER, self.tr("Feather width (px)"), QgsProcessingParameterNumber.Double, 0.0, False, 0.0,
            256.0), self.tr("blend across each cut over this many pixels; 0 = hard seam")))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.MAX_BLOB, self.tr("Largest saturated blob (px)"), QgsProcessingParameterNumber.Integer, 0, False,
            0), self.tr("variations with a larger saturated, cloud-like blob are rejected; 0 = off")))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.TARGET_PIXEL_SIZE, self.tr("Resample to pixel size (m)"), QgsProcessingParameterNumber.Double,
            0.0, False, 0.0, 10000.0), self.tr("area-averaged resampling of the mosaic; 0 = keep the grid's"),
            advanced=True))
        self.addParameter(helped(QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Mosaic")),
                                 self.tr("the main result: input of Building masks, Export to netCDF, Evaluate")))
        self.addParameter(helped(QgsProcessingParameterRasterDestination(
            self.LABELS, self.tr("Label map"), optional=True, createByDefault=True),
            self.tr("the cell and variation of every pixel, (row × columns + col) × 1000 + variation; "
                    "default <mosaic>_labels.tif")))
        self.addParameter(helped(QgsProcessingParameterVectorDestination(
            self.SEAMS, self.tr("Seam lines"), QgsProcessing.TypeVectorLine, optional=True, createByDefault=True),
            self.tr("the cut lines (GeoPackage); default <mosaic>_seams.gpkg")))
        self.addOutput(QgsProcessingOutputNumber(self.SEAM_VISIBILITY, self.tr("Mean seam visibility index")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        seams = self.parameterAsOutputLayer(parameters, self.SEAMS, context)  # "" when skipped
        if seams and not seams.lower().endswith(".gpkg"):
            seams = seams.rsplit(".", 1)[0] + ".gpkg"
        params = job_params(self, parameters, context, seams=seams)
        labels = params["labels"]  # "" = the backend's default next to the mosaic
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
            if seams:
                load_styled(context, seams, self.tr("Seam lines"), "seams", group, self.SEAMS)
            if labels:
                load_styled(context, labels, self.tr("Label map"), "labels", group, self.LABELS)
        visibility = [v for v in result.get("seam_visibility", {}).values() if v is not None and v == v]
        return {self.OUTPUT: params["output"], self.LABELS: result.get("labels", labels),
                self.SEAMS: result.get("seams", seams),
                self.SEAM_VISIBILITY: sum(visibility) / len(visibility) if visibility else float("nan")}
