"""mapsynth:render_map_patches — one georeferenced RGB GeoTIFF per grid patch, rendered inside QGIS."""

from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorLayer,
    QgsRectangle,
)
from qgis.PyQt.QtGui import QColor

from ..plugin.grid import list_patches, patches_extent, read_definition, record_status
from ..plugin.osm_files import OSM_FILE_FILTER
from ..plugin.osm_layers import background_rgb, semantic_layers, unmapped_rgb
from ..plugin.osm_semantic import load_palette
from ..plugin.output_dir import output_lock, prepare_output_dir
from ..plugin.rendering import MAX_OSM_TILES, is_osm_tile_layer, osm_tile_estimate, render_grid_patches
from .base import GRID_HELP, MapSynthAlgorithm, helped

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")
BLANK_WARNING = 0.1  # share of blank map patches above which the user is warned


def grid_source(layer) -> str:
    return layer.source().split("|", 1)[0]


class RenderMapPatches(MapSynthAlgorithm):
    PATCH_GRID, OSM_FILE, LAYERS, RETRIES, OUTPUT_DIR = "PATCH_GRID", "OSM_FILE", "LAYERS", "RETRIES", "OUTPUT_DIR"
    PATCH_COUNT, INCOMPLETE, BLANK_FRACTION = "PATCH_COUNT", "INCOMPLETE", "BLANK_FRACTION"
    group_id = "data"

    def name(self) -> str:
        return "render_map_patches"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Render map patches")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Renders one RGB GeoTIFF per patch of the grid (named by patch_id), exactly on the grid cell, at a "
            "fixed DPI without antialiasing or labels, so training and inference renders are identical.\n\n"
            "Either an OpenStreetMap extract (.osm.pbf, .osm, .osm.gz, .osm.bz2 or a GeoPackage of OGR OSM layers) "
            "drawn with the bundled semantic style (a fixed palette of land-use, building, road, rail, water and "
            "boundary classes; seas are built from natural=coastline ways), or layers rendered as styled (XYZ "
            "tiles, MBTiles, WMS). "
            "Layers are rendered over a transparent background; a patch with missing pixels is retried, then "
            "recorded as incomplete and not written. Bulk rendering from tile.openstreetmap.org beyond 5,000 tiles "
            "is refused, as QGIS core does.\n\n"
            "Outside the extract's data bounds (the bounding box in its header, else the extent of its data) "
            "pixels are drawn in the outside_data colour (black), kept apart from unmapped land inside the data "
            "(background); generation writes nodata there and in patches with no mapped feature.\n\n"
            "An OSM extract that covers none of the grid, or that GDAL cannot read completely (a truncated "
            "download), fails the step. The share of patches that show no mapped feature at all is reported "
            "(a warning above 10 %), and each patch's share of mapped pixels is its valid_fraction in the status "
            "table, which the dataset card summarises.\n\n"
            "A rerun into the same folder skips finished patches. Per-patch status goes to the grid's "
            "mapsynth_status table (step 'map')."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterVectorLayer(
            self.PATCH_GRID, self.tr("Patch grid"), [QgsProcessing.TypeVectorPolygon]), GRID_HELP))
        self.addParameter(helped(QgsProcessingParameterFile(
            self.OSM_FILE, self.tr("OpenStreetMap extract"), optional=True,
            fileFilter=OSM_FILE_FILTER),
            "drawn in the bundled semantic style (what MapSynth models are trained on); give it or layers"))
        self.addParameter(helped(QgsProcessingParameterMultipleLayers(
            self.LAYERS, self.tr("Or: layers as styled"), QgsProcessing.TypeMapLayer, optional=True),
            "any layers of the project, rendered with their own style"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.RETRIES, self.tr("Retries"), QgsProcessingParameterNumber.Integer, 3, False, 0, 20),
            "re-renders of a patch with missing pixels before it is recorded as incomplete"))
        self.addParameter(helped(QgsProcessingParameterFolderDestination(self.OUTPUT_DIR,
                                                                         self.tr("Map patches folder")),
                                 "input of Build training dataset and Generate patches"))
        self.addOutput(QgsProcessingOutputNumber(self.PATCH_COUNT, self.tr("Patches written")))
        self.addOutput(QgsProcessingOutputNumber(self.INCOMPLETE, self.tr("Incomplete patches")))
        self.addOutput(QgsProcessingOutputNumber(self.BLANK_FRACTION,
                                                 self.tr("Share of patches with no mapped feature")))

    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        """Main thread: read the grid, build or clone the layers to render."""
        grid_layer = self.parameterAsVectorLayer(parameters, self.PATCH_GRID, context)
        if grid_layer is None:
            raise QgsProcessingException(self.tr("PATCH_GRID: no grid layer given"))
        self.grid_path = grid_source(grid_layer)
        self.definition = read_definition(self.grid_path)
        self.patches = list_patches(self.grid_path)
        if not self.patches:
            raise QgsProcessingException(self.tr("PATCH_GRID {p} has no patches").format(p=self.grid_path))
        self.crs = QgsCoordinateReferenceSystem.fromWkt(self.definition["crs_wkt"])
        self.transform_context = context.transformContext()
        osm_file = self.parameterAsFile(parameters, self.OSM_FILE, context)
        layers = self.parameterAsLayerList(parameters, self.LAYERS, context)
        if bool(osm_file) == bool(layers):
            raise QgsProcessingException(self.tr("Give either OSM_FILE or LAYERS (exactly one of them)."))
        area = self._cells_bounds()
        if osm_file:
            self.layers, _ = semantic_layers(osm_file, area, self.crs, self.definition["pixel_size"], feedback)
            self.background = QColor(*background_rgb())
            self.blank_rgb = unmapped_rgb()
            self.source = {"osm_file": Path(osm_file).name, "style": f"semantic v{load_palette()['version']}"}
        else:
            for layer in layers:
                if not layer.isValid():
                    raise QgsProcessingException(self.tr("LAYERS: {name} cannot be read ({source})").format(
                        name=layer.name(), source=layer.source()))
            self._check_tile_policy(layers, area)
            self.blank_rgb = None
            self.layers = [layer.clone() for layer in layers]
            self.background = QColor(255, 0, 255, 0)  # transparent sentinel: missing tiles stay transparent
            self.source = {"layers": [layer.name() for layer in layers]}
        return True

    def _cells_bounds(self) -> QgsRectangle:
        return QgsRectangle(*patches_extent(self.definition, self.patches))

    def _check_tile_policy(self, layers, area: QgsRectangle) -> None:
        for layer in layers:
            if is_osm_tile_layer(layer):
                centre = QgsCoordinateTransform(self.crs, WGS84, self.transform_context).transform(area.center())
                tiles = osm_tile_estimate(len(self.patches) * (self.definition["patch_size"] *
                                                                self.definition["pixel_size"]) ** 2,
                                          self.definition["pixel_size"], centre.y())
                if tiles > MAX_OSM_TILES:
                    raise QgsProcessingException(self.tr(
                        "LAYERS: rendering this grid from tile.openstreetmap.org would fetch about {n} tiles, more "
                        "than the {m} the OSM tile usage policy allows (QGIS core refuses the same). Render an OSM "
                        "extract locally with OSM_FILE instead, or use your own tile server.").format(
                            n=tiles, m=MAX_OSM_TILES))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        out_dir = Path(self.parameterAsString(parameters, self.OUTPUT_DIR, context))
        retries = self.parameterAsInt(parameters, self.RETRIES, context)
        d = self.definition
        with output_lock(out_dir, self.name()):
            prepare_output_dir(out_dir, "map", d["fingerprint"], self.source)
            written, skipped, incomplete, records = render_grid_patches(
                self.layers, self.crs, d, self.patches, out_dir, self.background, retries, self.transform_context,
                feedback, self.blank_rgb)
        record_status(self.grid_path, "map", records)
        blank = self._report_blank(records, feedback)
        if incomplete:
            feedback.reportError(self.tr("{n} patches stayed incomplete after {r} retries and were not written: {ids}")
                                 .format(n=len(incomplete), r=retries, ids=", ".join(incomplete[:20])), False)
        feedback.pushInfo(self.tr("{w} patches written, {s} already there, {i} incomplete").format(
            w=written, s=skipped, i=len(incomplete)))
        return {self.OUTPUT_DIR: str(out_dir), self.PATCH_COUNT: written + skipped, self.INCOMPLETE: len(incomplete),
                self.BLANK_FRACTION: blank}

    def _report_blank(self, records, feedback) -> float:
        """Share of the grid's patches whose map shows no mapped feature at all (recorded per patch as
        valid_fraction 0 in mapsynth_status); a warning when it is a large part of the grid."""
        rendered = [r for r in records if r["status"] == "ok"]
        if self.blank_rgb is None or not rendered:
            return 0.0
        blank = sum(1 for r in rendered if r["valid_fraction"] == 0.0) / len(rendered)
        unmapped = 1.0 - sum(r["valid_fraction"] for r in rendered) / len(rendered)
        message = self.tr("{b:.1f} % of the patches show no mapped feature at all; {u:.1f} % of the pixels show "
                          "only the background or lie outside the OSM data bounds (generation leaves both "
                          "nodata)").format(b=100 * blank, u=100 * unmapped)
        if blank >= BLANK_WARNING:
            feedback.pushWarning(self.tr("{m}: check that the OSM extract covers the whole grid").format(m=message))
        else:
            feedback.pushInfo(message)
        return blank

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802 - QGIS API name
        self.layers = []  # release the rendered layers on the main thread
        return {}
