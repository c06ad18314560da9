"""docs/user-guide.md's result pictures, inside QGIS desktop (tests/gui/drive_qgis.py runs them only when
MAPSYNTH_GUI_GUIDE is set, as `make guide-images` does): for each step, its output as QGIS shows it. make demo's
outputs (demo-output) and the demo dataset's (.mapsynth-demo-training) are loaded into a fresh project and
photographed in the map canvas; train, what-if and land cover first run with the parameters their dialog
pictures show (guide_inputs.parameters), the way the toolbox runs them. Each picture is recorded in
RESULTS["guide"][<algorithm>] with the layers it shows."""

from __future__ import annotations

import json
import statistics

from guide_inputs import DEMO, TRAINING, WORK, demo_inputs, parameters
from osgeo import gdal
from qgis.core import (
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsLineSymbol,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsRendererCategory,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt, QUrl
from qgis.PyQt.QtGui import QPixmap
from qgis.PyQt.QtWidgets import QDialog, QDockWidget, QGridLayout, QLabel
from qgis.utils import iface

BANDS = ("B02", "B03", "B04", "B08")
SPLITS = (("train", "Training", "60,120,200,110"), ("val", "Validation", "240,150,30,110"),
          ("test", "Test", "40,160,80,110"), ("guard", "Guard band", "160,160,160,0"))


def vrt(name: str, sources: list[str], separate: bool = False, descriptions=()) -> str:
    """One virtual raster over many patch files (or single-band variables), with the band names QGIS shows."""
    path = WORK / f"{name}.vrt"
    WORK.mkdir(parents=True, exist_ok=True)
    ds = gdal.BuildVRT(str(path), sources, separate=separate)
    for index, description in enumerate(descriptions, start=1):
        ds.GetRasterBand(index).SetDescription(description)
    ds = None  # noqa: F841 - writes the file
    return str(path)


def outline(layer, colour: str = "40,40,40,200") -> None:
    layer.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
        {"style": "no", "outline_color": colour, "outline_width": "0.2", "outline_width_unit": "MM"})))


def by_split(layer, splits=SPLITS, field: str = "split") -> None:
    categories = [QgsRendererCategory(value, QgsFillSymbol.createSimple(
        {"color": rgb, "outline_color": rgb.rsplit(",", 1)[0] + ",230", "outline_width": "0.3",
         "outline_width_unit": "MM"}),
        label) for value, label, rgb in splits]
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))


class Scene:
    """A fresh project with one group of layers, photographed in the canvas with the Layers panel beside it."""

    def __init__(self, title: str, wait):
        iface.newProject(False)  # as Project > New does it (QgsProject.clear() alone leaves the canvas blank)
        self.wait, self.layers, self.on_top = wait, [], []
        self.group = QgsProject.instance().layerTreeRoot().insertGroup(0, title)

    def add(self, layer, kind: str = "", visible: bool = True, on_top: bool = False):
        """``layer`` into the group: styled as MapSynth loads a result of ``kind`` (mapsynth.plugin.styling, in
        its order), else as it is; ``on_top``: above every other (outlines over rasters)."""
        assert layer.isValid(), f"cannot read {layer.source()}"
        if kind:
            from mapsynth.plugin.styling import add_styled

            add_styled(QgsProject.instance(), self.group, layer, kind)
        else:
            QgsProject.instance().addMapLayer(layer, False)
            self.group.addLayer(layer)
        self.group.findLayer(layer.id()).setItemVisibilityChecked(visible)
        self.layers.append(layer)
        if on_top:
            self.on_top.append(layer)
        return layer

    def arrange(self) -> None:
        """The on-top layers first, and band legends such as "B04 (red)" on every mosaic."""
        from mapsynth.plugin.styling import label_bands

        for layer in reversed(self.on_top):
            node = self.group.findLayer(layer.id())
            self.group.insertChildNode(0, node.clone())
            self.group.removeChildNode(node)
        model = iface.layerTreeView().layerTreeModel()
        for node in self.group.findLayers():
            label_bands(node, node.layer())
            model.refreshLayerLegend(node)

    def shoot(self, shot, focus=None, extent: QgsRectangle | None = None) -> dict:
        """The whole window with the canvas on ``extent`` (in ``focus``'s CRS; default ``focus``'s extent, or the
        first layer's) once it has drawn."""
        focus = focus or self.layers[0]
        self.arrange()
        self.wait(0.5)
        QgsProject.instance().setCrs(focus.crs())
        canvas = iface.mapCanvas()
        canvas.setDestinationCrs(focus.crs())
        if extent is None:
            extent = QgsRectangle(focus.extent())
            extent.grow(max(extent.width(), extent.height()) * 0.02)
        canvas.setExtent(extent)
        canvas.refreshAllLayers()
        self.wait(1.0)
        self.wait(120, lambda: not canvas.isDrawing())
        self.wait(1.0)
        QgsApplication.primaryScreen().grabWindow(0).save(str(shot))
        visible = [node.name() for node in self.group.findLayers() if node.isVisible()]
        return {"screenshot": str(shot), "canvas_layers": len(canvas.layers()), "scale": round(canvas.scale()),
                "layers": [node.name() for node in self.group.findLayers()], "visible": visible}


