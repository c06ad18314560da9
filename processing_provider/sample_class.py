"""mapsynth:sample_class — K synthetic patches of one map class without a map, as a training dataset folder."""

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
)

from ..plugin.osm_semantic import load_palette
from ..plugin.settings import DEVICES
from .base import (
    DEMO_MODEL,
    MODEL_HELP,
    MapSynthAlgorithm,
    backend_command,
    generation_job,
    helped,
    run_backend,
)

# area classes only: a patch of nothing but road or hedge is no scene (the backend's choices, same palette file)
CLASSES = tuple(c["key"] for c in load_palette()["classes"] if c["geometry"] == "area")


class SampleClass(MapSynthAlgorithm):
    MODEL, CLASS, COUNT, SEED, STEPS = "MODEL", "CLASS", "COUNT", "SEED", "STEPS"
    GUIDANCE, BATCH_SIZE, DEVICE, OUTPUT_DIR = "GUIDANCE", "BATCH_SIZE", "DEVICE", "OUTPUT_DIR"
    WRITTEN = "WRITTEN"
    group_id = "generation"

    def name(self) -> str:
        return "sample_class"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Sample one map class")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Generates Count synthetic Sentinel-2 patches of one map class without drawing a map: the model sees a "
            "flat map of the class (recoloured onto the model's own classes as Generate patches does), e.g. to "
            "oversample a rare class for a segmentation model.\n\n"
            "Output: a dataset folder like Build training dataset's (radiometry.json, train/metadata.jsonl, "
            "images/, nir/, multispectral/ GeoTIFFs in reflectance, conditioning/ maps), usable as the Dataset "
            "folder of Train model. The GeoTIFFs lie side by side on a synthetic grid at the origin of the model's "
            "CRS: their location means nothing.\n\n"
            "Deterministic: sample i depends only on (seed, class, i); reruns skip finished samples and a larger "
            "count extends a smaller one. Guidance scale: 0 takes the model's default (pixel models trained with "
            "map dropout: map guidance at the scale in their card; measured with the demo model, 1 gives NDVI "
            "closer to the real class, see docs/BENCHMARKS.md); "
            "pix2pix models have no guidance (any other value is an error) and ignore Denoising steps (one forward "
            "pass)."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model"), QgsProcessingParameterFile.Folder, defaultValue=str(DEMO_MODEL),
            optional=True), MODEL_HELP))
        self.addParameter(helped(QgsProcessingParameterEnum(
            self.CLASS, self.tr("Map class"), list(CLASSES), False, CLASSES.index("forest")),
            "a class of the MapSynth semantic palette (area classes)"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.COUNT, self.tr("Number of patches"), QgsProcessingParameterNumber.Integer, 16, False, 1, 10000),
            "patches to generate"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.SEED, self.tr("Seed"), QgsProcessingParameterNumber.Integer, 0, False, 0),
            "sample i depends only on (seed, class, i)"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.STEPS, self.tr("Denoising steps"), QgsProcessingParameterNumber.Integer, 0, False, 0, 1000),
            "0 = the model card's default_steps, like Generate patches (pix2pix: ignored)"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.GUIDANCE, self.tr("Guidance scale"), QgsProcessingParameterNumber.Double, 0.0, False, 0.0, 30.0),
            "map guidance; 0 = the model's default", advanced=True))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.BATCH_SIZE, self.tr("Batch size"), QgsProcessingParameterNumber.Integer, 8, False, 1, 1024),
            "patches per forward pass; lower it when memory runs out", advanced=True))
        self.addParameter(helped(QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), list(DEVICES), False, 0),
                                 "auto = the Device of MapSynth Settings (itself auto: a CUDA GPU when present)"))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, self.tr("Dataset folder")),
                                 "a training dataset folder (the Dataset folder of Train model)"))
        self.addOutput(QgsProcessingOutputNumber(self.WRITTEN, self.tr("Patches written")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        params = generation_job(self, parameters, context, feedback, DEVICES)
        result = run_backend(backend_command(self), params, feedback)
        return {self.OUTPUT_DIR: params["output_dir"], self.WRITTEN: result.get("written", 0)}
