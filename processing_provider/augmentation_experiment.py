"""mapsynth:augmentation_experiment — does synthetic imagery help a downstream segmentation model?"""

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ..plugin import settings
from ..plugin.backend_client import new_job_dir
from .base import (
    DEMO_MODEL,
    MODEL_HELP,
    MapSynthAlgorithm,
    backend_command,
    export_gpkg,
    helped,
    job_params,
    model_dir,
    run_backend,
)

SOURCES = ("same_maps", "unpaired_maps")


class AugmentationExperiment(MapSynthAlgorithm):
    DATASET, MODEL, REAL_FRACTIONS, SYNTHETIC = "DATASET", "MODEL", "REAL_FRACTIONS", "SYNTHETIC"
    VARIATIONS, SEEDS, STEPS, DEVICE, OUTPUT_DIR = "VARIATIONS", "SEEDS", "STEPS", "DEVICE", "OUTPUT_DIR"
    LABELS, LABEL_FIELD, FOLDS, GUARD = "LABELS", "LABEL_FIELD", "FOLDS", "GUARD"
    GENERATOR_STEPS = "GENERATOR_STEPS"
    RESULTS, REPORT, SEGMENTER, RUNS = "RESULTS", "REPORT", "SEGMENTER", "RUNS"
    group_id = "postprocessing"

    def name(self) -> str:
        return "augmentation_experiment"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Augmentation experiment (is the synthetic data useful?)")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Measures whether synthetic imagery helps a downstream model. With Labels (hand-labelled single-class "
            "polygons, their class in Label field: a map class such as water, or forest, grass, urban, water) "
            "the segmenters are scored on those polygons only (per-class and macro recall, 95 % cluster-bootstrap "
            "intervals over polygons): spatial folds of polygon clusters, every training patch (segmenter, "
            "validation, generator, unpaired maps) farther than Guard pixels from the polygons a run scores; each "
            "real block gets its own generator trained only on it; synthetic or classically augmented samples are "
            "added on top of the real ones; early stopping; paired seeds; the primary comparison (real + "
            "synthetic against real at the smallest fraction) is named before the runs, the others are "
            "Holm-corrected. The derived maps are only weak training labels there.\n\n"
            "Without Labels (the older mode, with a warning): the labels come from the imagery itself, so the "
            "score says how well a segmenter copies the map-derivation rule, not land cover. "
            "A small U-Net (MONAI, random "
            "initialisation, nothing downloaded) learns the map classes from the 4 reflectance bands, trained on "
            "real pairs only, real + synthetic (each source), and synthetic only, for every real fraction and "
            "seed, and is scored on the dataset's held-out real test split only (mIoU, per-class IoU and F1, mean "
            "and standard deviation over seeds).\n\n"
            "Real fractions are spatially contiguous blocks of the training split (nested), not random patches. "
            "Synthetic sources: same_maps = K variations generated from the maps of the real pairs; unpaired_maps "
            "= generated from the maps of the rest of the training split, whose imagery the arm does not see (maps "
            "everywhere, imagery in a few places). Without Labels, every arm trains the same number of steps "
            "(Segmentation steps) and a mixed arm's batches take half real, half synthetic samples, so it sees "
            "half as many real samples as the real arm; with Labels, every step takes a full batch of real samples "
            "and the synthetic (or classically augmented) ones are added on top, up to Segmentation steps with "
            "early stopping.\n\n"
            "Targets are the map classes of the semantic palette, recoloured like the model's map_remap. "
            "Outputs: results.json, report.html (learning curve, tables), learning_curve.png, runs/ (one file per "
            "finished run: a cancelled or killed experiment continues where it stopped when rerun with the same "
            "settings), synthetic/ (the generated images) and segmenter/ (trained on all real training pairs; "
            "Evaluate uses it for the map-adherence score); with Labels, plan.json (the design and comparisons "
            "fixed before the runs) and generators/ (each real block's generator and its images) instead of "
            "synthetic/ and segmenter/."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterFile(self.DATASET, self.tr("Training dataset"),
                                                            QgsProcessingParameterFile.Folder),
                                 "the output of Build training dataset; without Labels it needs a test split "
                                 "(scored there), with Labels it does not (scored on the polygons)"))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.MODEL, self.tr("Generator model"), QgsProcessingParameterFile.Folder, defaultValue=str(DEMO_MODEL),
            optional=True), MODEL_HELP))
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.LABELS, self.tr("Labels (independent polygons)"), [QgsProcessing.TypeVectorPolygon],
            optional=True), "hand-labelled single-class polygons to score on; empty = derived-label mode"))
        self.addParameter(helped(QgsProcessingParameterField(
            self.LABEL_FIELD, self.tr("Label field"), parentLayerParameterName=self.LABELS, optional=True),
            "the field with each polygon's class"))
        self.addParameter(helped(QgsProcessingParameterString(self.REAL_FRACTIONS, self.tr("Real fractions"),
                                                              "0.1,0.25,1.0"),
                                 "comma-separated fractions of the training split, each in (0, 1]"))
        self.addParameter(helped(QgsProcessingParameterEnum(self.SYNTHETIC, self.tr("Synthetic sources"),
                                                            list(SOURCES), True, [0, 1], optional=True),
                                 "same_maps: variations of the real pairs' maps; unpaired_maps: maps whose "
                                 "imagery is withheld (with Labels: held-back maps far from every polygon); none "
                                 "= real arms only"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.VARIATIONS, self.tr("Synthetic variations per map"), QgsProcessingParameterNumber.Integer, 2,
            False, 1, 20), "K images generated per map"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.SEEDS, self.tr("Seeds"), QgsProcessingParameterNumber.Integer, 10, False, 1, 50),
            "training runs per arm and fraction, paired across arms (the same initial weights per seed)"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.STEPS, self.tr("Segmentation steps"), QgsProcessingParameterNumber.Integer, 300, False, 1),
            "training steps of each segmentation run (at most, with Labels: early stopping)"))
        self.addParameter(helped(QgsProcessingParameterEnum(self.DEVICE, self.tr("Generator device"),
                                                            list(settings.DEVICES), False, 0),
                                 "auto = the Device of MapSynth Settings (if that is auto too: a CUDA GPU when "
                                 "the backend sees one, else the CPU); the segmenter always trains on the CPU",
                                 advanced=True))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.FOLDS, self.tr("Spatial folds (with Labels)"), QgsProcessingParameterNumber.Integer, 3, False, 1,
            20), "folds of the polygon clusters", advanced=True))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.GUARD, self.tr("Guard (px, with Labels)"), QgsProcessingParameterNumber.Integer, 16, False, 0),
            "minimum distance between a scored polygon and any training patch", advanced=True))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.GENERATOR_STEPS, self.tr("Generator steps (with Labels)"),
            QgsProcessingParameterNumber.Integer, 400, False, 1),
            "each real block's generator is trained this many steps on that block only", advanced=True))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR,
                                                                         self.tr("Experiment folder")),
                                 "results.json, report.html, runs/, synthetic/, segmenter/"))
        self.addOutput(QgsProcessingOutputFile(self.RESULTS, self.tr("Results (JSON)")))
        self.addOutput(QgsProcessingOutputFile(self.REPORT, self.tr("Report (HTML)")))
        self.addOutput(QgsProcessingOutputFolder(self.SEGMENTER, self.tr("Segmenter (for Evaluate)")))
        self.addOutput(QgsProcessingOutputNumber(self.RUNS, self.tr("Finished runs")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        device = settings.DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]
        if device == "auto":
            device = settings.device(settings.DEVICES)  # auto stays auto: the backend takes CUDA when it sees one
        fractions = self.parameterAsString(parameters, self.REAL_FRACTIONS, context)
        if not fractions.strip():
            raise QgsProcessingException(self.tr("REAL_FRACTIONS: give at least one fraction, e.g. 0.1,0.25,1.0"))
        model = model_dir(self.parameterAsFile(parameters, self.MODEL, context) or str(DEMO_MODEL), feedback)
        labels, field = "", ""
        layer = self.parameterAsVectorLayer(parameters, self.LABELS, context)
        if layer is not None:
            field = self.parameterAsString(parameters, self.LABEL_FIELD, context)
            if not field:
                raise QgsProcessingException(self.tr("LABEL_FIELD: name the field of LABELS that holds each "
                                                     "polygon's class"))
            labels = export_gpkg(layer, new_job_dir("experiment-labels") / "labels.gpkg", context, self.LABELS)
        else:
            feedback.pushWarning(self.tr("No LABELS: the labels come from the imagery itself (derived maps); the "
                                         "result says how well a segmenter copies that rule, not land cover."))
        params = job_params(self, parameters, context, model=model, device=device, real_fractions=fractions,
                            labels=labels, label_field=field)
        result = run_backend(backend_command(self), params, feedback)
        return {self.OUTPUT_DIR: params["output_dir"], self.RESULTS: result.get("results"),
                self.REPORT: result.get("report"), self.SEGMENTER: result.get("segmenter"),
                self.RUNS: result.get("runs", 0)}