def grid_layer(path: str, name: str) -> QgsVectorLayer:
    return QgsVectorLayer(f"{path}|layername=patches", name, "ogr")


def patch_grid(scene: Scene, shot) -> dict:
    osm = demo_inputs()["render_map_patches"]["OSM_FILE"]
    lines = scene.add(QgsVectorLayer(f"{osm}|layername=lines", "OpenStreetMap lines (the extract)", "ogr"))
    lines.setRenderer(QgsSingleSymbolRenderer(QgsLineSymbol.createSimple({"line_color": "90,90,90,160",
                                                                           "line_width": "0.15"})))
    grid = scene.add(grid_layer(str(DEMO / "grid.gpkg"), "Patch grid (grid.gpkg) by split"))
    by_split(grid)
    return scene.shoot(shot, grid)


def render_maps(scene: Scene, shot) -> dict:
    maps = sorted(str(p) for p in (DEMO / "maps").glob("r*.tif"))
    scene.add(grid_layer(str(DEMO / "grid.gpkg"), "Patch grid"))
    outline(scene.layers[-1])
    scene.add(QgsRasterLayer(vrt("maps", maps), f"Map patches (maps/, {len(maps)} files)"))
    return scene.shoot(shot)


def generated(scene: Scene, shot) -> dict:
    patches = sorted(str(p) for p in (DEMO / "generated").glob("r*_v00.tif"))
    outline(scene.add(grid_layer(str(DEMO / "grid.gpkg"), "Patch grid"), on_top=True), "255,255,255,150")
    scene.add(QgsRasterLayer(vrt("generated", patches, descriptions=BANDS),
                             f"Generated patches (generated/, {len(patches)} files)"), "true_colour")
    return scene.shoot(shot)


def mosaic(scene: Scene, shot) -> dict:
    path = str(DEMO / "mosaic.tif")
    scene.add(QgsRasterLayer(path, "Mosaic (true colour)"), "true_colour")
    scene.add(QgsRasterLayer(path, "Mosaic (NIR false colour)"), "false_colour", visible=False)
    scene.add(QgsVectorLayer(f"{DEMO / 'mosaic_seams.gpkg'}|layername=seams", "Seam lines", "ogr"), "seams")
    scene.add(QgsRasterLayer(str(DEMO / "mosaic_labels.tif"), "Label map"), "labels", visible=False)
    return scene.shoot(shot)


def masks(scene: Scene, shot) -> dict:
    scene.add(QgsRasterLayer(str(DEMO / "mosaic.tif"), "Mosaic (true colour)"), "true_colour")
    scene.add(QgsRasterLayer(str(DEMO / "masks" / "buildings_coverage.tif"), "Building coverage"), "mask",
              visible=False)
    scene.add(QgsRasterLayer(str(DEMO / "masks" / "nonresidential_coverage.tif"),
                             "Non-residential building coverage"), "mask")
    buildings = scene.add(QgsVectorLayer(str(DEMO / "buildings.gpkg"), "Classified buildings", "ogr"), "buildings")
    # the densest built-up part: 1.6 km around the median building
    centres = [f.geometry().centroid().asPoint() for f in buildings.getFeatures()]
    x, y = statistics.median(p.x() for p in centres), statistics.median(p.y() for p in centres)
    return scene.shoot(shot, buildings, QgsRectangle(x - 1300, y - 800, x + 1300, y + 800))


