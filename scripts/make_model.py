"""Regenerate resources/models/synthesize_city.model3, the synthesize-city chain as a graphical model.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/make_model.py [OUTPUT]
"""

import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QPointF

ROOT = Path(__file__).resolve().parents[1]
Source = QgsProcessingModelChildParameterSource


def child(model, algorithm: str, child_id: str, sources: dict, outputs: dict, x: float):
    step = QgsProcessingModelChildAlgorithm(algorithm)
    step.setChildId(child_id)
    step.setDescription(child_id.replace("_", " "))
    step.setPosition(QPointF(x, 300))
    for name, source in sources.items():
        step.addParameterSources(name, source if isinstance(source, list) else [source])
    model_outputs = {}
    for name, (output, description) in outputs.items():
        out = QgsProcessingModelOutput(name, description)
        out.setChildId(child_id)
        out.setChildOutputName(output)
        model_outputs[name] = out
    step.setModelOutputs(model_outputs)
    model.addChildAlgorithm(step)


def build() -> QgsProcessingModelAlgorithm:
    model = QgsProcessingModelAlgorithm("synthesize_city", "MapSynth")
    model.setHelpContent({"ALG_DESC": "Area + OpenStreetMap extract + MapSynth model -> synthetic Sentinel-2-like "
                          "city: grid, semantic maps, generation, seamless mosaic, building masks, netCDF."})
    for index, parameter in enumerate((
            QgsProcessingParameterExtent("EXTENT", "Extent"),
            QgsProcessingParameterFile("OSM_FILE", "OpenStreetMap extract"),
            QgsProcessingParameterFile("MODEL", "Model directory", QgsProcessingParameterFile.Folder),
            QgsProcessingParameterNumber("PIXEL_SIZE", "Pixel size (m)", QgsProcessingParameterNumber.Double, 10.0),
            QgsProcessingParameterNumber("PATCH_SIZE", "Patch size (px)", QgsProcessingParameterNumber.Integer, 64),
            QgsProcessingParameterNumber("VARIATIONS", "Variations", QgsProcessingParameterNumber.Integer, 4),
            QgsProcessingParameterNumber("SEED", "Seed", QgsProcessingParameterNumber.Integer, 0))):
        component = QgsProcessingModelParameter(parameter.name())
        component.setPosition(QPointF(120 + 160 * index, 80))
        model.addModelParameter(parameter, component)
    param = Source.fromModelParameter
    out = Source.fromChildOutput
    child(model, "mapsynth:create_patch_grid", "grid",
          {"EXTENT": param("EXTENT"), "PIXEL_SIZE": param("PIXEL_SIZE"), "PATCH_SIZE": param("PATCH_SIZE")},
          {"GRID": ("OUTPUT", "Patch grid")}, 100)
    child(model, "mapsynth:render_map_patches", "maps",
          {"PATCH_GRID": out("grid", "OUTPUT"), "OSM_FILE": param("OSM_FILE")}, {}, 300)
    child(model, "mapsynth:generate_patches", "generate",
          {"MODEL": param("MODEL"), "PATCH_GRID": out("grid", "OUTPUT"), "MAP_DIR": out("maps", "OUTPUT_DIR"),
           "VARIATIONS": param("VARIATIONS"), "SEED": param("SEED")}, {}, 500)
    child(model, "mapsynth:assemble_mosaic", "assemble",
          {"PATCH_GRID": out("grid", "OUTPUT"), "GENERATED_DIR": out("generate", "OUTPUT_DIR")},
          {"MOSAIC": ("OUTPUT", "Synthetic mosaic"), "SEAMS": ("SEAMS", "Seam lines")}, 700)
    child(model, "mapsynth:building_masks", "masks",
          {"OSM_FILE": param("OSM_FILE"), "TARGET_RASTER": out("assemble", "OUTPUT")},
          {"BUILDINGS": ("OUTPUT_BUILDINGS", "Classified buildings")}, 900)
    child(model, "mapsynth:export_netcdf", "export",
          {"MOSAIC": out("assemble", "OUTPUT"), "LABELS": out("assemble", "LABELS"),
           "MASKS": [out("masks", "BUILDINGS_MASK"), out("masks", "NONRESIDENTIAL_MASK")]},
          {"NETCDF": ("OUTPUT", "netCDF")}, 1100)
    return model


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.insert(0, str(ROOT.parent))
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing

    Processing.initialize()
    import importlib

    plugin = importlib.import_module(ROOT.name).classFactory(None)
    plugin.initProcessing()
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "resources" / "models" / "synthesize_city.model3"
    assert build().toFile(str(target)), "could not write the model"
    print(target)
