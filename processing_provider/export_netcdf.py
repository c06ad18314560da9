"""mapsynth:export_netcdf — the mosaic, its masks and label map as CF-1.8 netCDF (and per-patch files)."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
)

from .base import MapSynthAlgorithm, backend_command, job_params, run_backend


class ExportNetcdf(MapSynthAlgorithm):
    MOSAIC, MASKS, LABELS, PER_PATCH, OUTPUT, PATCH_FILES = "MOSAIC", "MASKS", "LABELS", "PER_PATCH", "OUTPUT", \
        "PATCH_FILES"
    group_id = "postprocessing"

    def name(self) -> str:
        return "export_netcdf"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Export to netCDF")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr(
            "Writes the mosaic as CF-1.8 netCDF-4: one variable per band (B02, B03, B04, B08; reflectance packed as "
            "short with scale_factor 0.0001 and add_offset -0.1), x/y pixel-centre coordinates, a CF grid mapping "
            "with the CRS, the coverage masks (MASKS, on the mosaic's grid) and the label map as variables, and "
            "provenance (MapSynth version, model, seed, creation time) and attribution attributes (© OpenStreetMap "
            "contributors; Contains modified Copernicus Sentinel data). With PER_PATCH (the patch grid) it also "
            "writes one file per patch next to OUTPUT, in <name>_patches/."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(QgsProcessingParameterRasterLayer(self.MOSAIC, self.tr("Mosaic")))
        self.addParameter(QgsProcessingParameterMultipleLayers(self.MASKS, self.tr("Masks"),
                                                               QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(self.LABELS, self.tr("Label map"), optional=True))
        self.addParameter(QgsProcessingParameterVectorLayer(self.PER_PATCH, self.tr("Patch grid for per-patch files"),
                                                            [QgsProcessing.TypeVectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT, self.tr("netCDF file"),
                                                                self.tr("netCDF (*.nc)")))
        self.addOutput(QgsProcessingOutputNumber(self.PATCH_FILES, self.tr("Per-patch files written")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        params = job_params(self, parameters, context)
        result = run_backend(backend_command(self), params, feedback)
        feedback.pushInfo(self.tr("variables: {v}").format(v=", ".join(result.get("variables", []))))
        return {self.OUTPUT: params["output"], self.PATCH_FILES: result.get("patch_files", 0)}
