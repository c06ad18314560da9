"""Regenerate resources/models/synthesize_city.model3, the synthesize-city chain as a graphical model.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/make_model.py [OUTPUT]

Every child's mandatory parameter is bound to a model input, to another child's output, or set to the
algorithm's own default (so the modeler draws no child red and asks nothing); components are laid out on a grid
wide enough that no two boxes overlap (tests/qgis/test_model_file.py checks both).
"""

import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsProcessing,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelChildParameterSource,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QPointF

ROOT = Path(__file__).resolve().parents[1]
Source = QgsProcessingModelChildParameterSource
COLUMN, ROW = 240, 60  # component boxes are 200 x 30: 40 px between columns, 30 px between rows
CHILD_Y = 280  # inputs stand in rows above the child that first uses them, outputs below their child
INPUTS = (  # parameter with a short label (the box shows it), help, column, row
    (QgsProcessingParameterExtent("EXTENT", "Extent"), "the area to synthesise, with its CRS", 0, 0),
    (QgsProcessingParameterNumber("PIXEL_SIZE", "Pixel size (m)", QgsProcessingParameterNumber.Double, 10.0),
     "the model's pixel size", 0, 1),
    (QgsProcessingParameterNumber("PATCH_SIZE", "Patch size (px)", QgsProcessingParameterNumber.Integer, 64),
     "the model's patch size", 0, 2),
    (QgsProcessingParameterFile("OSM_FILE", "OSM extract"),
     "an OpenStreetMap extract covering the area (.osm.pbf, .osm or GeoPackage)", 1, 2),
    (QgsProcessingParameterFile("MODEL", "Model", QgsProcessingParameterFile.Folder),
     "a MapSynth model folder (model_card.json) or a Train model output folder, e.g. "
     "resources/models/mapsynth-demo-pixel-small", 2, 0),
    (QgsProcessingParameterNumber("VARIATIONS", "Variations", QgsProcessingParameterNumber.Integer, 4),
     "generated candidates per patch", 2, 1),
    (QgsProcessingParameterNumber("SEED", "Seed", QgsProcessingParameterNumber.Integer, 0),
     "same seed, same city", 2, 2),
)


def at(column: int, y: float) -> QPointF:
    return QPointF(120 + COLUMN * column, y)


def child(model, algorithm: str, child_id: str, description: str, sources: dict, outputs: dict, column: int):
    step = QgsProcessingModelChildAlgorithm(algorithm)
    step.setChildId(child_id)
    step.setDescription(description)
    step.setPosition(at(column, CHILD_Y))
    for name, source in sources.items():
        step.addParameterSources(name, source if isinstance(source, list) else [source])
    definition = QgsApplication.processingRegistry().algorithmById(algorithm)
    assert definition is not None, f"{algorithm} is not registered"
    for param in definition.parameterDefinitions():
        if param.isDestination() or param.name() in sources:
            continue
        if param.flags() & QgsProcessingParameterDefinition.FlagOptional:
            continue
        assert param.checkValueIsAcceptable(param.defaultValue()), f"{algorithm} {param.name()}: no usable default"
        step.addParameterSources(param.name(), [Source.fromStaticValue(param.defaultValue())])
    model_outputs = {}
    for index, (name, (output, label)) in enumerate(outputs.items()):
        out = QgsProcessingModelOutput(name, label)
        out.setChildId(child_id)
        out.setChildOutputName(output)
        out.setDefaultValue(QgsProcessing.TEMPORARY_OUTPUT)  # runs (qgis_process too) without naming each output
        out.setPosition(at(column, CHILD_Y + ROW * (index + 2)))
        model_outputs[name] = out
    step.setModelOutputs(model_outputs)
    model.addChildAlgorithm(step)


def build() -> QgsProcessingModelAlgorithm:
    model = QgsProcessingModelAlgorithm("synthesize_city", "MapSynth")
    help_content = {"ALG_DESC": "Area + OpenStreetMap extract + MapSynth model -> synthetic Sentinel-2-like city: "
                    "grid, semantic maps, generation, seamless mosaic, building masks, netCDF."}
    for parameter, text, column, row in INPUTS:
        component = QgsProcessingModelParameter(parameter.name())
        component.setPosition(at(column, 60 + ROW * row))
        model.addModelParameter(parameter, component)
        help_content[parameter.name()] = text
    model.setHelpContent(help_content)
    param = Source.fromModelParameter
    out = Source.fromChildOutput
    child(model, "mapsynth:create_patch_grid", "grid", "Create patch grid",
          {"EXTENT": param("EXTENT"), "PIXEL_SIZE": param("PIXEL_SIZE"), "PATCH_SIZE": param("PATCH_SIZE")},
          {"GRID": ("OUTPUT", "Patch grid")}, 0)
    child(model, "mapsynth:render_map_patches", "maps", "Render map patches",
          {"PATCH_GRID": out("grid", "OUTPUT"), "OSM_FILE": param("OSM_FILE")}, {}, 1)
    child(model, "mapsynth:generate_patches", "generate", "Generate patches",
          {"MODEL": param("MODEL"), "PATCH_GRID": out("grid", "OUTPUT"), "MAP_DIR": out("maps", "OUTPUT_DIR"),
           "VARIATIONS": param("VARIATIONS"), "SEED": param("SEED")}, {}, 2)
    child(model, "mapsynth:assemble_mosaic", "assemble", "Assemble mosaic",
          {"PATCH_GRID": out("grid", "OUTPUT"), "GENERATED_DIR": out("generate", "OUTPUT_DIR")},
          {"MOSAIC": ("OUTPUT", "Synthetic mosaic"), "SEAMS": ("SEAMS", "Seam lines")}, 3)
    child(model, "mapsynth:building_masks", "masks", "Building masks",
          {"OSM_FILE": param("OSM_FILE"), "TARGET_RASTER": out("assemble", "OUTPUT")},
          {"BUILDINGS": ("OUTPUT_BUILDINGS", "Classified buildings")}, 4)
    child(model, "mapsynth:export_netcdf", "export", "Export to netCDF",
          {"MOSAIC": out("assemble", "OUTPUT"), "LABELS": out("assemble", "LABELS"),
           "MASKS": [out("masks", "BUILDINGS_MASK"), out("masks", "NONRESIDENTIAL_MASK")]},
          {"NETCDF": ("OUTPUT", "netCDF")}, 5)
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
