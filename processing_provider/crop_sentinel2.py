"""mapsynth:crop_sentinel2 — Sentinel-2 reflectance patches on the grid, computed by the backend."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from .base import GRID_HELP, MapSynthAlgorithm, backend_command, helped, job_params, run_backend

RESAMPLING = ("auto", "nearest", "bilinear", "cubic", "average")


class CropSentinel2(MapSynthAlgorithm):
    PATCH_GRID, INPUT, BANDS, SCALE, OFFSET = "PATCH_GRID", "INPUT", "BANDS", "SCALE", "OFFSET"
    RESAMPLING, OUTPUT_DIR, PATCH_COUNT, OUTSIDE = "RESAMPLING", "OUTPUT_DIR", "PATCH_COUNT", "OUTSIDE"
    group_id = "data"

    def name(self) -> str:
        return "crop_sentinel2"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Crop Sentinel-2 to the grid")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Writes one 4-band GeoTIFF of surface reflectance per grid patch (bands B02, B03, B04, B08 by "
            "default), reprojected and resampled onto the grid's pixels.\n\n"
            "The input is a Sentinel-2 L2A product: its .SAFE folder (or its MTD_MSIL2A.xml), or its .zip; "
            "BOA_ADD_OFFSET and QUANTIFICATION_VALUE are read from MTD_MSIL2A.xml (offsets from processing baseline "
            "04.00) and the 20 m SCL band gives the cloud and nodata flags. Or any raster: Bands maps names to "
            "bands (B02,B03,B04,B08 = bands 1-4; B08=4; B08=/path/b8.tif) and Scale / Offset give reflectance = "
            "DN × scale + offset (e.g. scale 0.001 for reflectance × 1000).\n\n"
            "Encoding: uint16, reflectance = DN / 10000 − 0.1, DN 0 = nodata. Patches outside the scene are "
            "marked 'outside' in the grid's mapsynth_status table (step 's2', with valid and cloud fractions), "
            "never faked. Reruns skip finished patches."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon]), GRID_HELP))
        self.addParameter(helped(QgsProcessingParameterFile(self.INPUT, self.tr("Sentinel-2 product or raster")),
                                 "an L2A .SAFE folder (or its MTD_MSIL2A.xml), its .zip, or any raster"))
        self.addParameter(helped(QgsProcessingParameterString(self.BANDS, self.tr("Bands"), "B02,B03,B04,B08"),
                                 "names, or for rasters NAME=band number or NAME=file"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.SCALE, self.tr("Scale (rasters)"), QgsProcessingParameterNumber.Double, 0.0, True, 0.0),
            "reflectance = DN × scale + offset; rasters only (SAFE products carry their own)"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.OFFSET, self.tr("Offset (rasters)"), QgsProcessingParameterNumber.Double, 0.0, True),
            "added after the scale; rasters only"))
        self.addParameter(helped(QgsProcessingParameterEnum(
            self.RESAMPLING, self.tr("Resampling"), list(RESAMPLING), False, 0),
            "auto = average when downsampling, bilinear otherwise"))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR,
                                                                         self.tr("Sentinel-2 patches")),
                                 "the Sentinel-2 patches folder input of Build training dataset"))
        self.addOutput(QgsProcessingOutputNumber(self.PATCH_COUNT, self.tr("Patches written")))
        self.addOutput(QgsProcessingOutputNumber(self.OUTSIDE, self.tr("Patches outside the scene")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        params = job_params(self, parameters, context)
        result = run_backend(backend_command(self), params, feedback)
        return {self.OUTPUT_DIR: params["output_dir"], self.PATCH_COUNT: result.get("patch_count", 0),
                self.OUTSIDE: result.get("outside", 0)}
