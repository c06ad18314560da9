"""mapsynth:map_from_land_cover — map patches on the grid from a classified raster or land-cover polygons through a
lookup table, optionally with OSM lines drawn on top. The backend does the raster work; QGIS exports the polygons
to a GeoPackage and renders the OSM lines (rendering must run in QGIS)."""

from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
    QgsRectangle,
    QgsVectorFileWriter,
)
from qgis.PyQt.QtGui import QColor

from ..plugin.about import PLUGIN_DIR
from ..plugin.backend_client import new_job_dir
from ..plugin.grid import list_patches, patches_extent, read_definition
from ..plugin.osm_files import OSM_FILE_FILTER
from ..plugin.osm_layers import semantic_layers
from ..plugin.rendering import map_settings, render_rgba, write_rgb_geotiff
from .base import (
    GRID_HELP,
    MapSynthAlgorithm,
    backend_command,
    export_gpkg,
    grid_path,
    helped,
    job_params,
    run_backend,
)

TABLES = PLUGIN_DIR / "resources" / "land_cover"
# Option strings are the backend's TABLE choices (mapsynth_backend.prepare.lookup), files in resources/land_cover
TABLE_FILES = (("CORINE Land Cover (level 3)", "corine_clc_level3.csv"),
               ("ESA WorldCover (v100/v200)", "esa_worldcover.csv"),
               ("Dynamic World (V1)", "dynamic_world.csv"),
               ("FLAIR-1 (19 classes)", "flair1.csv"),
               ("Own CSV (TABLE_FILE)", ""))
UNKNOWN = ("refuse", "no data")


