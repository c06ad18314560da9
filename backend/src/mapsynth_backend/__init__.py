"""MapSynth backend: the heavy half of MapSynth, driven by the QGIS plugin or used on its own.

Importing this package must stay cheap and must never import QGIS: heavy libraries are imported inside the
commands that need them.
"""

__version__ = "0.1.0"
