"""mapsynth:synthesize_city — area + OpenStreetMap extract + model → a synthetic city, in one dialog.

Grid, semantic map render, generation, seamless assembly, building masks and netCDF export, with multi-step
progress; the results load styled in one group. The grid and the map layers are prepared on the main thread
(prepareAlgorithm); the heavy steps run in the backend as child algorithms.
"""

import json
from pathlib import Path

import processing
from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputRasterLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsRectangle,
)
from qgis.PyQt.QtGui import QColor

from ..plugin.grid import list_patches, patches_extent, read_definition, record_status
from ..plugin.osm_files import OSM_FILE_FILTER
from ..plugin.osm_layers import background_rgb, semantic_layers, unmapped_rgb
from ..plugin.osm_semantic import load_palette
from ..plugin.output_dir import prepare_output_dir
from ..plugin.rendering import render_grid_patches
from ..plugin.styling import load_styled, run_group
from .base import DEMO_MODEL, MODEL_HELP, MapSynthAlgorithm, check_area, helped, model_dir


class SynthesizeCity(MapSynthAlgorithm):
    EXTENT, AOI, OSM_FILE, MODEL, PIXEL_SIZE, PATCH_SIZE = "EXTENT", "AOI", "OSM_FILE", "MODEL", "PIXEL_SIZE", \
        "PATCH_SIZE"
    VARIATIONS, SEED, SEAMLESS, OUTPUT_DIR = "VARIATIONS", "SEED", "SEAMLESS", "OUTPUT_DIR"
    MOSAIC, BUILDINGS_MASK, NETCDF = "MOSAIC", "BUILDINGS_MASK", "NETCDF"
    group_id = "generation"

    def name(self) -> str:
        return "synthesize_city"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Synthesize city")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "The whole chain in one dialog: an area (an extent or area of interest polygons), an OpenStreetMap "
            "extract and a model give a synthetic Sentinel-2-like city. Steps: patch grid (pixel and patch size "
            "default to the model's), semantic map render, generation of the variations per patch (Seamless: joint "
            "denoising), seamless assembly into a Cloud-Optimized GeoTIFF, residential / non-residential building "
            "masks on the mosaic grid and a CF netCDF export, all in the city folder; the mosaic, masks and seams "
            "load styled in one group. Reruns resume. The same chain is shipped as a graphical model: "
            "resources/models/synthesize_city.model3."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterExtent(self.EXTENT, self.tr("Extent"), optional=True),
                                 "the area to synthesise, with its CRS; or give area of interest polygons"))
        self.addParameter(helped(QgsProcessingParameterFeatureSource(
            self.AOI, self.tr("Or: area of interest"), [QgsProcessing.TypeVectorPolygon], optional=True),
            "polygons; patches not touching them are dropped"))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.OSM_FILE, self.tr("OpenStreetMap extract"),
            fileFilter=OSM_FILE_FILTER),
            "an .osm.pbf, .osm, .osm.gz, .osm.bz2 or GeoPackage of OGR OSM layers covering the area (e.g. from "
            "Geofabrik)"))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.MODEL, self.tr("Model"), QgsProcessingParameterFile.Folder, defaultValue=str(DEMO_MODEL),
            optional=True),
            MODEL_HELP))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.PIXEL_SIZE, self.tr("Pixel size (m)"), QgsProcessingParameterNumber.Double, 0.0, False, 0.0,
            10000.0), "0 = the model's pixel size"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.PATCH_SIZE, self.tr("Patch size (px)"), QgsProcessingParameterNumber.Integer, 0, False, 0, 8192),
            "0 = the model's patch size"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.VARIATIONS, self.tr("Variations per patch"), QgsProcessingParameterNumber.Integer, 4, False, 1,
            100), "candidates per patch for the seamless assembly"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.SEED, self.tr("Seed"), QgsProcessingParameterNumber.Integer, 0, False, 0),
            "same seed, same city"))
        self.addParameter(helped(QgsProcessingParameterBoolean(
            self.SEAMLESS, self.tr("Seamless (joint denoising)"), False),
            "denoise the whole area jointly (memory grows with the area)"))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, self.tr("City folder")),
                                 "grid, maps, generated patches, mosaic, masks and netCDF"))
        self.addOutput(QgsProcessingOutputRasterLayer(self.MOSAIC, self.tr("Synthetic mosaic")))
        self.addOutput(QgsProcessingOutputRasterLayer(self.BUILDINGS_MASK, self.tr("Building coverage")))
        self.addOutput(QgsProcessingOutputFile(self.NETCDF, self.tr("netCDF")))

    def checkParameterValues(self, parameters, context):  # noqa: N802 - QGIS API name
        return check_area(self, parameters, context)

    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        model = Path(model_dir(self.parameterAsFile(parameters, self.MODEL, context) or str(DEMO_MODEL), feedback))
        self.model = str(model)
        try:
            card = json.loads((model / "model_card.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise QgsProcessingException(self.tr("MODEL: {m} has no readable model_card.json").format(m=model)) from exc
        self.out = Path(self.parameterAsString(parameters, self.OUTPUT_DIR, context))
        self.out.mkdir(parents=True, exist_ok=True)
        pixel = self.parameterAsDouble(parameters, self.PIXEL_SIZE, context) or card.get("pixel_size") or 10.0
        patch = self.parameterAsInt(parameters, self.PATCH_SIZE, context) or card.get("patch_size") or 64
        grid_params = {"PIXEL_SIZE": pixel, "PATCH_SIZE": patch, "OUTPUT": str(self.out / "grid.gpkg")}
        for name in (self.EXTENT, self.AOI):
            if parameters.get(name) not in (None, ""):
                grid_params[name] = parameters[name]
        feedback.pushInfo(self.tr("1/6 patch grid ({p} px at {s} m)").format(p=patch, s=pixel))
        if not (self.out / "grid.gpkg").exists():
            processing.run("mapsynth:create_patch_grid", grid_params, context=context, feedback=feedback,
                           is_child_algorithm=True)
        self.grid = str(self.out / "grid.gpkg")
        self.definition = read_definition(self.grid)
        self.patches = list_patches(self.grid)
        self.osm_file = self.parameterAsFile(parameters, self.OSM_FILE, context)
        area = QgsRectangle(*patches_extent(self.definition, self.patches))
        from qgis.core import QgsCoordinateReferenceSystem

        self.crs = QgsCoordinateReferenceSystem.fromWkt(self.definition["crs_wkt"])
        self.layers, _ = semantic_layers(self.osm_file, area, self.crs, self.definition["pixel_size"],
                                         feedback)
        self.transform_context = context.transformContext()
        return True

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        steps = QgsProcessingMultiStepFeedback(5, feedback)
        out, grid = self.out, self.grid
        steps.setCurrentStep(0)
        steps.pushInfo(self.tr("2/6 semantic map render"))
        maps = out / "maps"
        prepare_output_dir(maps, "map", self.definition["fingerprint"],
                           {"osm_file": Path(self.osm_file).name, "style": f"semantic v{load_palette()['version']}"})
        _, _, incomplete, records = render_grid_patches(
            self.layers, self.crs, self.definition, self.patches, maps, QColor(*background_rgb()), 0,
            self.transform_context, steps, unmapped_rgb())
        record_status(grid, "map", records)
        if steps.isCanceled():
            return {}
        model = self.model

        def child(step: int, label: str, algorithm: str, params: dict) -> dict:
            steps.setCurrentStep(step)
            steps.pushInfo(label)
            if steps.isCanceled():
                raise QgsProcessingException(self.tr("Cancelled; rerun to continue where it stopped."))
            return processing.run(algorithm, params, context=context, feedback=steps, is_child_algorithm=True)

        child(1, self.tr("3/6 generation"), "mapsynth:generate_patches", {
            "MODEL": model, "PATCH_GRID": grid, "MAP_DIR": str(maps), "OUTPUT_DIR": str(out / "generated"),
            "VARIATIONS": self.parameterAsInt(parameters, self.VARIATIONS, context),
            "SEED": self.parameterAsInt(parameters, self.SEED, context),
            "SEAMLESS": self.parameterAsBool(parameters, self.SEAMLESS, context)})
        child(2, self.tr("4/6 seamless assembly"), "mapsynth:assemble_mosaic", {
            "PATCH_GRID": grid, "GENERATED_DIR": str(out / "generated"), "OUTPUT": str(out / "mosaic.tif"),
            "LABELS": str(out / "mosaic_labels.tif"), "SEAMS": str(out / "mosaic_seams.gpkg")})
        masks = child(3, self.tr("5/6 building masks"), "mapsynth:building_masks", {
            "OSM_FILE": self.osm_file, "TARGET_RASTER": str(out / "mosaic.tif"),
            "OUTPUT_BUILDINGS": str(out / "buildings.gpkg"), "OUTPUT_DIR": str(out / "masks")})
        child(4, self.tr("6/6 netCDF export"), "mapsynth:export_netcdf", {
            "MOSAIC": str(out / "mosaic.tif"), "LABELS": str(out / "mosaic_labels.tif"),
            "MASKS": [masks["BUILDINGS_MASK"], masks["NONRESIDENTIAL_MASK"]], "OUTPUT": str(out / "city.nc")})
        group = run_group(self.tr("city"))
        load_styled(context, str(out / "mosaic.tif"), self.tr("Synthetic city (true colour)"), "true_colour", group)
        load_styled(context, masks["BUILDINGS_MASK"], self.tr("Building coverage"), "mask", group)
        load_styled(context, masks["NONRESIDENTIAL_MASK"], self.tr("Non-residential building coverage"), "mask",
                    group)
        load_styled(context, str(out / "mosaic_seams.gpkg"), self.tr("Seam lines"), "seams", group)
        if incomplete:
            feedback.pushWarning(self.tr("{n} map patches were incomplete").format(n=len(incomplete)))
        return {self.OUTPUT_DIR: str(out), self.MOSAIC: str(out / "mosaic.tif"),
                self.BUILDINGS_MASK: masks["BUILDINGS_MASK"], self.NETCDF: str(out / "city.nc")}

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 - QGIS API name
        self.layers = []
        return {}
