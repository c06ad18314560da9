"""Processing provider "mapsynth". Algorithms are always listed, even when the backend is missing: they fail
at run time with a message that says how to install it (they never silently disappear)."""

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..plugin.about import ICON_PATH, __version__
from .assemble_mosaic import AssembleMosaic
from .augmentation_experiment import AugmentationExperiment
from .backend_doctor import BackendDoctor
from .build_training_dataset import BuildTrainingDataset
from .building_masks import BuildingMasks
from .create_patch_grid import CreatePatchGrid
from .crop_sentinel2 import CropSentinel2
from .evaluate import Evaluate
from .export_netcdf import ExportNetcdf
from .generate_patches import GeneratePatches
from .inpaint_scenario import InpaintScenario
from .map_from_land_cover import MapFromLandCover
from .render_map_patches import RenderMapPatches
from .sample_class import SampleClass
from .synthesize_city import SynthesizeCity
from .train_model import TrainModel

ALGORITHMS = (BackendDoctor, CreatePatchGrid, RenderMapPatches, MapFromLandCover, CropSentinel2, BuildTrainingDataset,
              TrainModel, GeneratePatches, AssembleMosaic, BuildingMasks, ExportNetcdf, Evaluate, SynthesizeCity,
              AugmentationExperiment, InpaintScenario, SampleClass)


class MapSynthProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "mapsynth"

    def name(self) -> str:
        return "MapSynth"

    def longName(self) -> str:  # noqa: N802 - QGIS API name
        return f"MapSynth {__version__}"

    def versionInfo(self) -> str:  # noqa: N802 - QGIS API name
        return __version__

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API name
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
