"""Runs INSIDE QGIS desktop (qgis --code this file), started by tests/gui/test_desktop.py under Xvfb: opens every
MapSynth window a user can reach, records what a user would see as wrong, saves a screenshot of each window and
writes everything to results.json in $MAPSYNTH_GUI_OUT, then ends QGIS. No assertions here: the pytest side
judges, so that each check reports on its own. With MAPSYNTH_GUI_GUIDE set (make guide-images), the dialogs of
docs/user-guide.md are photographed filled in with the demo's inputs (guide_inputs.py) and each step's result is
photographed too (guide_results.py); without it (CI) they show their defaults and no result is taken."""

import json
import os
import sys
import time
import traceback
from pathlib import Path

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QScrollArea
from qgis.utils import iface, plugins

OUT = Path(os.environ["MAPSYNTH_GUI_OUT"])
GUIDE = bool(os.environ.get("MAPSYNTH_GUI_GUIDE"))
GUIDE_DIALOG = (960, 760)  # guide pictures: room for more of the filled-in parameters (fits 1280 x 800)
SHOTS = OUT / "screenshots"
RESULTS: dict = {"log": [], "python_errors": [], "message_bar": [], "windows": {}, "driver_errors": [],
                 "plugin_loaded": "mapsynth" in plugins}
_previous_hook = sys.excepthook


def _hook(kind, value, tb):
    RESULTS["python_errors"].append("".join(traceback.format_exception(kind, value, tb))[-3000:])
    _previous_hook(kind, value, tb)


def _on_log(message, tag, level):
    RESULTS["log"].append([tag, int(level), message[:2000]])


def _on_bar_item(item):
    RESULTS["message_bar"].append([int(item.level()), item.title(), item.text()])


def wait(seconds: float, until=None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QgsApplication.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.02)
    return until() if until is not None else True


def inspect(name: str, window, extra: dict | None = None) -> dict:
    """Size, horizontal scrolling of every scroll area (parameter panels), and a screenshot."""
    window.show()
    window.raise_()
    wait(1.0)
    frame = window.frameGeometry()
    scrolls = []
    for area in window.findChildren(QScrollArea):
        bar = area.horizontalScrollBar()
        if area.isVisible():
            scrolls.append({"name": area.objectName(), "visible": bar.isVisible(), "maximum": bar.maximum()})
    shot = SHOTS / f"{name.replace(':', '_').replace('/', '_')}.png"
    window.grab().save(str(shot))
    info = {"title": window.windowTitle(), "width": frame.width(), "height": frame.height(), "scroll": scrolls,
            "screenshot": str(shot), **(extra or {})}
    RESULTS["windows"][name] = info
    return info


def algorithm_dialogs() -> None:
    import processing

    provider = QgsApplication.processingRegistry().providerById("mapsynth")
    RESULTS["algorithms"] = sorted(alg.id() for alg in provider.algorithms()) if provider else []
    if GUIDE:
        sys.path.insert(0, os.environ["MAPSYNTH_GUI_TESTS"])
        import guide_inputs
    for alg_id in RESULTS["algorithms"]:
        try:
            filled = guide_inputs.fill(alg_id) if GUIDE else {}
            dialog = processing.createAlgorithmDialog(alg_id, filled)
            # the parameters the dialog shows: docs/user-guide.md's screenshots are current while these still are
            parameters = [p.name() for p in QgsApplication.processingRegistry().algorithmById(alg_id)
                          .parameterDefinitions()]
            extra = {"parameters": parameters}
            if filled:
                dialog.resize(*GUIDE_DIALOG)
                extra["values"] = guide_inputs.shown_values(dialog)
            inspect(alg_id, dialog, extra)
            dialog.close()
            dialog.deleteLater()
        except Exception:  # noqa: BLE001 - recorded, judged by the test
            RESULTS["driver_errors"].append(f"{alg_id}: {traceback.format_exc()[-2000:]}")
    QgsProject.instance().clear()  # the layers the filled-in dialogs picked; a clean project opens demo.qgz


def plugin_dialogs() -> None:
    plugin = plugins["mapsynth"]
    by_label = {action.text(): action for action in plugin.actions}
    by_label["Settings…"].trigger()
    inspect("plugin_settings", plugin.settings_dialog)
    plugin.settings_dialog.reject()
    by_label["Set up backend environment…"].trigger()
    dialog = plugin.setup_dialog
    wait(120, lambda: dialog.existing is not None)
    inspect("plugin_setup", dialog, {"existing": dialog.existing, "found_text": dialog.found.text(),
                                     "start_is_default": dialog.start_button.isDefault()})
    dialog.reject()
    by_label["Backend status…"].trigger()
    dialog = plugin.status_dialog
    wait(120, lambda: dialog.done)
    table = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    inspect("plugin_status", dialog, {"table": table, "summary": dialog.summary.text(),
                                      "buttons": sorted(b.text() for b in dialog.buttons.buttons())})
    dialog.reject()


