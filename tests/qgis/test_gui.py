"""The plugin's GUI, headless: dialogs are created and driven offscreen, with real backend subprocesses."""

import sys
import time

from qgis.core import QgsApplication


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        QgsApplication.processEvents()
        time.sleep(0.02)
    return condition()


def test_settings_dialog_validates_and_saves(plugin, backend_python, tmp_path):
    from mapsynth.plugin import settings
    from mapsynth.plugin.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog()
    dialog.python.setText(str(tmp_path / "missing-python"))
    assert dialog.check() is False and "No such file" in dialog.status.text()
    dialog.accept()
    assert dialog.result() != dialog.Accepted  # refused: the backend does not answer
    dialog.python.setText(str(backend_python))
    assert dialog.check() is True and "MapSynth backend 0.1.0" in dialog.status.text()
    dialog.device.setCurrentText("cpu")
    dialog.cache.setText(str(tmp_path / "cache"))
    dialog.accept()
    assert dialog.result() == dialog.Accepted
    assert settings.value(settings.KEY_BACKEND_PYTHON) == str(backend_python)
    assert settings.value(settings.KEY_DEVICE) == "cpu"
    assert settings.value(settings.KEY_CACHE_DIR) == str(tmp_path / "cache")
    settings.set_value(settings.KEY_CACHE_DIR, "")
    settings.set_value(settings.KEY_BACKEND_PYTHON, "")
    settings.set_value(settings.KEY_DEVICE, "")  # later tests start from the default device


def test_setup_dialog_streams_output_and_stays_responsive(plugin, tmp_path):
    from mapsynth.plugin.gui.setup_dialog import SetupDialog, setup_steps

    go_on = tmp_path / "go-on"  # the first step ends only once the test has seen its first line: no timing race
    first = ("import pathlib, time; print('step one', flush=True)\n"
             f"while not pathlib.Path({str(go_on)!r}).exists(): time.sleep(0.05)\nprint('more')")
    steps = [[sys.executable, "-c", first], [sys.executable, "-c", "print('step two')"]]
    dialog = SetupDialog(steps=steps, venv=tmp_path / "venv")
    dialog.show()
    dialog.start()
    assert not dialog.start_button.isEnabled()
    assert wait_for(lambda: "step one" in dialog.output.toPlainText(), 120)  # streamed before the step ends
    assert dialog.succeeded is None  # still running while the event loop turns
    go_on.touch()
    assert wait_for(lambda: dialog.succeeded is not None)
    text = dialog.output.toPlainText()
    assert dialog.succeeded is True and "more" in text and "step two" in text and text.count("$ ") == 2
    plan = setup_steps("/usr/bin/python3", tmp_path / "venv", "torch==2.13.0")
    assert plan[0] == ["/usr/bin/python3", "-m", "venv", str(tmp_path / "venv")]
    assert plan[2][-1] == "torch==2.13.0" and plan[3][-1].endswith("backend") and plan[4][-1] == "doctor"


def test_setup_dialog_reports_failure_and_cancel(plugin, tmp_path):
    from mapsynth.plugin.gui.setup_dialog import SetupDialog

    failing = SetupDialog(steps=[[sys.executable, "-c", "import sys; sys.exit(3)"], [sys.executable, "-c", "1"]])
    failing.start()
    assert wait_for(lambda: failing.succeeded is not None) and failing.succeeded is False
    assert "[exit code 3]" in failing.output.toPlainText() and failing.output.toPlainText().count("$ ") == 1
    slow = SetupDialog(steps=[[sys.executable, "-c", "import time; time.sleep(600)"]])
    slow.start()
    wait_for(lambda: False, 0.5)
    slow.cancel()  # a step that would run 600 s ends as cancelled within a generous 60 s
    assert wait_for(lambda: slow.succeeded is not None, 60) and slow.succeeded is False


