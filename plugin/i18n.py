"""One translation context for the whole plugin (pylupdate and PyQt agree on it; see pitfall 29)."""

from qgis.PyQt.QtCore import QCoreApplication

CONTEXT = "MapSynth"


def tr(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)
