"""mapsynth:augmentation_experiment — does synthetic imagery help a downstream segmentation model?"""

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..plugin import settings
from .base import (
    DEMO_MODEL,
    MODEL_HELP,
    MapSynthAlgorithm,
    backend_command,
    helped,
    job_params,
    model_dir,
    run_backend,
)

SOURCES = ("same_maps", "unpaired_maps")
DEVICES = ("auto", "cpu", "cuda")


class AugmentationExperiment(MapSynthAlgorithm):
    DATASET, MODEL, REAL_FRACTIONS, SYNTHETIC = "DATASET", "MODEL", "REAL_FRACTIONS", "SYNTHETIC"
    VARIATIONS, SEEDS, STEPS, DEVICE, OUTPUT_DIR = "VARIATIONS", "SEEDS", "STEPS", "DEVICE", "OUTPUT_DIR"
    RESULTS, REPORT, SEGMENTER, RUNS = "RESULTS", "REPORT", "SEGMENTER", "RUNS"
    group_id = "postprocessing"

    def name(self) -> str:
        return "augmentation_experiment"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Augmentation experiment (is the synthetic data useful?)")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Measures whether synthetic imagery helps a downstream model: a small U-Net (MONAI, random "
            "initialisation, nothing downloaded) learns the map classes from the 4 reflectance bands, trained on "
            "real pairs only, real + synthetic (each source), and synthetic only, for every real fraction and "
            "seed, and is scored on the dataset's held-out real test split only (mIoU, per-class IoU and F1, mean "
            "and standard deviation over seeds).\n\n"
            "Real fractions are spatially contiguous blocks of the training split (nested), not random patches. "
            "Synthetic sources: same_maps = K variations generated from the maps of the real pairs; unpaired_maps "
            "= generated from the maps of the rest of the training split, whose imagery the arm does not see (maps "
            "everywhere, imagery in a few places). Every arm trains the same number of steps; mixed batches take "
            "half real, half synthetic.\n\n"
            "Targets are the map classes of the semantic palette, recoloured like the model's map_remap. "
            "Outputs: results.json, report.html (learning curve, tables), learning_curve.png, runs/ (one file per "
            "finished run: a cancelled or killed experiment continues where it stopped when rerun with the same "
            "settings), synthetic/ (the generated images) and segmenter/ (trained on all real training pairs; "
            "Evaluate uses it for the map-adherence score)."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterFile(self.DATASET, self.tr("Training dataset"),
                                                            QgsProcessingParameterFile.Folder),
                                 "the output of Build training dataset; it needs a test split"))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.MODEL, self.tr("Generator model"), QgsProcessingParameterFile.Folder, defaultValue=str(DEMO_MODEL),
            optional=True), MODEL_HELP))
        self.addParameter(helped(QgsProcessingParameterString(self.REAL_FRACTIONS, self.tr("Real fractions"),
                                                              "0.1,0.25,1.0"),
                                 "comma-separated fractions of the training split, each in (0, 1]"))
        self.addParameter(helped(QgsProcessingParameterEnum(self.SYNTHETIC, self.tr("Synthetic sources"),
                                                            list(SOURCES), True, [0, 1]),
                                 "same_maps: variations of the real pairs' maps; unpaired_maps: maps whose "
                                 "imagery is withheld"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.VARIATIONS, self.tr("Synthetic variations per map"), QgsProcessingParameterNumber.Integer, 2,
            False, 1, 20), "K images generated per map"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.SEEDS, self.tr("Seeds"), QgsProcessingParameterNumber.Integer, 3, False, 1, 20),
            "training runs per arm and fraction (mean and standard deviation over them)"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.STEPS, self.tr("Segmentation steps"), QgsProcessingParameterNumber.Integer, 300, False, 1),
            "training steps of each segmentation run"))
        self.addParameter(helped(QgsProcessingParameterEnum(self.DEVICE, self.tr("Generator device"),
                                                            list(DEVICES), False, 0),
                                 "auto = the Device of MapSynth Settings; the segmenter always trains on the CPU",
                                 advanced=True))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR,
                                                                         self.tr("Experiment folder")),
                                 "results.json, report.html, runs/, synthetic/, segmenter/"))
        self.addOutput(QgsProcessingOutputFile(self.RESULTS, self.tr("Results (JSON)")))
        self.addOutput(QgsProcessingOutputFile(self.REPORT, self.tr("Report (HTML)")))
        self.addOutput(QgsProcessingOutputFolder(self.SEGMENTER, self.tr("Segmenter (for Evaluate)")))
        self.addOutput(QgsProcessingOutputNumber(self.RUNS, self.tr("Finished runs")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        device = DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]
        if device == "auto":
            device = settings.device(DEVICES)
            if device == "auto":
                device = "cpu"
        fractions = self.parameterAsString(parameters, self.REAL_FRACTIONS, context)
        if not fractions.strip():
            raise QgsProcessingException(self.tr("REAL_FRACTIONS: give at least one fraction, e.g. 0.1,0.25,1.0"))
        model = model_dir(self.parameterAsFile(parameters, self.MODEL, context) or str(DEMO_MODEL), feedback)
        params = job_params(self, parameters, context, model=model, device=device, real_fractions=fractions)
        result = run_backend(backend_command(self), params, feedback)
        return {self.OUTPUT_DIR: params["output_dir"], self.RESULTS: result.get("results"),
                self.REPORT: result.get("report"), self.SEGMENTER: result.get("segmenter"),
                self.RUNS: result.get("runs", 0)}