def netcdf(scene: Scene, shot) -> dict:
    path = demo_inputs()["export_netcdf"]["OUTPUT"]
    variables = [name.split(":")[-1] for key, name in gdal.Info(path, format="json")["metadata"]
                 ["SUBDATASETS"].items() if key.endswith("_NAME")]
    source = [f'NETCDF:"{path}":{band}' for band in BANDS]
    scene.add(QgsRasterLayer(vrt("netcdf_bands", source, True, BANDS), "B02-B08 of the netCDF (true colour)"),
              "true_colour")
    for variable in variables:
        if variable not in BANDS:
            kind = "labels" if variable.startswith("label") else "mask"
            scene.add(QgsRasterLayer(f'NETCDF:"{path}":{variable}', f"{variable} (netCDF variable)"), kind,
                      visible=variable == "nonresidential_coverage")
    return {**scene.shoot(shot), "variables": variables}


def window_picture(window, shot, wait) -> dict:
    window.show()
    window.raise_()
    wait(2.0)
    window.grab().save(str(shot))
    info = {"screenshot": str(shot), "title": window.windowTitle()}
    window.close()
    return info


def report(scene: Scene, shot) -> dict:
    from qgis.PyQt.QtWebKitWidgets import QWebView

    page = demo_inputs()["evaluate"]["OUTPUT_DIR"] + "/report.html"
    view = QWebView()
    view.setWindowTitle(f"report.html: {page}")
    view.resize(1100, 760)
    loaded = []
    view.loadFinished.connect(loaded.append)
    view.load(QUrl.fromLocalFile(page))
    scene.wait(60, lambda: loaded)
    return {**window_picture(view, shot, scene.wait), "loaded": bool(loaded and loaded[0])}


def cropped(scene: Scene, shot) -> dict:
    patches = sorted(str(p) for p in (TRAINING / "s2").glob("r*.tif"))
    outline(scene.add(grid_layer(str(TRAINING / "grid.gpkg"), "Patch grid"), on_top=True), "255,255,255,120")
    scene.add(QgsRasterLayer(vrt("s2", patches, descriptions=BANDS), f"Sentinel-2 patches (s2/, {len(patches)} "
                                                                       "files)"), "true_colour")
    return scene.shoot(shot)


def dataset(scene: Scene, shot) -> dict:
    rows = [json.loads(line) for split in ("train", "validation", "test")
            for line in (TRAINING / "dataset" / split / "metadata.jsonl").read_text().splitlines() if line]
    pairs = QgsVectorLayer(f"Polygon?crs={rows[0]['crs']}&field=patch_id:string&field=split:string",
                           f"Dataset pairs ({len(rows)}) by split", "memory")
    from qgis.core import QgsFeature, QgsGeometry

    features = []
    for row in rows:
        feature = QgsFeature(pairs.fields())
        feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(*row["bounds"])))
        feature.setAttributes([row["patch_id"], row["split"]])
        features.append(feature)
    pairs.dataProvider().addFeatures(features)
    by_split(pairs, SPLITS[:3])
    scene.add(pairs, on_top=True)
    patches = sorted(str(p) for p in (TRAINING / "s2").glob("r*.tif"))
    scene.add(QgsRasterLayer(vrt("s2", patches, descriptions=BANDS), "Sentinel-2 patches (s2/)"), "true_colour")
    return {**scene.shoot(shot, pairs), "pairs": len(rows)}


def training(scene: Scene, shot) -> dict:
    import processing

    params = parameters()["train_model"]
    result = processing.run("mapsynth:train_model", params)
    folder = WORK / "training"
    window = QDialog(iface.mainWindow())
    window.setWindowTitle(f"Training folder {folder}")
    layout = QGridLayout(window)
    heading = QLabel(f"<b>{folder}</b> after {params['MAX_STEPS']} steps: final loss "
                     f"{result.get('FINAL_LOSS', float('nan')):.4f}, model in model/")
    layout.addWidget(heading, 0, 0, 1, 2)
    for column, (title, path, scale) in enumerate((("validation/final.png: map | real | generated (RGB, then NIR "
                                                    "false colour)", folder / "validation" / "final.png", 2),
                                                   ("loss.png", folder / "loss.png", 1))):
        picture = QPixmap(str(path))
        label = QLabel()
        label.setPixmap(picture.scaled(picture.width() * scale, picture.height() * scale, Qt.KeepAspectRatio))
        caption = QLabel(title)
        caption.setWordWrap(True)
        layout.addWidget(caption, 1, column)
        layout.addWidget(label, 2, column, Qt.AlignTop)
    return {**window_picture(window, shot, scene.wait), "final_loss": result.get("FINAL_LOSS"),
            "model": result.get("MODEL_DIR")}


