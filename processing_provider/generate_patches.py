"""mapsynth:generate_patches — K synthetic Sentinel-2 patches per grid cell from its rendered map."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorLayer,
)

from .base import MapSynthAlgorithm, backend_command, job_params, run_backend

DEVICES = ("auto", "cpu", "cuda")


class GeneratePatches(MapSynthAlgorithm):
    MODEL, PATCH_GRID, MAP_DIR, VARIATIONS, SEED = "MODEL", "PATCH_GRID", "MAP_DIR", "VARIATIONS", "SEED"
    STEPS, BATCH_SIZE, DEVICE, GUIDANCE, OUTPUT_DIR = "STEPS", "BATCH_SIZE", "DEVICE", "GUIDANCE", "OUTPUT_DIR"
    SEAMLESS = "SEAMLESS"
    PATCH_COUNT = "PATCH_COUNT"
    group_id = "generation"

    def name(self) -> str:
        return "generate_patches"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Generate patches")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr(
            "Generates VARIATIONS synthetic Sentinel-2 patches per grid patch from its rendered map (MAP_DIR) with "
            "a MapSynth model (MODEL: a folder with model_card.json), in the backend. Output: "
            "<patch_id>_vNN.tif, georeferenced like the map patch, in reflectance (uint16, reflectance = DN / 10000 "
            "- 0.1), band descriptions set, plus index.jsonl.<br><br>Deterministic: the noise depends only on "
            "(SEED, patch_id, variation), never on batch size, order or number of processes; reruns skip finished "
            "files. DEVICE auto uses a CUDA GPU when the backend sees one (fp16). Only safetensors weights are "
            "loaded; pickle checkpoints are refused.<br><br>SEAMLESS denoises the whole area at once with "
            "overlapping windows blended with Hann weights at every step, so neighbouring patches agree before "
            "any cut (memory grows with the area).<br><br>GUIDANCE: classifier-free guidance; 0 takes the model's "
            "default (controlnet-sd15: 4 on the prompt; pixel models trained with MAP_DROPOUT: map guidance at the "
            "scale in their card; other pixel models: none)."
        )

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(QgsProcessingParameterFile(self.MODEL, self.tr("Model directory"),
                                                     QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterFile(self.MAP_DIR, self.tr("Map patches folder"),
                                                     QgsProcessingParameterFile.Folder))
        self.addParameter(QgsProcessingParameterNumber(self.VARIATIONS, self.tr("Variations per patch"),
                                                       QgsProcessingParameterNumber.Integer, 4, False, 1, 100))
        self.addParameter(QgsProcessingParameterNumber(self.SEED, self.tr("Seed"),
                                                       QgsProcessingParameterNumber.Integer, 0, False, 0))
        self.addParameter(QgsProcessingParameterNumber(self.STEPS, self.tr("Denoising steps"),
                                                       QgsProcessingParameterNumber.Integer, 20, False, 1, 1000))
        self.addParameter(QgsProcessingParameterNumber(self.BATCH_SIZE, self.tr("Batch size"),
                                                       QgsProcessingParameterNumber.Integer, 8, False, 1, 1024))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), list(DEVICES), False, 0))
        self.addParameter(QgsProcessingParameterBoolean(
            self.SEAMLESS, self.tr("Seamless: denoise the whole area jointly (overlapping Hann-weighted windows)"),
            False))
        guidance = QgsProcessingParameterNumber(self.GUIDANCE, self.tr("Guidance scale (0 = the model's default)"),
                                                QgsProcessingParameterNumber.Double, 0.0, False, 0.0, 30.0)
        guidance.setFlags(guidance.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(guidance)
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, self.tr("Generated patches")))
        self.addOutput(QgsProcessingOutputNumber(self.PATCH_COUNT, self.tr("Patches with all variations")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        params = job_params(self, parameters, context)
        result = run_backend(backend_command(self), params, feedback)
        return {self.OUTPUT_DIR: params["output_dir"], self.PATCH_COUNT: result.get("patch_count", 0)}