class MapFromLandCover(MapSynthAlgorithm):
    PATCH_GRID, INPUT, BAND, VECTOR, CLASS_FIELD = "PATCH_GRID", "INPUT", "BAND", "VECTOR", "CLASS_FIELD"
    TABLE, TABLE_FILE, UNKNOWN, OSM_FILE, OUTPUT_DIR = "TABLE", "TABLE_FILE", "UNKNOWN", "OSM_FILE", "OUTPUT_DIR"
    PATCH_COUNT, OUTSIDE = "PATCH_COUNT", "OUTSIDE"
    group_id = "data"

    def name(self) -> str:
        return "map_from_land_cover"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Map patches from land cover")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Writes the same per-patch map GeoTIFFs as Render map patches (semantic palette, exactly on the grid) "
            "from a classified raster in any CRS or from land-cover polygons, through a lookup table: CORINE Land "
            "Cover level 3, ESA WorldCover v100/v200, Dynamic World, FLAIR-1, or your own CSV with the columns "
            "value,class (class = a palette key or nodata).\n\n"
            "Values become classes first, then each grid cell takes its majority class (mode), so maps are palette "
            "colours, never blends. Values outside the table are refused (nothing is written) or become no data. "
            "Outside the land cover, pixels are no data (masked); patches without any land cover are not written."
            "\n\nWith an OpenStreetMap extract, the lines of the semantic style (roads, railways, waterways, hedges, "
            "field boundaries) are drawn over the land cover.\n\n"
            "A rerun into the same folder skips finished patches. Per-patch status goes to the grid's "
            "mapsynth_status table (step 'map')."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon]), GRID_HELP))
        self.addParameter(helped(QgsProcessingParameterRasterLayer(
            self.INPUT, self.tr("Classified raster"), optional=True),
            "integer classes in any CRS; give it or land-cover polygons"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.BAND, self.tr("Class band"), QgsProcessingParameterNumber.Integer, 1, False, 1),
            "the band of the raster that holds the classes"))
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.VECTOR, self.tr("Or: land-cover polygons"), [QgsProcessing.TypeVectorPolygon], optional=True),
            "polygons with a class field, any CRS"))
        self.addParameter(helped(QgsProcessingParameterField(
            self.CLASS_FIELD, self.tr("Class field"), parentLayerParameterName=self.VECTOR, optional=True),
            "the field of the polygons holding the class values"))
        self.addParameter(helped(QgsProcessingParameterEnum(
            self.TABLE, self.tr("Lookup table"), [label for label, _ in TABLE_FILES], defaultValue=0),
            "class value -> palette class; the shipped tables are in resources/land_cover"))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.TABLE_FILE, self.tr("Own table (CSV value,class)"), optional=True, extension="csv"),
            "your table; used instead of the lookup table when given"))
        self.addParameter(helped(QgsProcessingParameterEnum(
            self.UNKNOWN, self.tr("Values not in the table"), list(UNKNOWN), defaultValue=0),
            "refuse (nothing is written) or make them no data"))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.OSM_FILE, self.tr("OSM lines on top (optional)"), optional=True,
            fileFilter=OSM_FILE_FILTER),
            "an OpenStreetMap extract whose lines are drawn over the land cover"))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(
            self.OUTPUT_DIR, self.tr("Map patches folder")), "input of Build training dataset and Generate patches"))
        self.addOutput(QgsProcessingOutputNumber(self.PATCH_COUNT, self.tr("Patches written")))
        self.addOutput(QgsProcessingOutputNumber(self.OUTSIDE, self.tr("Patches without land cover")))

    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        """Main thread: the OSM line layer must be built here (layers are created on the main thread)."""
        self.line_layer = None
        grid = grid_path(self, parameters, self.PATCH_GRID, context)
        self.definition, self.patches = read_definition(grid), list_patches(grid)
        self.crs = QgsCoordinateReferenceSystem.fromWkt(self.definition["crs_wkt"])
        self.area = QgsRectangle(*patches_extent(self.definition, self.patches))
        self.transform_context = context.transformContext()
        osm_file = self.parameterAsFile(parameters, self.OSM_FILE, context)
        if osm_file:
            layers, _ = semantic_layers(osm_file, self.area, self.crs, self.definition["pixel_size"], feedback)
            self.line_layer = layers[0]
        return True

    def _table_file(self, parameters, context) -> str:
        own = self.parameterAsFile(parameters, self.TABLE_FILE, context)
        _, name = TABLE_FILES[self.parameterAsEnum(parameters, self.TABLE, context)]
        if own:
            return own
        if not name:
            raise QgsProcessingException(self.tr("TABLE_FILE: choose your CSV (columns value,class)"))
        return str(TABLES / name)

    def _export_vector(self, parameters, context) -> str:
        layer = self.parameterAsVectorLayer(parameters, self.VECTOR, context)
        if layer is None:
            return ""
        path = new_job_dir("land-cover-input") / "land_cover.gpkg"
        options = QgsVectorFileWriter.SaveVectorOptions()
        # only what lies under the grid, and only the class field: a continental product stays a small export
        to_layer = QgsCoordinateTransform(self.crs, layer.crs(), self.transform_context)
        options.filterExtent = to_layer.transformBoundingBox(self.area.buffered(self.definition["pixel_size"]))
        field = self.parameterAsString(parameters, self.CLASS_FIELD, context)
        if layer.fields().indexOf(field) >= 0:
            options.attributes = [layer.fields().indexOf(field)]
        return export_gpkg(layer, path, context, "VECTOR", options)

    def _render_lines(self, out_dir: Path, feedback) -> str:
        """One RGBA render of the OSM lines per patch still to write (transparent background), for the backend to
        draw on top."""
        folder = new_job_dir("land-cover-lines")
        d = self.definition
        size, pixel = d["patch_size"], d["pixel_size"]
        stride = (size - d["overlap"]) * pixel
        for index, patch in enumerate(self.patches):
            if feedback.isCanceled():
                raise QgsProcessingException(self.tr("Cancelled"))
            feedback.setProgress(20.0 * index / len(self.patches))
            if (out_dir / f"{patch['patch_id']}.tif").exists():
                continue
            x_min, y_max = d["origin_x"] + patch["col"] * stride, d["origin_y"] - patch["row"] * stride
            rect = QgsRectangle(x_min, y_max - size * pixel, x_min + size * pixel, y_max)
            rgba = render_rgba(map_settings([self.line_layer], self.crs, rect, size, QColor(0, 0, 0, 0),
                                            self.transform_context))
            write_rgb_geotiff(folder / f"{patch['patch_id']}.tif", rgba, (x_min, pixel, 0.0, y_max, 0.0, -pixel),
                              d["crs_wkt"], alpha=True)
        return str(folder)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        table_file = self._table_file(parameters, context)
        vector = self._export_vector(parameters, context)
        out_dir = Path(self.parameterAsString(parameters, self.OUTPUT_DIR, context))
        lines_dir = self._render_lines(out_dir, feedback) if self.line_layer is not None else ""
        params = job_params(self, parameters, context, vector=vector, table_file=table_file, lines_dir=lines_dir)
        result = run_backend(backend_command(self), params, feedback)
        unknown = result.get("unknown_values") or []
        if unknown:
            feedback.pushWarning(self.tr("Values not in the table became no data: {v}").format(
                v=", ".join(unknown[:12])))
        feedback.pushInfo(self.tr("{w} patches written, {o} without land cover").format(
            w=result.get("written", 0), o=result.get("outside", 0)))
        return {self.OUTPUT_DIR: params["output_dir"], self.PATCH_COUNT: result.get("patch_count", 0),
                self.OUTSIDE: result.get("outside", 0)}

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 - QGIS API name
        self.line_layer = None  # release the layer on the main thread
        return {}
