"""mapsynth:build_training_dataset — pair map and Sentinel-2 patches into a training dataset folder."""

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from .base import (
    GRID_HELP,
    MAP_DIR_HELP,
    MapSynthAlgorithm,
    backend_command,
    helped,
    job_params,
    run_backend,
)


class BuildTrainingDataset(MapSynthAlgorithm):
    PATCH_GRID, MAP_DIR, S2_DIR, MIN_VALID, MAX_CLOUD = "PATCH_GRID", "MAP_DIR", "S2_DIR", "MIN_VALID", "MAX_CLOUD"
    CLIP, PROMPT, OUTPUT_DIR, PATCH_COUNT = "CLIP", "PROMPT", "OUTPUT_DIR", "PATCH_COUNT"
    TRAIN_GUARD = "TRAIN_GUARD"
    group_id = "data"

    def name(self) -> str:
        return "build_training_dataset"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Build training dataset")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Pairs the map patches with the Sentinel-2 patches of the same patch_id, drops pairs whose valid "
            "fraction is below the minimum or whose cloud fraction is above the maximum, keeps the grid's spatial "
            "split and writes a dataset folder: train/, validation/ and test/ each with metadata.jsonl (file_name, "
            "conditioning_image, nir_image, multispectral, text, patch_id, split, bounds, crs) in the layout of "
            "the datasets imagefolder and diffusers' training examples, radiometry.json and dataset_card.md. "
            "Patches of the grid's guard split (they share pixels with another split) are left out, so nothing "
            "trains or scores on them; the card gives the pixels that the pairs of different splits share (0 for a "
            "grid with the guard band) and the log warns when there are any. With Train on guard patches, they "
            "join the training split instead, with every pixel they share with a validation or test patch written "
            "as nodata (and the map's outside-data colour there), so training sees more of the scene and still no "
            "held-out pixel; the loss skips nodata pixels.\n\n"
            "Radiometry: per-band reflectance clip ranges (Fixed clip ranges as B02:LOW:HIGH,...; empty = the "
            "1.5th-98.5th percentiles of the training split) mapped linearly to the image range, with an exact "
            "inverse. Reruns reuse the saved ranges and skip finished pairs."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon]), GRID_HELP))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.MAP_DIR, self.tr("Map patches folder"), QgsProcessingParameterFile.Folder), MAP_DIR_HELP))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.S2_DIR, self.tr("Sentinel-2 patches folder"), QgsProcessingParameterFile.Folder),
            "the output of Crop Sentinel-2 to the grid, for the same patch grid"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.MIN_VALID, self.tr("Minimum valid fraction"), QgsProcessingParameterNumber.Double, 1.0, False, 0, 1),
            "pairs whose Sentinel-2 patch has less valid data are dropped"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.MAX_CLOUD, self.tr("Maximum cloud fraction"), QgsProcessingParameterNumber.Double, 0.05, False, 0, 1),
            "pairs with more cloud (Sentinel-2 SCL) are dropped"))
        for param in (helped(QgsProcessingParameterString(self.CLIP, self.tr("Fixed clip ranges"), "", optional=True),
                             "B02:LOW:HIGH,... in reflectance; empty = percentiles of the training split",
                             advanced=True),
                      helped(QgsProcessingParameterBoolean(
                          self.TRAIN_GUARD, self.tr("Train on guard patches"), False, True),
                             "guard patches join the training split with the pixels they share with a validation or "
                             "test patch written as nodata", advanced=True),
                      helped(QgsProcessingParameterString(self.PROMPT, self.tr("Prompt"),
                                                          "a Sentinel-2 satellite image"),
                             "text prompt stored with every pair (controlnet-sd15)", advanced=True)):
            self.addParameter(param)
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, self.tr("Dataset folder")),
                                 "the Dataset folder input of Train model"))
        self.addOutput(QgsProcessingOutputNumber(self.PATCH_COUNT, self.tr("Pairs written")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        params = job_params(self, parameters, context)
        result = run_backend(backend_command(self), params, feedback)
        for split, count in result.get("splits", {}).items():
            feedback.pushInfo(self.tr("{split}: {n} pairs").format(split=split, n=count))
        for reason, count in result.get("dropped", {}).items():
            feedback.pushInfo(self.tr("dropped {n}: {reason}").format(n=count, reason=reason))
        return {self.OUTPUT_DIR: params["output_dir"], self.PATCH_COUNT: result.get("patch_count", 0)}
