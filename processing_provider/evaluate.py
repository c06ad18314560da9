"""mapsynth:evaluate — compare synthetic imagery with real Sentinel-2: report.html and metrics.json."""


from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtGui import QColor

from ..plugin.backend_client import new_job_dir
from ..plugin.osm_files import checked_osm_path, is_osm_path, looks_like_osm
from ..plugin.osm_layers import background_rgb, semantic_layers
from ..plugin.osm_semantic import PALETTE_PATH
from ..plugin.rendering import render_to_raster
from .base import MapSynthAlgorithm, backend_command, helped, job_params, run_backend


class Evaluate(MapSynthAlgorithm):
    SYNTHETIC, REAL, MAP, INCEPTION_WEIGHTS, OUTPUT_DIR = "SYNTHETIC", "REAL", "MAP", "INCEPTION_WEIGHTS", \
        "OUTPUT_DIR"
    UNVERIFIED_FID, SEGMENTER, STRIDE, C2ST_REPEATS = "UNVERIFIED_FID", "SEGMENTER", "STRIDE", "C2ST_REPEATS"
    REPORT, METRICS = "REPORT", "METRICS"
    group_id = "postprocessing"

    def name(self) -> str:
        return "evaluate"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Evaluate against Sentinel-2")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Compares synthetic imagery with real Sentinel-2 and writes report.html (self-contained, with plots) "
            "and metrics.json: per-band histograms and Wasserstein distances; NDVI per map class (from a map raster, "
            "or an OpenStreetMap extract rendered here in the semantic style); map adherence with the segmenter of an "
            "Augmentation experiment (mIoU and F1 per class of its prediction against the map; the real image of the "
            "same grid is the ceiling); SSIM and PSNR with the real data range "
            "when the real raster covers the same grid; seam visibility and periodicity of a MapSynth mosaic (its "
            "label map is read next to it; without it, the tile lines of its grid stride); the share of the "
            "mosaic that is nodata (no map information; with an OSM map: outside its data bounds or inside them); "
            "realism when the real raster is given: a classifier two-sample test (a small CNN, cross-validated on "
            "32 px tiles grouped by 128 px block, averaged over several runs; 50 % = indistinguishable) on whole "
            "tiles and on their detail "
            "alone (each tile minus a 2 px blur: texture and noise), the gradient-energy ratio, the share of "
            "spectral power above 1/4 cycle per pixel with the power spectra, the band correlations within a tile, "
            "and the same per map-class group; "
            "FID and KID when local Inception weights are given: the FID Inception-v3 "
            "weights (pytorch-fid's, converted once to .safetensors; no pickle or TorchScript file is ever loaded); "
            "nothing is downloaded. Sections whose input is missing are skipped with a note."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterRasterLayer(self.SYNTHETIC, self.tr("Synthetic mosaic")),
                                 "the Mosaic of Assemble seamless mosaic (or any synthetic 4-band raster)"))
        self.addParameter(helped(QgsProcessingParameterRasterLayer(self.REAL, self.tr("Real Sentinel-2"),
                                                                   optional=True),
                                 "a real 4-band reflectance raster, e.g. a mosaic of Crop Sentinel-2 patches"))
        self.addParameter(helped(QgsProcessingParameterFile(self.MAP, self.tr("Map raster or OSM extract"),
                                                            optional=True),
                                 "for NDVI per map class: a rendered map raster, or the OpenStreetMap extract "
                                 "(.osm.pbf, .osm, .osm.gz, .osm.bz2)"))
        self.addParameter(helped(QgsProcessingParameterFile(self.INCEPTION_WEIGHTS, self.tr("FID Inception-v3 weights"),
                                                            optional=True, fileFilter="safetensors (*.safetensors)"),
                                 "local .safetensors weights; FID and KID are skipped without them"))
        self.addParameter(helped(QgsProcessingParameterFile(self.SEGMENTER, self.tr("Segmenter (map adherence)"),
                                                            QgsProcessingParameterFile.Folder, optional=True),
                                 "the segmenter folder of an Augmentation experiment: with a map, scores whether the "
                                 "synthetic image shows what the map says (mIoU, F1 per class; the real image of "
                                 "the same grid is the ceiling)"))
        self.addParameter(helped(QgsProcessingParameterBoolean(self.UNVERIFIED_FID,
                                                               self.tr("Allow unverified FID weights"), False),
                                 "compute FID/KID with weights that are not the recognised FID Inception weights; "
                                 "the report marks them UNVERIFIED", advanced=True))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.STRIDE, self.tr("Tile stride (px)"), QgsProcessingParameterNumber.Integer, 0, False, 0),
            "the patch grid's stride, for seam metrics of a mosaic without its label map; 0 = the stride the "
            "mosaic records", advanced=True))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.C2ST_REPEATS, self.tr("Classifier test runs"), QgsProcessingParameterNumber.Integer, 5, False, 1),
            "realism: how many runs of the classifier two-sample test are averaged (about 15 s each on 2 cores); "
            "one run moves by several points with the classifier's own seed, the report gives their spread",
            advanced=True))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, self.tr("Report folder")),
                                 "report.html and metrics.json"))
        self.addOutput(QgsProcessingOutputFile(self.REPORT, self.tr("Report (HTML)")))
        self.addOutput(QgsProcessingOutputFile(self.METRICS, self.tr("Metrics (JSON)")))

    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        """An OSM extract as MAP is classified into styled layers here, on the main thread."""
        self.layers = []
        map_path = self.parameterAsFile(parameters, self.MAP, context)
        synthetic = self.parameterAsRasterLayer(parameters, self.SYNTHETIC, context)
        self.grid = None
        if map_path and looks_like_osm(map_path):
            checked_osm_path(map_path, "MAP")
        if synthetic is not None and map_path and is_osm_path(map_path):
            extent, crs = synthetic.extent(), synthetic.crs()
            self.grid = (crs, (extent.xMinimum(), synthetic.rasterUnitsPerPixelX(), 0.0, extent.yMaximum(), 0.0,
                               -synthetic.rasterUnitsPerPixelY()), synthetic.width(), synthetic.height())
            self.layers, _ = semantic_layers(map_path, QgsRectangle(extent), crs,
                                             synthetic.rasterUnitsPerPixelX(), feedback)
            self.transform_context = context.transformContext()
        return True

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        map_path = self.parameterAsFile(parameters, self.MAP, context) or ""
        if self.grid is not None:
            crs, transform, width, height = self.grid
            rendered = new_job_dir("map-render") / "map.tif"
            feedback.pushInfo(self.tr("Rendering the OSM extract on the synthetic grid ({w} x {h})").format(
                w=width, h=height))
            render_to_raster(self.layers, crs, transform, width, height, rendered, QColor(*background_rgb()),
                             self.transform_context, feedback)
            map_path = str(rendered)
        params = job_params(self, parameters, context, map=map_path, palette=str(PALETTE_PATH))
        result = run_backend(backend_command(self), params, feedback)
        feedback.pushInfo(self.tr("sections: {s}").format(s=", ".join(result.get("sections", []))))
        return {self.OUTPUT_DIR: params["output_dir"], self.REPORT: result.get("report"),
                self.METRICS: result.get("metrics")}

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 - QGIS API name
        self.layers = []
        return {}