def whatif(scene: Scene, shot) -> dict:
    """The run's group as the toolbox loads it; After in the main canvas, Before in a second map view (View > New
    Map View) showing a map theme, both with the edit outlines."""
    import processing
    from qgis.core import QgsMapThemeCollection

    params = parameters()["inpaint_scenario"]
    result = processing.runAndLoadResults("mapsynth:inpaint_scenario", params)
    project, root = QgsProject.instance(), QgsProject.instance().layerTreeRoot()
    root.removeChildNode(scene.group)  # the run brings its own group
    scene.group = next(g for g in root.children() if g.name().startswith("MapSynth scenario"))
    nodes = {node.name(): node for node in scene.group.findLayers()}
    scene.layers = [node.layer() for node in nodes.values()]

    def show(*names):
        for name, node in nodes.items():
            node.setItemVisibilityChecked(name in names)

    show("Before", "Edits")
    project.mapThemeCollection().insert("Before", QgsMapThemeCollection.createThemeFromCurrentState(
        root, iface.layerTreeView().layerTreeModel()))
    show("After", "Edits")
    edits = nodes["Edits"].layer()
    box = QgsRectangle(edits.extent())
    box.grow(max(box.width(), box.height()) * 0.25)
    view = iface.createNewMapCanvas("Before")
    view.setTheme("Before")
    view.setDestinationCrs(edits.crs())
    view.setExtent(box)
    for dock in iface.mainWindow().findChildren(QDockWidget):
        if dock.windowTitle() == "Before":
            iface.mainWindow().addDockWidget(Qt.RightDockWidgetArea, dock)
            dock.setFloating(False)
            dock.setMinimumWidth(480)
    view.refresh()
    info = scene.shoot(shot, edits, box)
    iface.closeMapCanvas("Before")
    return {**info, "edited_pixels": result.get("EDITED_PIXELS"), "before_view": "Before"}


def land_cover(scene: Scene, shot) -> dict:
    import processing

    params = parameters()["map_from_land_cover"]
    result = processing.run("mapsynth:map_from_land_cover", params)
    maps = sorted(str(p) for p in (WORK / "land_cover_maps").glob("r*.tif"))
    polygons = scene.add(QgsVectorLayer(params["VECTOR"], "Land-cover polygons (cover)", "ogr"), visible=False)
    outline(polygons)
    scene.add(grid_layer(params["PATCH_GRID"], "Patch grid"))
    outline(scene.layers[-1])
    scene.add(QgsRasterLayer(vrt("land_cover_maps", maps), f"Map patches from land cover ({len(maps)} files)"))
    return {**scene.shoot(shot, scene.layers[1]), "patches": result.get("PATCH_COUNT")}


# algorithm -> how its result is shown, in the guide's order
STEPS = {"create_patch_grid": patch_grid, "render_map_patches": render_maps, "crop_sentinel2": cropped,
         "build_training_dataset": dataset, "train_model": training, "generate_patches": generated,
         "assemble_mosaic": mosaic, "building_masks": masks, "export_netcdf": netcdf, "evaluate": report,
         "inpaint_scenario": whatif, "map_from_land_cover": land_cover}


def take(results: dict, shots, wait, only=None) -> None:
    """Every result picture (or those in ``only``) into ``shots``; failures go to results['driver_errors']."""
    import time
    import traceback

    for dock in iface.mainWindow().findChildren(QDockWidget):  # room for the Layers panel
        if dock.windowTitle() == "Browser":
            dock.hide()
    guide = results.setdefault("guide", {})
    for name, show in STEPS.items():
        if only and name not in only:
            continue
        started = time.monotonic()
        title = QgsApplication.processingRegistry().algorithmById(f"mapsynth:{name}").displayName()
        where = (DEMO.name if name in demo_inputs() else TRAINING.name if name in ("crop_sentinel2",
                 "build_training_dataset") else "guide run")
        try:
            guide[name] = show(Scene(f"{title} ({where})", wait), shots / f"{name}_result.png")
            guide[name]["seconds"] = round(time.monotonic() - started, 1)
        except Exception:  # noqa: BLE001 - recorded, judged by the test
            results["driver_errors"].append(f"guide {name}: {traceback.format_exc()[-3000:]}")
