"""The "mapsynth" logger, shown in the QGIS message log under the MapSynth tab."""

import logging

from qgis.core import Qgis, QgsMessageLog

LOGGER_NAME = "mapsynth"
_LEVELS = ((logging.ERROR, Qgis.Critical), (logging.WARNING, Qgis.Warning), (logging.NOTSET, Qgis.Info))


class MessageLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = next(qgis_level for py_level, qgis_level in _LEVELS if record.levelno >= py_level)
        QgsMessageLog.logMessage(self.format(record), "MapSynth", level)


def get_logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, MessageLogHandler) for h in logger.handlers):
        handler = MessageLogHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger
