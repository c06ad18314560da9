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
            self.provider = MapSynthProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API name
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
