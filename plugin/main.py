"""The plugin object QGIS creates: registers the Processing provider in initProcessing().

qgis_process calls only classFactory() and initProcessing(), never initGui(), so nothing the algorithms need
may live in initGui().
"""

from qgis.core import QgsApplication


class MapSynthPlugin:
    def __init__(self, iface) -> None:
        self.iface = iface  # None under qgis_process
        self.provider = None  # kept referenced: a collected provider makes algorithms "not found"

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API name
        from ..processing_provider.provider import MapSynthProvider

        if self.provider is None:
            provider = MapSynthProvider()
            # keep it only if it was registered: removing ours later must never remove another instance's
            if QgsApplication.processingRegistry().addProvider(provider):
                self.provider = provider

    def initGui(self) -> None:  # noqa: N802 - QGIS API name
        from qgis.PyQt.QtGui import QIcon
        from qgis.PyQt.QtWidgets import QAction

        from .about import ICON_PATH
        from .i18n import tr

        self.initProcessing()
        self.actions = []
        for label, slot in ((tr("MapSynth toolbox"), self.show_toolbox), (tr("Settings…"), self.show_settings),
                            (tr("Set up backend environment…"), self.show_setup),
                            (tr("Backend status…"), self.show_status)):
            action = QAction(QIcon(str(ICON_PATH)), label, self.iface.mainWindow())
            action.triggered.connect(slot)
            self.iface.addPluginToMenu("&MapSynth", action)
            self.actions.append(action)
        self.iface.addToolBarIcon(self.actions[0])

    def show_toolbox(self) -> None:
        """Open the Processing toolbox filtered to MapSynth's algorithms."""
        from qgis.PyQt.QtWidgets import QDockWidget, QLineEdit

        dock = self.iface.mainWindow().findChild(QDockWidget, "ProcessingToolbox")
        if dock is not None:
            dock.setVisible(True)
            dock.raise_()
            search = dock.findChild(QLineEdit)
            if search is not None:
                search.setText("mapsynth")

    def show_settings(self) -> None:
        from .gui.settings_dialog import SettingsDialog

        self.settings_dialog = SettingsDialog(self.iface.mainWindow())  # kept: open() does not block
        self.settings_dialog.open()

    def show_setup(self) -> None:
        from .gui.setup_dialog import SetupDialog

        self.setup_dialog = SetupDialog(self.iface.mainWindow())  # kept: it runs while the user works
        self.setup_dialog.show()

    def show_status(self) -> None:
        from .gui.status_dialog import StatusDialog

        self.status_dialog = StatusDialog(self.iface.mainWindow())
        self.status_dialog.show()
        self.status_dialog.refresh()

    def unload(self) -> None:
        for action in getattr(self, "actions", []):
            self.iface.removePluginMenu("&MapSynth", action)
            self.iface.removeToolBarIcon(action)
        self.actions = []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
