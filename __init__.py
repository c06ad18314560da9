"""MapSynth QGIS plugin entry point: nothing heavy at import time, no sys.path changes."""


def classFactory(iface):  # noqa: N802 - QGIS API name
    from .plugin.main import MapSynthPlugin

    return MapSynthPlugin(iface)
