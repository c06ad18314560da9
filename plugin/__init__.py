"""QGIS-side glue: settings, logging, translation, the backend client and the patch-grid module."""