def modeler() -> None:
    from processing.modeler.ModelerDialog import ModelerDialog

    path = os.environ["MAPSYNTH_GUI_MODEL"]
    model = QgsProcessingModelAlgorithm()
    loaded = model.fromFile(path)
    issues = {}
    for child_id, child in model.childAlgorithms().items():
        ok, child_issues = model.validateChildAlgorithm(child_id)
        if not ok or child.algorithm() is None:
            issues[child.description() or child_id] = list(child_issues) or ["algorithm not found"]
    boxes = [(f"input {p.parameterName()}", p.position(), p.size()) for p in model.parameterComponents().values()]
    boxes += [(f"step {c.description()}", c.position(), c.size()) for c in model.childAlgorithms().values()]
    overlaps = []
    for i, (name_a, pos_a, size_a) in enumerate(boxes):
        for name_b, pos_b, size_b in boxes[i + 1:]:
            if (abs(pos_a.x() - pos_b.x()) * 2 < size_a.width() + size_b.width()
                    and abs(pos_a.y() - pos_b.y()) * 2 < size_a.height() + size_b.height()):
                overlaps.append([name_a, name_b])
    dialog = ModelerDialog.create()
    dialog.loadModel(path)
    dialog.resize(1280, 760)
    info = inspect("modeler_synthesize_city", dialog, {"loaded": loaded, "child_issues": issues,
                                                      "overlapping_boxes": overlaps,
                                                      "children": len(model.childAlgorithms())})
    info["scroll"] = []  # the model canvas scrolls by design; only dialogs' parameter panels must not
    dialog.close()


def legend_texts() -> dict:
    """Layer name -> legend texts as the Layers panel shows them."""
    sys.path.insert(0, os.environ["MAPSYNTH_GUI_TESTS"])
    from demo_fixture import legend_texts as texts

    return texts(QgsProject.instance().layerTreeRoot(), iface.layerTreeView().layerTreeModel())


def demo_project() -> None:
    path = os.environ["MAPSYNTH_GUI_DEMO"]
    iface.addProject(path)
    wait(2.0)
    iface.mainWindow().setGeometry(QgsApplication.primaryScreen().availableGeometry())  # no window manager
    iface.mapCanvas().zoomToFullExtent()
    iface.mapCanvas().refreshAllLayers()
    wait(10, lambda: not iface.mapCanvas().isDrawing())
    wait(1.0)
    legend = legend_texts()
    tree = [child.name() for group in QgsProject.instance().layerTreeRoot().children()
            for child in getattr(group, "children", list)()]
    invalid = [layer.name() for layer in QgsProject.instance().mapLayers().values() if not layer.isValid()]
    shot = SHOTS / "demo_project.png"
    QgsApplication.primaryScreen().grabWindow(0).save(str(shot))
    RESULTS["demo"] = {"legend": legend, "tree": tree, "invalid_layers": invalid, "screenshot": str(shot),
                       "layers": len(QgsProject.instance().mapLayers())}


def toolbox_run() -> None:
    """A backend job the way the toolbox runs it (processing.runAndLoadResults): styled results in their group,
    the job's summary and warnings under the MapSynth tab of the Log Messages panel."""
    import processing

    logged = len(RESULTS["log"])
    result = processing.runAndLoadResults("mapsynth:building_masks", {
        "BUILDINGS": os.environ["MAPSYNTH_GUI_BUILDINGS"], "TARGET_RASTER": os.environ["MAPSYNTH_GUI_TARGET"],
        "OUTPUT_DIR": str(OUT / "toolbox-masks")})
    wait(2.0)
    root = QgsProject.instance().layerTreeRoot()
    groups = [g for g in root.children() if g.name().startswith("MapSynth building masks")]
    shot = SHOTS / "toolbox_run.png"
    QgsApplication.primaryScreen().grabWindow(0).save(str(shot))
    legend = legend_texts()
    RESULTS["toolbox"] = {
        "result": {k: str(v) for k, v in (result or {}).items()},
        "groups": {g.name(): [c.name() for c in g.children()] for g in groups},
        "legend": {c.name(): legend.get(c.name()) for g in groups for c in g.children()},
        "mapsynth_log": [entry for entry in RESULTS["log"][logged:] if entry[0] == "MapSynth"],
        "screenshot": str(shot)}


def guide_results() -> None:
    """docs/user-guide.md's result picture of every step (make guide-images only)."""
    import guide_results as guide

    guide.take(RESULTS, SHOTS, wait)


def run() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    screen = QgsApplication.primaryScreen().geometry()
    RESULTS["screen"] = [screen.width(), screen.height()]
    steps = (algorithm_dialogs, plugin_dialogs, modeler, demo_project, toolbox_run)
    for step in steps + ((guide_results,) if GUIDE else ()):
        started = time.monotonic()
        try:
            step()
        except Exception:  # noqa: BLE001 - recorded, judged by the test
            RESULTS["driver_errors"].append(f"{step.__name__}: {traceback.format_exc()[-3000:]}")
        RESULTS.setdefault("timings", {})[step.__name__] = round(time.monotonic() - started, 1)
    wait(0.5)
    RESULTS["message_bar_now"] = [[int(item.level()), item.title(), item.text()]
                                  for item in iface.messageBar().items()]
    (OUT / "results.json").write_text(json.dumps(RESULTS, indent=1), encoding="utf-8")
    os._exit(0)  # a clean exit would ask whether to save the modified project


def start() -> None:
    sys.excepthook = _hook
    QgsApplication.messageLog().messageReceived.connect(_on_log)
    iface.messageBar().widgetAdded.connect(_on_bar_item)
    QTimer.singleShot(500, run)


start()
