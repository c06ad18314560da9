"""mapsynth:building_masks — residential / non-residential building masks on the grid, from OSM or layers."""

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputRasterLayer,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterVectorLayer,
)

from ..plugin.backend_client import new_job_dir
from ..plugin.osm_files import OSM_FILE_FILTER, checked_osm_path
from ..plugin.styling import load_styled, run_group
from .base import GRID_HELP, MapSynthAlgorithm, backend_command, export_gpkg, helped, job_params, run_backend


class BuildingMasks(MapSynthAlgorithm):
    OSM_FILE, BUILDINGS, LANDUSE, POIS = "OSM_FILE", "BUILDINGS", "LANDUSE", "POIS"
    PATCH_GRID, TARGET_RASTER = "PATCH_GRID", "TARGET_RASTER"
    RESIDENTIAL_MAX, NONRESIDENTIAL_MIN = "RESIDENTIAL_MAX", "NONRESIDENTIAL_MIN"
    OUTPUT_BUILDINGS, OUTPUT_DIR = "OUTPUT_BUILDINGS", "OUTPUT_DIR"
    BUILDINGS_MASK, NONRESIDENTIAL_MASK, NONRESIDENTIAL_COUNT = ("BUILDINGS_MASK", "NONRESIDENTIAL_MASK",
                                                                 "NONRESIDENTIAL_COUNT")
    group_id = "postprocessing"

    def name(self) -> str:
        return "building_masks"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Building masks (residential / non-residential)")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Ground truth for the synthetic images: which pixels are buildings, and which buildings are "
            "non-residential. From an OpenStreetMap extract or from layers (building polygons with a 'building' "
            "field, land-use polygons with 'landuse'/'amenity', points with 'amenity'/'shop'/'office'), aligned to "
            "the patch grid or to a raster such as an assembled mosaic.\n\n"
            "Explicit building=* values decide (house, apartments, ... residential; industrial, retail, school, "
            "church, ... non-residential). The untagged majority (building=yes) is decided by a fuzzy inference "
            "system (scikit-fuzzy) over the share of the footprint in residential / non-residential land use, the "
            "distance to non-residential use, POIs on the footprint, footprint area, elongation and local building "
            "density (rules in docs/MASKS.md). Degrees up to 'Residential up to degree' are residential, from "
            "'Non-residential from degree' non-residential, between them uncertain.\n\n"
            "The masks folder receives float32 coverage fractions (0-1, area-weighted) of all buildings and of "
            "non-residential buildings at the working pixel size and at 10 m. The classified buildings (with their "
            "evidence, degree and class) are a by-product, written to <masks folder>/buildings.gpkg when skipped."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterFile(
            self.OSM_FILE, self.tr("OpenStreetMap extract"), optional=True,
            fileFilter=OSM_FILE_FILTER), self.tr(
                "an .osm.pbf, .osm, .osm.gz, .osm.bz2 or GeoPackage of OGR OSM layers (e.g. the one given to Render "
                "map patches); or give building polygons instead")))
        for name, label, kind, detail in (
                (self.BUILDINGS, "Or: building polygons", QgsProcessing.TypeVectorPolygon,
                 "polygons with a 'building' field, used when no OSM extract is given"),
                (self.LANDUSE, "Land-use polygons", QgsProcessing.TypeVectorPolygon,
                 "polygons with 'landuse' / 'amenity' fields: evidence for untagged buildings"),
                (self.POIS, "Amenity / shop / office points", QgsProcessing.TypeVectorPoint,
                 "points with 'amenity' / 'shop' / 'office' fields: evidence for untagged buildings")):
            self.addParameter(helped(QgsProcessingParameterVectorLayer(name, self.tr(label), [kind], optional=True),
                                     detail))
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon], optional=True),
            GRID_HELP + "; give it or a raster to align to"))
        self.addParameter(helped(QgsProcessingParameterRasterLayer(
            self.TARGET_RASTER, self.tr("Or: align to this raster"), optional=True),
            "e.g. the Mosaic of Assemble seamless mosaic: the masks get its grid"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.RESIDENTIAL_MAX, self.tr("Residential up to degree"), QgsProcessingParameterNumber.Double, 0.4,
            False, 0.0, 1.0), "fuzzy non-residential degree (0-1) up to which a building is residential"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.NONRESIDENTIAL_MIN, self.tr("Non-residential from degree"), QgsProcessingParameterNumber.Double, 0.6,
            False, 0.0, 1.0), "degree from which a building is non-residential; between the two: uncertain"))
        self.addParameter(helped(QgsProcessingParameterVectorDestination(
            self.OUTPUT_BUILDINGS, self.tr("Classified buildings"), QgsProcessing.TypeVectorPolygon, optional=True,
            createByDefault=True), "GeoPackage of the buildings with evidence, degree and class; default "
                                   "<masks folder>/buildings.gpkg"))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR, self.tr("Masks folder")),
                                 "the main result: the coverage rasters (input of Export to netCDF)"))
        self.addOutput(QgsProcessingOutputRasterLayer(self.BUILDINGS_MASK, self.tr("Building coverage")))
        self.addOutput(QgsProcessingOutputRasterLayer(self.NONRESIDENTIAL_MASK,
                                                      self.tr("Non-residential building coverage")))
        self.addOutput(QgsProcessingOutputNumber(self.NONRESIDENTIAL_COUNT, self.tr("Non-residential buildings")))

    def _export(self, parameters, name, context, folder: Path) -> str:
        layer = self.parameterAsVectorLayer(parameters, name, context)
        if layer is None:
            return ""
        return export_gpkg(layer, folder / f"{name.lower()}.gpkg", context, name)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        osm_file = self.parameterAsFile(parameters, self.OSM_FILE, context)
        if osm_file:
            checked_osm_path(osm_file)
        folder = new_job_dir("mask-inputs")
        layers = {key: self._export(parameters, name, context, folder)
                  for key, name in (("buildings", self.BUILDINGS), ("landuse", self.LANDUSE), ("pois", self.POIS))}
        if not osm_file and not layers["buildings"]:
            raise QgsProcessingException(self.tr("Give OSM_FILE, or BUILDINGS (with LANDUSE and POIS if you can)."))
        target = self.parameterAsRasterLayer(parameters, self.TARGET_RASTER, context)
        has_grid = parameters.get(self.PATCH_GRID) not in (None, "")
        if not has_grid and target is None:
            raise QgsProcessingException(self.tr("Give PATCH_GRID or TARGET_RASTER to align the masks to."))
        buildings_out = self.parameterAsOutputLayer(parameters, self.OUTPUT_BUILDINGS, context)
        if not buildings_out:  # skipped by-product: next to the masks
            buildings_out = str(Path(self.parameterAsString(parameters, self.OUTPUT_DIR, context)) / "buildings.gpkg")
        elif not buildings_out.lower().endswith(".gpkg"):
            buildings_out = buildings_out.rsplit(".", 1)[0] + ".gpkg"
        params = job_params(self, parameters, context, **layers, output_buildings=buildings_out)
        result = run_backend(backend_command(self), params, feedback)
        classes = result.get("classes", {})
        feedback.pushInfo(self.tr("{b} buildings: {r} residential, {n} non-residential, {u} uncertain").format(
            b=result.get("buildings"), r=classes.get("residential"), n=classes.get("non_residential"),
            u=classes.get("uncertain")))
        masks = result.get("masks", {})
        group = run_group(self.tr("building masks"))
        for key, label in (("buildings_working", self.tr("Building coverage")),
                           ("nonresidential_working", self.tr("Non-residential building coverage"))):
            if masks.get(key):
                load_styled(context, masks[key], label, "mask", group)
        load_styled(context, buildings_out, self.tr("Classified buildings"), "buildings", group,
                    self.OUTPUT_BUILDINGS)
        return {self.OUTPUT_BUILDINGS: buildings_out, self.OUTPUT_DIR: params["output_dir"],
                self.BUILDINGS_MASK: masks.get("buildings_working"),
                self.NONRESIDENTIAL_MASK: masks.get("nonresidential_working"),
                self.NONRESIDENTIAL_COUNT: classes.get("non_residential", 0)}
