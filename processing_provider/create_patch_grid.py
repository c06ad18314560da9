"""mapsynth:create_patch_grid — the patch grid every later step reads and writes."""

import datetime
import math
from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
    QgsUnitTypes,
)

from ..plugin.about import __version__
from ..plugin.grid import FORMAT_VERSION, GRID_FORMAT, fingerprint, write_grid
from ..plugin.grid_layout import (
    GUARD_SPLIT,
    TooManyPatches,
    assign_splits,
    auto_block_size,
    guard_splits,
    plan_grid,
    select_cells,
    utm_crs,
)
from .base import MapSynthAlgorithm, check_area, helped

WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


class CreatePatchGrid(MapSynthAlgorithm):
    EXTENT, AOI, CRS, OUTPUT = "EXTENT", "AOI", "CRS", "OUTPUT"
    PIXEL_SIZE, PATCH_SIZE, OVERLAP = "PIXEL_SIZE", "PATCH_SIZE", "OVERLAP"
    VAL_FRACTION, TEST_FRACTION, SPLIT_BLOCK, SEED = "VAL_FRACTION", "TEST_FRACTION", "SPLIT_BLOCK", "SEED"
    ALIGN, MAX_PATCHES, GUARD = "ALIGN", "MAX_PATCHES", "GUARD"
    PATCH_COUNT, ROWS, COLS, FINGERPRINT = "PATCH_COUNT", "ROWS", "COLS", "FINGERPRINT"
    group_id = "data"

    def name(self) -> str:
        return "create_patch_grid"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Create patch grid")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Creates the patch grid, the spine of the MapSynth pipeline: a GeoPackage with one polygon per patch "
            "(patch_id, row with 0 = north, col with 0 = west, x_min, y_max, pixel_size, size_px, overlap_px, split) "
            "and the grid definition stored in its mapsynth_grid table. Every later step reads it.\n\n"
            "The area is an Extent (with its CRS) or Area of interest polygons (patches not touching them are "
            "dropped): give at least one of them; with both, the polygons are clipped to the extent. The grid CRS "
            "defaults to the UTM zone of the area's centre (EPSG:326xx / 327xx, as Sentinel-2 tiles use). The "
            "north-west corner is snapped to multiples of the pixel size (or of 'Snap origin to'), so a 10 m grid "
            "coincides with the Sentinel-2 pixel grid of its UTM zone. Every point of the area lies in at least one "
            "patch, with the fewest rows and columns at the stride patch size − overlap. The overlap defaults to "
            "round(0.1875 × patch size).\n\n"
            "The train / validation / test split is spatial: whole blocks of split-block × split-block patches "
            "(0 = automatic) go to one split, in a seeded random order, to approach the validation and test "
            "fractions. Neighbouring patches overlap, so with the guard band (on by default) every patch that shares "
            "pixels with a patch of another split goes to a fourth split, guard: training patches around validation "
            "and test blocks, validation patches around test blocks. Guard patches are still mapped and generated but "
            "never enter a training dataset, so no test or validation pixel is ever a training pixel. Each held-out "
            "block of b × b patches costs up to 4b + 4 training patches: a larger split block keeps more."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterExtent(self.EXTENT, self.tr("Extent"), optional=True),
                                 "the area to cover, with its CRS; or give area of interest polygons"))
        self.addParameter(helped(QgsProcessingParameterFeatureSource(
            self.AOI, self.tr("Or: area of interest"), [QgsProcessing.TypeVectorPolygon], optional=True),
            "polygons; patches not touching them are dropped; clipped to the extent when both are given"))
        self.addParameter(helped(QgsProcessingParameterCrs(self.CRS, self.tr("Grid CRS"), optional=True),
                                 "a projected CRS in metres; default: the UTM zone of the area's centre"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.PIXEL_SIZE, self.tr("Pixel size (m)"), QgsProcessingParameterNumber.Double, 10.0, False,
            0.01, 10000.0), "10 m matches Sentinel-2's 10 m bands"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.PATCH_SIZE, self.tr("Patch size (px)"), QgsProcessingParameterNumber.Integer, 64, False, 8, 8192),
            "width and height of a patch; use the model's patch size"))
        self.addParameter(helped(QgsProcessingParameterNumber(
            self.OVERLAP, self.tr("Overlap (px)"), QgsProcessingParameterNumber.Integer, None, True, 0, 8191),
            "shared pixels between neighbouring patches; empty = round(0.1875 × patch size)"))
        for name, label, detail in (
                (self.VAL_FRACTION, "Validation fraction", "share of patches held out for validation"),
                (self.TEST_FRACTION, "Test fraction", "share of patches held out for testing")):
            self.addParameter(helped(QgsProcessingParameterNumber(
                name, self.tr(label), QgsProcessingParameterNumber.Double, 0.1, False, 0.0, 0.9), detail))
        advanced = (
            helped(QgsProcessingParameterNumber(self.SPLIT_BLOCK, self.tr("Split block (patches)"),
                                                QgsProcessingParameterNumber.Integer, 0, False, 0, 1000),
                   "side of the square blocks that go to one split; 0 = automatic", advanced=True),
            helped(QgsProcessingParameterBoolean(self.GUARD, self.tr("Guard band between splits"), True, True),
                   "patches that share pixels with a patch of another split go to the guard split, which no step "
                   "trains or scores on; off = the splits share pixels (a warning when a dataset is built)",
                   advanced=True),
            helped(QgsProcessingParameterNumber(self.SEED, self.tr("Split seed"),
                                                QgsProcessingParameterNumber.Integer, 0, False, 0),
                   "seed of the blocks' random order", advanced=True),
            helped(QgsProcessingParameterNumber(self.ALIGN, self.tr("Snap origin to (m)"),
                                                QgsProcessingParameterNumber.Double, 0.0, False, 0.0, 100000.0),
                   "the north-west corner is a multiple of this; 0 = the pixel size", advanced=True),
            helped(QgsProcessingParameterNumber(self.MAX_PATCHES, self.tr("Maximum patches"),
                                                QgsProcessingParameterNumber.Integer, 1_000_000, False, 1),
                   "refuse areas that need more patches than this", advanced=True),
        )
        for param in advanced:
            self.addParameter(param)
        self.addParameter(helped(QgsProcessingParameterVectorDestination(
            self.OUTPUT, self.tr("Patch grid"), QgsProcessing.TypeVectorPolygon),
            "a GeoPackage (.gpkg): the Patch grid input of every later step"))
        for name, label in ((self.PATCH_COUNT, "Number of patches"), (self.ROWS, "Rows"), (self.COLS, "Columns")):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))
        self.addOutput(QgsProcessingOutputString(self.CRS, self.tr("Grid CRS")))
        self.addOutput(QgsProcessingOutputString(self.FINGERPRINT, self.tr("Grid fingerprint")))

    def checkParameterValues(self, parameters, context):  # noqa: N802 - QGIS API name
        """One of EXTENT and AOI is required although each is optional: refuse before Run, in the dialog too."""
        return check_area(self, parameters, context)

    def _area(self, parameters, context) -> tuple[QgsGeometry, QgsCoordinateReferenceSystem]:
        """The area to cover and its CRS, from AOI and/or EXTENT."""
        extent = None
        if parameters.get(self.EXTENT) not in (None, ""):
            rect = self.parameterAsExtent(parameters, self.EXTENT, context)
            extent_crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
            if not extent_crs.isValid():
                raise QgsProcessingException(self.tr(
                    "EXTENT has no CRS: write it as 'xmin,xmax,ymin,ymax [EPSG:code]' or set a project CRS."))
            if rect.isEmpty():
                raise QgsProcessingException(self.tr("EXTENT is empty (zero width or height)."))
            extent = (QgsGeometry.fromRect(rect).densifyByCount(32), extent_crs)
        source = self.parameterAsSource(parameters, self.AOI, context)
        if source is None:
            if extent is None:
                raise QgsProcessingException(self.tr("Give the area as EXTENT (with its CRS) or AOI polygons."))
            return extent
        if not source.sourceCrs().isValid():
            raise QgsProcessingException(self.tr("AOI layer has no CRS: assign one (Layer Properties ▸ Source)."))
        parts = [f.geometry() for f in source.getFeatures() if f.hasGeometry() and not f.geometry().isEmpty()]
        aoi = QgsGeometry.unaryUnion([g.makeValid() for g in parts]) if parts else QgsGeometry()
        if aoi.isEmpty() or aoi.area() <= 0:
            raise QgsProcessingException(self.tr("AOI is empty: the layer has no polygon with an area."))
        if extent is not None:
            aoi = aoi.intersection(self._transformed(extent[0], extent[1], source.sourceCrs(), context))
            if aoi.isEmpty() or aoi.area() <= 0:
                raise QgsProcessingException(self.tr("AOI and EXTENT do not overlap."))
        return aoi, source.sourceCrs()

    def _transformed(self, geometry, source_crs, target_crs, context) -> QgsGeometry:
        result = QgsGeometry(geometry)
        try:
            result.transform(QgsCoordinateTransform(source_crs, target_crs, context.transformContext()))
        except QgsCsException as exc:
            raise QgsProcessingException(self.tr("Cannot transform the area from {src} to {dst}: {error}").format(
                src=source_crs.authid(), dst=target_crs.authid(), error=exc)) from exc
        box = result.boundingBox()
        if result.isEmpty() or not all(map(math.isfinite, (box.xMinimum(), box.yMinimum(), box.xMaximum(),
                                                           box.yMaximum()))):
            raise QgsProcessingException(self.tr(
                "The area does not fit {dst} once transformed from {src}: are its coordinates really in {src}"
                " (EPSG:4326 expects degrees)?").format(src=source_crs.authid(), dst=target_crs.authid()))
        return result

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        pixel = self.parameterAsDouble(parameters, self.PIXEL_SIZE, context)
        patch = self.parameterAsInt(parameters, self.PATCH_SIZE, context)
        overlap = (round(0.1875 * patch) if parameters.get(self.OVERLAP) in (None, "")
                   else self.parameterAsInt(parameters, self.OVERLAP, context))
        if not 0 <= overlap < patch:
            raise QgsProcessingException(self.tr("OVERLAP ({o} px) must be at least 0 and smaller than PATCH_SIZE "
                                                 "({p} px).").format(o=overlap, p=patch))
        val = self.parameterAsDouble(parameters, self.VAL_FRACTION, context)
        test = self.parameterAsDouble(parameters, self.TEST_FRACTION, context)
        if val + test >= 1.0:
            raise QgsProcessingException(self.tr("VAL_FRACTION + TEST_FRACTION must leave patches for training "
                                                 "(sum below 1)."))
        align = self.parameterAsDouble(parameters, self.ALIGN, context)
        if align and abs(align / pixel - round(align / pixel)) > 1e-6:
            raise QgsProcessingException(self.tr("ALIGN ({a} m) must be a multiple of PIXEL_SIZE ({p} m).").format(
                a=align, p=pixel))
        max_patches = self.parameterAsInt(parameters, self.MAX_PATCHES, context)

        area, area_crs = self._area(parameters, context)
        crs = self.parameterAsCrs(parameters, self.CRS, context)
        if not crs.isValid():
            centre = self._transformed(QgsGeometry.fromPointXY(area.centroid().asPoint()), area_crs, WGS84, context)
            crs = utm_crs(centre.asPoint().x(), centre.asPoint().y())
        if crs.isGeographic() or crs.mapUnits() != QgsUnitTypes.DistanceMeters:
            raise QgsProcessingException(self.tr(
                "CRS {crs} is not in metres, but PIXEL_SIZE is: choose a projected metric CRS such as the UTM zone "
                "(the default when CRS is left empty).").format(crs=crs.authid() or crs.description()))
        area = self._transformed(area, area_crs, crs, context)
        plan = plan_grid(area.boundingBox(), pixel, patch, overlap, align)
        feedback.pushInfo(self.tr("Grid {crs}: {rows} rows x {cols} columns, stride {s} m, origin ({x}, {y})").format(
            crs=crs.authid(), rows=plan.rows, cols=plan.cols, s=plan.stride_m, x=plan.origin_x, y=plan.origin_y))
        try:
            cells = select_cells(plan, area, max_patches, feedback)
        except TooManyPatches as exc:
            raise QgsProcessingException(self.tr(
                "The area needs at least {n} patches, more than MAX_PATCHES={m}: use a larger PATCH_SIZE or "
                "PIXEL_SIZE, a smaller area, or raise MAX_PATCHES.").format(n=exc.args[0], m=max_patches)) from exc
        if feedback.isCanceled():
            raise QgsProcessingException(self.tr("Cancelled: no grid written."))
        block = self.parameterAsInt(parameters, self.SPLIT_BLOCK, context) or auto_block_size(cells)
        seed = self.parameterAsInt(parameters, self.SEED, context)
        splits = assign_splits(cells, val, test, block, seed)
        guard = self.parameterAsBool(parameters, self.GUARD, context)
        if guard:
            splits = guard_splits(splits, patch, overlap)
        counts = {name: sum(1 for s in splits.values() if s == name) for name in ("train", "val", "test", GUARD_SPLIT)}
        feedback.pushInfo(self.tr("Split ({b} x {b} patch blocks): train {train}, val {val}, test {test}, guard "
                                  "{guard}").format(b=block, **counts))
        if not guard and overlap:
            feedback.pushWarning(self.tr("No guard band: neighbouring patches of different splits share {o} px "
                                         "strips, so validation and test pixels are also training pixels.").format(
                o=overlap))
        elif counts[GUARD_SPLIT]:
            feedback.pushInfo(self.tr("Guard: patches that share pixels with a patch of another split; no step trains"
                                      " or scores on them. Each held-out block of b x b patches costs up to 4b + 4 "
                                      "training patches: a larger SPLIT_BLOCK keeps more."))
        if guard and counts["train"] == 0 and len(cells) > 1:
            feedback.pushWarning(self.tr("The guard band left no training patch: use a smaller VAL_FRACTION / "
                                         "TEST_FRACTION or a larger SPLIT_BLOCK."))

        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        if not output.lower().endswith(".gpkg"):
            raise QgsProcessingException(self.tr("OUTPUT must be a GeoPackage (.gpkg): {path}").format(path=output))
        bounds = area.boundingBox()
        definition = {
            "format": GRID_FORMAT, "format_version": FORMAT_VERSION,
            "crs_wkt": crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED), "crs_authid": crs.authid(),
            "origin_x": plan.origin_x, "origin_y": plan.origin_y, "pixel_size": pixel, "patch_size": patch,
            "overlap": overlap, "rows": plan.rows, "cols": plan.cols, "patch_count": len(cells),
            "area_bounds": [bounds.xMinimum(), bounds.yMinimum(), bounds.xMaximum(), bounds.yMaximum()],
            "split": {"val_fraction": val, "test_fraction": test, "block_size": block, "seed": seed, "guard": guard},
            "created_by": f"mapsynth {__version__}",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        definition["fingerprint"] = fingerprint(definition)
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        write_grid(Path(output), definition, [(r, c, splits[(r, c)]) for r, c in cells], crs, feedback)
        feedback.setProgress(100.0)
        return {self.OUTPUT: output, self.PATCH_COUNT: len(cells), self.ROWS: plan.rows, self.COLS: plan.cols,
                self.CRS: crs.authid(), self.FINGERPRINT: definition["fingerprint"]}