def test_status_dialog_shows_a_table_with_torch_build_and_gpus(plugin, backend_python):
    from mapsynth.plugin.gui.status_dialog import StatusDialog

    dialog = StatusDialog()
    dialog.show()
    dialog.refresh()
    assert wait_for(lambda: dialog.done, 120)
    assert dialog.report is not None, dialog.summary.text()
    table = {dialog.table.item(row, 0).text(): dialog.table.item(row, 1).text()
             for row in range(dialog.table.rowCount())}
    torch = dialog.report["torch"]
    assert table["Backend Python"] == str(backend_python) and "MAPSYNTH_BACKEND_PYTHON" in table["Found through"]
    assert table["PyTorch"] == f"{torch['version']} (build {torch['build']})"
    assert table["Backend version"] == dialog.report["backend_version"]
    assert ("GPUs" in table) == (not torch["devices"])
    assert f"torch {torch['version']} (build {torch['build']})" in dialog.summary.text()
    assert "{" not in "".join(table.values())  # no raw JSON
    assert sorted(b.text() for b in dialog.buttons.buttons()) == ["Close", "Refresh"]
    dialog.refresh_button.click()
    assert not dialog.done and wait_for(lambda: dialog.done, 120) and dialog.report is not None


def test_status_dialog_says_when_the_backend_does_not_answer(plugin, monkeypatch, tmp_path):
    from mapsynth.plugin.gui.status_dialog import StatusDialog

    monkeypatch.setenv("MAPSYNTH_BACKEND_PYTHON", str(tmp_path / "no-python"))
    dialog = StatusDialog()
    dialog.refresh()
    assert wait_for(lambda: dialog.done, 30) and dialog.report is None
    assert "did not answer" in dialog.summary.text() and str(tmp_path / "no-python") in dialog.summary.text()


def test_setup_dialog_says_when_a_working_backend_exists(plugin, backend_python, monkeypatch, tmp_path):
    from mapsynth.plugin.gui.setup_dialog import SetupDialog

    found = SetupDialog(venv=tmp_path / "venv")
    assert wait_for(lambda: found.existing is not None, 120)
    assert found.existing is True and "already set up" in found.found.text() and str(backend_python) in \
        found.found.text()
    assert not found.start_button.isDefault() and found.cancel_button.isDefault()
    monkeypatch.setenv("MAPSYNTH_BACKEND_PYTHON", str(tmp_path / "no-python"))
    missing = SetupDialog(venv=tmp_path / "venv")
    assert wait_for(lambda: missing.existing is not None, 30) and missing.existing is False
    assert "No working backend" in missing.found.text() and missing.start_button.isDefault()


class RecordingInterface:
    """Stands in for QGIS's QgisInterface (qgis.testing's mocked iface restarts QGIS, dropping providers)."""

    def __init__(self):
        from qgis.PyQt.QtWidgets import QMainWindow

        self.window = QMainWindow()
        self.menu, self.toolbar = [], []

    def mainWindow(self):  # noqa: N802 - QGIS API name
        return self.window

    def addPluginToMenu(self, name, action):  # noqa: N802
        self.menu.append((name, action))

    def removePluginMenu(self, name, action):  # noqa: N802
        self.menu.remove((name, action))

    def addToolBarIcon(self, action):  # noqa: N802
        self.toolbar.append(action)

    def removeToolBarIcon(self, action):  # noqa: N802
        if action in self.toolbar:
            self.toolbar.remove(action)


def test_init_gui_adds_menu_and_toolbar_entries(plugin):
    import mapsynth

    iface = RecordingInterface()
    gui_plugin = mapsynth.classFactory(iface)
    gui_plugin.initGui()
    labels = [action.text() for action in gui_plugin.actions]
    assert labels == ["MapSynth toolbox", "Settings…", "Set up backend environment…", "Backend status…"]
    assert [name for name, _ in iface.menu] == ["&MapSynth"] * 4 and len(iface.toolbar) == 1
    assert gui_plugin.provider is None  # the session's provider already holds the id
    gui_plugin.unload()
    assert iface.menu == [] and iface.toolbar == [] and gui_plugin.actions == []
    # unloading the second instance left the first instance's algorithms alone
    assert QgsApplication.processingRegistry().algorithmById("mapsynth:create_patch_grid") is not None
