"""mapsynth:generate_patches — K synthetic Sentinel-2 patches per grid cell from its rendered map."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ..plugin.settings import DEVICES
from .base import (
    DEMO_MODEL,
    GRID_HELP,
    MAP_DIR_HELP,
    MODEL_HELP,
    MapSynthAlgorithm,
    backend_command,
    generation_job,
    helped,
    run_backend,
)


class GeneratePatches(MapSynthAlgorithm):
    MODEL, PATCH_GRID, MAP_DIR, VARIATIONS, SEED = "MODEL", "PATCH_GRID", "MAP_DIR", "VARIATIONS", "SEED"
    STEPS, BATCH_SIZE, DEVICE, GUIDANCE, OUTPUT_DIR = "STEPS", "BATCH_SIZE", "DEVICE", "GUIDANCE", "OUTPUT_DIR"
    CLASS_GUIDANCE, CLASS_GUIDANCE_MARGIN = "CLASS_GUIDANCE", "CLASS_GUIDANCE_MARGIN"
    SEAMLESS, CONSISTENCY_LORA = "SEAMLESS", "CONSISTENCY_LORA"
    PATCH_COUNT = "PATCH_COUNT"
    group_id = "generation"

    def name(self) -> str:
        return "generate_patches"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Generate patches")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Generates synthetic Sentinel-2 patches (Variations per patch) for every grid patch from its rendered "
            "map, with a MapSynth model, in the backend. Output: <patch_id>_vNN.tif per patch and variation, "
            "georeferenced like the map patch, in reflectance (uint16, reflectance = DN / 10000 - 0.1), band "
            "descriptions set, plus index.jsonl.\n\n"
            "No data, no pixels: where the map carries no information (outside the OSM extract's data bounds, "
            "pixels its mask excludes, patches without any mapped feature) the patch is nodata (DN 0), never "
            "invented land; maps without any information anywhere are an error.\n\n"
            "Deterministic: the noise depends only on (seed, patch_id, variation), never on batch size, order or "
            "number of processes; reruns skip finished files. Device auto runs on the device chosen in MapSynth "
            "Settings; when that is auto too, on a CUDA GPU when the backend sees one (fp16). Only safetensors "
            "weights are loaded; pickle checkpoints are refused.\n\n"
            "Seamless denoises the whole area at once with overlapping windows blended with Hann weights at every "
            "step, so neighbouring patches agree before any cut (memory grows with the area).\n\n"
            "Guidance scale: classifier-free guidance; 0 takes the model's default (controlnet-sd15: 4 on the "
            "prompt; pixel models trained with map dropout: map guidance at the scale in their card; other pixel "
            "models: none). Per-class guidance gives map classes their own scale, e.g. water=1.75 (make demo: "
            "Helsinki's harbour water needs it, the buildings beside it do not).\n\n"
            "pix2pix models generate each patch in one forward pass: Denoising steps is ignored, Guidance scale "
            "must stay 0 and Seamless is refused (both are errors); variations come from a noise input and differ "
            "little."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model"), QgsProcessingParameterFile.Folder, defaultValue=str(DEMO_MODEL),
            optional=True),
            MODEL_HELP))
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon]), GRID_HELP))
        self.addParameter(helped(QgsProcessingParameterFile(self.MAP_DIR, self.tr("Map patches folder"),
                                                            QgsProcessingParameterFile.Folder), MAP_DIR_HELP))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.VARIATIONS, self.tr("Variations per patch"), QgsProcessingParameterNumber.Integer, 4, False, 1,
            100), "candidates per patch; Assemble seamless mosaic picks among them"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.SEED, self.tr("Seed"), QgsProcessingParameterNumber.Integer, 0, False, 0),
            "the noise depends only on (seed, patch_id, variation)"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.STEPS, self.tr("Denoising steps"), QgsProcessingParameterNumber.Integer, 0, False, 0, 1000),
            "0 = the model card's default (20 DPM-Solver++ steps; few-step distilled models: theirs)"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.BATCH_SIZE, self.tr("Batch size"), QgsProcessingParameterNumber.Integer, 8, False, 1, 1024),
            "patches per forward pass; lower it when memory runs out"))
        self.addParameter(helped(QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), list(DEVICES), False, 0),
                                 "auto = the Device of MapSynth Settings (itself auto: a CUDA GPU when present)"))
        self.addParameter(helped(QgsProcessingParameterBoolean(
            self.SEAMLESS, self.tr("Seamless (joint denoising)"), False),
            "denoise the whole area jointly with overlapping Hann-weighted windows"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.GUIDANCE, self.tr("Guidance scale"), QgsProcessingParameterNumber.Double, 0.0, False, 0.0, 30.0),
            "classifier-free guidance; 0 = the model's default", advanced=True))
        self.addParameter(helped(QgsProcessingParameterString(
            self.CLASS_GUIDANCE, self.tr("Per-class guidance"), "", optional=True),
            "pixel models with map dropout: map guidance per map class, e.g. water=1.75 (Guidance scale "
            "elsewhere)", advanced=True))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.CLASS_GUIDANCE_MARGIN, self.tr("Per-class guidance margin (px)"), QgsProcessingParameterNumber.Integer,
            2, True, 0, 64), "pixels around such a class that get its weight (a shore belongs to both sides)",
            advanced=True))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.CONSISTENCY_LORA, self.tr("Consistency LoRA folder"), QgsProcessingParameterFile.Folder,
            optional=True), "controlnet-sd15: a local latent-consistency LoRA (LCM / TCD, safetensors) for 4-step "
            "sampling without guidance (Denoising steps 0 = 4)", advanced=True))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, self.tr("Generated patches")),
                                 "input of Assemble seamless mosaic (Generated patches folder)"))
        self.addOutput(QgsProcessingOutputNumber(self.PATCH_COUNT, self.tr("Patches with all variations")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        params = generation_job(self, parameters, context, feedback, DEVICES)
        result = run_backend(backend_command(self), params, feedback)
        return {self.OUTPUT_DIR: params["output_dir"], self.PATCH_COUNT: result.get("patch_count", 0)}
