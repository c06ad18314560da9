"""The JSON-lines protocol spoken on stdout, and the console reporter used by humans.

Every event is one line: ``{"v": 1, "type": "progress" | "log" | "metric" | "result" | "error", ...}``.
stdout belongs to the protocol: :func:`protocol_stream` takes the real stdout for events and points file
descriptor 1 at stderr, so a library that prints cannot corrupt the stream. Cancellation is requested by the
client creating a file named ``cancel`` in the job directory; long loops call :meth:`Reporter.check_cancel`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from ..contract import CANCEL_FILE, EVENT_TYPES, LOG_LEVELS, PROTOCOL_VERSION, UserError
from .jsonsafe import dumps

__all__ = ["CANCEL_FILE", "PROTOCOL_VERSION", "Cancelled", "Reporter", "UserError"]

logger = logging.getLogger("mapsynth_backend")


class Cancelled(Exception):
    """The client asked the job to stop; finished outputs stay valid (exit code 130)."""


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Reporter:
    """Where a command reports progress, logs, metrics and its result."""

    def __init__(self, cancel_path: Path | None = None, min_interval: float = 0.1) -> None:
        self._cancel_path = cancel_path
        self._min_interval = min_interval
        self._last_progress = (-1.0, 0.0)

    def check_cancel(self) -> None:
        if self._cancel_path is not None and self._cancel_path.exists():
            raise Cancelled("cancel requested by the client")

    def progress(self, fraction: float, msg: str = "", stage: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        last, when = self._last_progress
        now = time.monotonic()
        if fraction in (0.0, 1.0) or fraction - last >= 0.01 or now - when >= self._min_interval:
            self._last_progress = (fraction, now)
            self._progress(fraction, msg, stage)

    def log(self, msg: str, level: str = "info") -> None:
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}")
        getattr(logger, level)(msg)
        self._log(msg, level)

    def metric(self, name: str, value: float, step: int | None = None) -> None:
        logger.info("metric %s=%s step=%s", name, value, step)
        self._metric(name, _finite(float(value)), step)

    def result(self, outputs: dict[str, Any]) -> None:
        self._result(outputs)

    def error(self, message: str) -> None:
        self._error(" ".join(str(message).split()))  # always one line

    # Implemented by the concrete reporters.
    def _progress(self, fraction: float, msg: str, stage: str) -> None: ...
    def _log(self, msg: str, level: str) -> None: ...
    def _metric(self, name: str, value: float | None, step: int | None) -> None: ...
    def _result(self, outputs: dict[str, Any]) -> None: ...
    def _error(self, message: str) -> None: ...

    def close(self) -> None: ...


class JsonLinesReporter(Reporter):
    """Machine mode (``--job``): one JSON event per line on the protocol stream."""

    def __init__(self, stream: IO[str], cancel_path: Path | None) -> None:
        super().__init__(cancel_path)
        self._stream = stream

    def emit(self, type_: str, **fields: Any) -> None:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
        line = dumps({"v": PROTOCOL_VERSION, "type": type_, **fields}, ensure_ascii=True, default=str)
        self._stream.write(line + "\n")
        self._stream.flush()

    def _progress(self, fraction: float, msg: str, stage: str) -> None:
        self.emit("progress", value=round(fraction, 6), msg=msg, stage=stage)

    def _log(self, msg: str, level: str) -> None:
        self.emit("log", level=level, msg=msg)

    def _metric(self, name: str, value: float | None, step: int | None) -> None:
        self.emit("metric", name=name, value=value, step=step)

    def _result(self, outputs: dict[str, Any]) -> None:
        self.emit("result", outputs=outputs)

    def _error(self, message: str) -> None:
        self.emit("error", message=message)


class ConsoleReporter(Reporter):
    """Human mode: a tqdm bar and messages on stderr, the result on stdout (JSON with ``--json``)."""

    def __init__(self, json_result: bool) -> None:
        super().__init__(None)
        self._json_result = json_result
        self._bar = None

    def _progress(self, fraction: float, msg: str, stage: str) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=1000, file=sys.stderr, leave=False, bar_format="{l_bar}{bar}| {elapsed}")
        self._bar.n = int(fraction * 1000)
        self._bar.set_description_str(stage or msg or "", refresh=False)
        self._bar.refresh()

    def _log(self, msg: str, level: str) -> None:
        if level != "debug":
            self._write_err(f"{level}: {msg}" if level != "info" else msg)

    def _metric(self, name: str, value: float | None, step: int | None) -> None:
        self._write_err(f"{name} = {value}" + (f" (step {step})" if step is not None else ""))

    def _result(self, outputs: dict[str, Any]) -> None:
        self.close()
        if self._json_result:
            print(json.dumps(outputs, indent=2, default=str))
        else:
            for key, value in outputs.items():
                print(f"{key}: {json.dumps(value, default=str) if isinstance(value, dict | list) else value}")

    def _error(self, message: str) -> None:
        self.close()
        self._write_err(f"error: {message}")

    def _write_err(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def protocol_stream() -> IO[str]:
    """Reserve the real stdout for protocol events and send everything else printed to stderr."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", encoding="ascii", buffering=1)
