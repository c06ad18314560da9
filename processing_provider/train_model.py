"""mapsynth:train_model — train a model family on a dataset folder, in the backend."""

import re
from pathlib import Path

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..plugin import settings
from .base import MapSynthAlgorithm, backend_command, helped, job_params, run_backend

FAMILIES = ("pixel", "controlnet-sd15", "pix2pix")
DATA_SCALINGS = ("none", "std", "whiten")  # appended: qgis_process takes enums by index
PRESETS = ("tiny", "small", "sd15", "medium")  # appended: qgis_process takes enums by index
LR_SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine")
DEVICES = ("auto", "cpu")  # the backend's train choices; auto takes a GPU when there is one
# The commit of stable-diffusion-v1-5/stable-diffusion-v1-5 on the Hugging Face hub that downloads are pinned to
# (the backend's SD15_REVISION); a branch name such as "main" is refused.
SD15_REVISION = "451f4fe16113bff5a5d2269ed5ad43b0592e9a14"  # pragma: allowlist secret (a public commit id)


class TrainModel(MapSynthAlgorithm):
    DATASET, FAMILY, PRESET, BASE_MODEL = "DATASET", "FAMILY", "PRESET", "BASE_MODEL"
    MAX_STEPS, BATCH_SIZE, LEARNING_RATE, RESUME = "MAX_STEPS", "BATCH_SIZE", "LEARNING_RATE", "RESUME"
    ALLOW_DOWNLOAD, CHECKPOINT_EVERY, VALIDATION_EVERY, SEED = ("ALLOW_DOWNLOAD", "CHECKPOINT_EVERY",
                                                                "VALIDATION_EVERY", "SEED")
    MAP_DROPOUT, REVISION, DEVICE = "MAP_DROPOUT", "REVISION", "DEVICE"
    LR_SCHEDULER, LR_WARMUP_STEPS, WEIGHT_DECAY = "LR_SCHEDULER", "LR_WARMUP_STEPS", "WEIGHT_DECAY"
    MAX_GRAD_NORM, EMA, EMA_DECAY = "MAX_GRAD_NORM", "EMA", "EMA_DECAY"
    DATA_SCALING = "DATA_SCALING"
    DISTILL_FROM, DISTILL_STEPS = "DISTILL_FROM", "DISTILL_STEPS"
    DISTILL_SUBSTEPS, DISTILL_GUIDANCE = "DISTILL_SUBSTEPS", "DISTILL_GUIDANCE"
    DISTILL_CLASS_GUIDANCE, DISTILL_CLASS_GUIDANCE_MARGIN = "DISTILL_CLASS_GUIDANCE", "DISTILL_CLASS_GUIDANCE_MARGIN"
    OUTPUT_DIR, MODEL_DIR, FINAL_LOSS = "OUTPUT_DIR", "MODEL_DIR", "FINAL_LOSS"
    group_id = "training"

    def name(self) -> str:
        return "train_model"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Train model")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Trains a MapSynth model on a dataset folder from Build training dataset, in the backend (GPU when "
            "available). Model family pixel: a conditional pixel-space diffusion UNet on all bands (presets tiny, "
            "small, medium: 2.5 times small's parameters, about 2.6 times its training time; Base model, "
            "optional: a pixel model of the same preset and bands to fine-tune); "
            "controlnet-sd15: two ControlNets on Stable Diffusion 1.5 (Base model: a local diffusers "
            "folder, or a hub id when downloading is allowed, pinned to the hub commit given as revision), the NIR "
            "one conditioned on the map and the RGB image; pix2pix: a one-step conditional GAN baseline (MONAI "
            "U-Net generator and PatchGAN discriminator, L1 x 100 + adversarial loss, presets tiny, small; use "
            "Learning rate 2e-4 as in Isola et al.; no map dropout).\n\n"
            "The training folder receives checkpoints (checkpoints/checkpoint-N), validation grids (map | real | "
            "generated, RGB and NIR false colour), loss.csv and loss.png, and the final model in model/ with "
            "model_card.json; give the training folder or its model/ as the Model of Generate patches. Resume "
            "from: 'latest' continues from the latest checkpoint in the training folder with the same loss curve; "
            "a checkpoint-N folder continues from that one. Map dropout (pixel) trains that share of samples "
            "without their map, so generation can apply classifier-free map guidance (Guidance scale of Generate "
            "patches; the card records the recommended scale). Learning-rate schedule with warmup, weight decay, "
            "gradient clipping and EMA are the knobs of diffusers' training examples. Device auto runs on the "
            "device chosen in MapSynth Settings. Distil from (pixel): instead of a new model, train a few-step "
            "student of that teacher model on the same dataset (progressive distillation with the teacher's "
            "guidance folded in: one network evaluation per step, Distilled steps steps; its card records them as "
            "the default of Generate patches). For multi-GPU training run the same job with 'accelerate launch "
            "-m mapsynth_backend train-model ...'."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterFile(self.DATASET, self.tr("Dataset folder"),
                                                            QgsProcessingParameterFile.Folder),
                                 "the output of Build training dataset"))
        self.addParameter(QgsProcessingParameterEnum(self.FAMILY, self.tr("Model family"), list(FAMILIES), False, 0))
        self.addParameter(QgsProcessingParameterEnum(self.PRESET, self.tr("Architecture preset"), list(PRESETS),
                                                     False, 1))
        self.addParameter(helped(QgsProcessingParameterString(
            self.BASE_MODEL, self.tr("Base model"), "", optional=True),
            "controlnet-sd15 only: a local diffusers folder of SD 1.5, or a hub id"))
        self.addParameter(QgsProcessingParameterNumber(self.MAX_STEPS, self.tr("Training steps"),
                                                       QgsProcessingParameterNumber.Integer, 2000, False, 1))
        self.addParameter(QgsProcessingParameterNumber(self.BATCH_SIZE, self.tr("Batch size"),
                                                       QgsProcessingParameterNumber.Integer, 8, False, 1, 4096))
        self.addParameter(QgsProcessingParameterNumber(self.LEARNING_RATE, self.tr("Learning rate"),
                                                       QgsProcessingParameterNumber.Double, 1e-4, False, 0.0, 1.0))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.RESUME, self.tr("Resume from"), QgsProcessingParameterFile.Folder, optional=True),
            "empty = start afresh; 'latest' = the latest checkpoint in the training folder; or a checkpoint-N "
            "folder"))
        self.addParameter(helped(QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), list(DEVICES), False, 0),
                                 "auto = the Device of MapSynth Settings (cuda there: auto, which uses the GPU)"))
        advanced = (
            QgsProcessingParameterBoolean(self.ALLOW_DOWNLOAD, self.tr("Allow downloading the base model"), False),
            QgsProcessingParameterString(self.REVISION, self.tr("Base model revision"), SD15_REVISION),
            QgsProcessingParameterNumber(self.CHECKPOINT_EVERY, self.tr("Checkpoint every N steps"),
                                         QgsProcessingParameterNumber.Integer, 500, False, 1),
            QgsProcessingParameterNumber(self.VALIDATION_EVERY, self.tr("Validation grid every N steps"),
                                         QgsProcessingParameterNumber.Integer, 500, False, 0),
            QgsProcessingParameterNumber(self.SEED, self.tr("Seed"), QgsProcessingParameterNumber.Integer, 0, False, 0),
            QgsProcessingParameterNumber(self.MAP_DROPOUT, self.tr("Map dropout"),
                                         QgsProcessingParameterNumber.Double, 0.0, False, 0.0, 0.5),
            helped(QgsProcessingParameterFile(self.DISTILL_FROM, self.tr("Distil from (teacher model)"),
                                              QgsProcessingParameterFile.Folder, optional=True),
                   "a pixel model folder: train a few-step student of it instead of a new model"),
            helped(QgsProcessingParameterNumber(self.DISTILL_STEPS, self.tr("Distilled steps"),
                                                QgsProcessingParameterNumber.Integer, 5, False, 1, 100),
                   "the student's sampling steps (one network evaluation each)"),
            helped(QgsProcessingParameterNumber(self.DISTILL_SUBSTEPS, self.tr("Teacher steps per student step"),
                                                QgsProcessingParameterNumber.Integer, 2, False, 1),
                   "guided teacher DDIM steps one student step learns; steps x this must divide 1000"),
            helped(QgsProcessingParameterNumber(self.DISTILL_GUIDANCE, self.tr("Guidance folded in"),
                                                QgsProcessingParameterNumber.Double, 0.0, False, 0.0),
                   "the teacher's guidance scale the student learns; 0 = the teacher card's"),
            helped(QgsProcessingParameterString(self.DISTILL_CLASS_GUIDANCE, self.tr("Per-class guidance folded in"),
                                                "", optional=True),
                   "map guidance per class the student learns, as Generate patches' Per-class guidance "
                   "(e.g. water=1.75; the guidance above elsewhere)"),
            helped(QgsProcessingParameterNumber(self.DISTILL_CLASS_GUIDANCE_MARGIN,
                                                self.tr("Per-class guidance margin (px)"),
                                                QgsProcessingParameterNumber.Integer, 2, True, 0, 64),
                   "pixels around such a class that get its weight"),
            helped(QgsProcessingParameterEnum(self.LR_SCHEDULER, self.tr("Learning-rate schedule"),
                                              list(LR_SCHEDULES), False, 0),
                   "the learning rate after the warmup: constant, or decaying linearly or as a cosine to 0"),
            helped(QgsProcessingParameterNumber(self.LR_WARMUP_STEPS, self.tr("Warmup steps"),
                                                QgsProcessingParameterNumber.Integer, 0, False, 0),
                   "the learning rate rises linearly from 0 over these steps"),
            helped(QgsProcessingParameterNumber(self.WEIGHT_DECAY, self.tr("Weight decay"),
                                                QgsProcessingParameterNumber.Double, 1e-2, False, 0.0),
                   "AdamW weight decay"),
            helped(QgsProcessingParameterNumber(self.MAX_GRAD_NORM, self.tr("Gradient clipping norm"),
                                                QgsProcessingParameterNumber.Double, 1.0, False, 0.0),
                   "gradients are clipped to this norm"),
            helped(QgsProcessingParameterBoolean(self.EMA, self.tr("EMA of the weights"), False),
                   "the saved model is an exponential moving average of the weights"),
            helped(QgsProcessingParameterNumber(self.EMA_DECAY, self.tr("EMA decay"),
                                                QgsProcessingParameterNumber.Double, 0.999, False, 0.0, 1.0),
                   "decay of the moving average (with EMA)"),
            helped(QgsProcessingParameterEnum(self.DATA_SCALING, self.tr("Band scaling (pixel)"),
                                              list(DATA_SCALINGS), False, 0),
                   "std: a new pixel model diffuses each band at the same spread around its training-split mean, "
                   "so the dark visible bands' detail is not left to the last sampling steps (lower C2ST on the "
                   "demo scene, BENCHMARKS realism-scaling); none: each band's clip range mapped to [-1, 1]; whiten: "
                   "the bands together, decorrelated to the same spread (an experiment, not better on the demo scene: "
                   "BENCHMARKS realism-whiten)"),
        )
        for param in advanced:
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(param)
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, self.tr("Training folder")),
                                 "checkpoints, validation grids, loss curve and model/ (the Model of Generate "
                                 "patches)"))
        self.addOutput(QgsProcessingOutputFolder(self.MODEL_DIR, self.tr("Model directory")))
        self.addOutput(QgsProcessingOutputNumber(self.FINAL_LOSS, self.tr("Final loss")))

    def checkParameterValues(self, parameters, context):  # noqa: N802 - QGIS API name
        try:
            self._resume(parameters, context)
        except QgsProcessingException as exc:
            return False, str(exc)
        return super().checkParameterValues(parameters, context)

    def _resume(self, parameters, context) -> str:
        """RESUME as the backend takes it: '', 'latest' or an existing checkpoint-N folder (one clear line else)."""
        text = (self.parameterAsString(parameters, self.RESUME, context) or "").strip()
        if text.lower() in ("", "false", "0", "no"):
            return ""
        if text.lower() in ("latest", "true", "1", "yes"):  # true: RESUME was a checkbox before
            return "latest"
        folder = Path(text)
        if not re.fullmatch(r"checkpoint-\d+", folder.name) or not folder.is_dir():
            raise QgsProcessingException(self.tr(
                "RESUME: {path} is not a checkpoint folder; give a checkpoint-N folder from the training folder's "
                "checkpoints/, or 'latest'.").format(path=text))
        return str(folder)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        device = DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]
        if device == "auto":
            device = settings.device(DEVICES)
            feedback.pushInfo(self.tr("Device: {d} (MapSynth Settings)").format(d=device))
        revision = self.parameterAsString(parameters, self.REVISION, context) or SD15_REVISION
        params = job_params(self, parameters, context, resume=self._resume(parameters, context), device=device,
                            revision=revision)
        result = run_backend(backend_command(self), params, feedback)
        return {self.OUTPUT_DIR: params["output_dir"], self.MODEL_DIR: result.get("model_dir", ""),
                self.FINAL_LOSS: result.get("final_loss", float("nan"))}
