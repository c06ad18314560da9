"""BackendProcess: run one backend command as a subprocess and map its JSON lines onto Processing feedback.

The child is ``<backend python> -I -m mapsynth_backend <command> --job job.json``, started without a shell,
with a cleaned environment, cwd = the job directory and stderr in ``<job dir>/backend.log``. Cancel asks
(``cancel`` file), then terminates, then kills; the child is gone within 2 s.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from qgis.core import QgsProcessingException, QgsProcessingFeedback

from . import settings
from .contract import contract
from .i18n import tr
from .log import get_logger

PROTOCOL_VERSION, CANCEL_FILE = contract.PROTOCOL_VERSION, contract.CANCEL_FILE
ASK_GRACE_S, TERM_GRACE_S = 0.5, 0.7
# QGIS and OSGeo4W set these for their own Python, GDAL and PROJ; they must not leak into the backend.
_POISON_PREFIXES = ("PYTHON", "QGIS_", "GDAL_", "PROJ_", "VIRTUAL_ENV", "CONDA_PREFIX", "QT_", "SIP_")
_POISON_NAMES = {"PROJ_LIB", "PROJ_DATA", "GDAL_DATA", "GDAL_DRIVER_PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"}
_compatible: set[str] = set()


def backend_error(message: str) -> QgsProcessingException:
    """The exception for a backend failure the user can act on. A function, not a subclass: QGIS prints a Python
    subclass of QgsProcessingException with a traceback (it crosses SIP as a generic Python exception), so errors
    meant for the user must be exactly this class."""
    return QgsProcessingException(message)


def clean_env() -> dict[str, str]:
    env = {
        key: val for key, val in os.environ.items()
        if not key.startswith(_POISON_PREFIXES) and key not in _POISON_NAMES
    }
    env["PYTHONIOENCODING"] = "utf-8"  # ignored under -I, kept for tools the backend may spawn
    return env


def new_job_dir(command: str, root: Path | None = None) -> Path:
    root = root or settings.cache_dir() / "jobs"
    job_dir = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{command}-{uuid.uuid4().hex[:8]}"
    job_dir.mkdir(parents=True, exist_ok=False)
    return job_dir


def resolve_python() -> Path:
    python, source = settings.backend_python()
    if not python.is_file():
        raise backend_error(tr(
            "MapSynth backend not found: {python} (from {source}) does not exist. Run 'make setup' in the"
            " plugin folder, or set {env} to the Python of an environment where the backend is installed."
        ).format(python=python, source=source, env=settings.ENV_BACKEND_PYTHON))
    return python


def _popen_kwargs() -> dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def check_protocol(python: Path) -> None:
    """Handshake through ``doctor --brief``: refuse a backend speaking another protocol version."""
    if str(python) in _compatible:
        return
    log_file = settings.cache_dir() / "logs" / "handshake.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    argv = contract.handshake_argv(python, log_file)
    try:
        # B603 accepted: argv is a list (no shell), the interpreter is the backend the user configured
        done = subprocess.run(argv, capture_output=True, timeout=120, env=clean_env(), check=False,  # nosec B603
                              **_popen_kwargs())
        report = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        raise backend_error(tr(
            "MapSynth backend at {python} does not answer 'doctor' ({error}); is the backend installed there?"
            " Log: {log}"
        ).format(python=python, error=exc, log=log_file)) from exc
    problem = contract.handshake_problem(report)
    if problem:
        raise backend_error(tr("MapSynth backend at {python}: {problem}").format(python=python, problem=problem))
    _compatible.add(str(python))


def _summary(outputs: dict[str, Any]) -> str:
    """The result's scalar values and paths on one line, for the job summary in the Log Messages panel."""
    items = [f"{key}={value}" for key, value in outputs.items() if isinstance(value, (str, int, float, bool))]
    return ", ".join(items)[:500] or "no outputs"


class BackendProcess:
    """One backend job: write job.json, launch, stream events to feedback, return the result outputs."""

    def __init__(self, command: str, params: dict[str, Any], job_dir: Path | None = None,
                 python: Path | None = None) -> None:
        self.command = command
        self.params = params
        self.job_dir = Path(job_dir) if job_dir else new_job_dir(command)
        self.job_dir.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.log_path = self.job_dir / "backend.log"
        self.metrics: list[dict[str, Any]] = []
        self.pid: int | None = None
        self.cancelled = False  # set when run() raised because the user cancelled
        self._outputs: dict[str, Any] | None = None
        self._error: str | None = None

    def run(self, feedback: QgsProcessingFeedback | None = None) -> dict[str, Any]:
        feedback = feedback or QgsProcessingFeedback()
        python = self.python or resolve_python()
        if self.command != "doctor":
            check_protocol(python)
        job = {"v": PROTOCOL_VERSION, "command": self.command, "params": self.params}
        (self.job_dir / "job.json").write_text(json.dumps(job, indent=2), encoding="utf-8")
        argv = contract.backend_argv(python, self.command, "--job", "job.json")
        get_logger().info("backend job %s: %s", self.job_dir, " ".join(argv))
        self._started = time.monotonic()
        with open(self.log_path, "ab") as log:
            try:
                # B603 accepted: argv is a list (no shell), the configured backend and fixed arguments
                proc = subprocess.Popen(argv, cwd=self.job_dir, stdin=subprocess.DEVNULL,  # nosec B603
                                        stdout=subprocess.PIPE,
                                        stderr=log, env=clean_env(), **_popen_kwargs())
            except OSError as exc:
                raise backend_error(tr("Cannot start the MapSynth backend {python}: {error}").format(
                    python=python, error=exc)) from exc
        self.pid = proc.pid
        try:
            cancelled = self._pump(proc, feedback)
        finally:
            if proc.poll() is None:
                self._stop(proc)
            proc.stdout.close()
        try:
            outputs = self._finish(proc.returncode, cancelled)
        except QgsProcessingException as exc:
            log = get_logger().info if self.cancelled else get_logger().error
            log("%s %s after %.1f s: %s", self.command, "cancelled" if self.cancelled else "failed",
                time.monotonic() - self._started, str(exc))
            raise
        get_logger().info("%s finished in %.1f s: %s (log: %s)", self.command, time.monotonic() - self._started,
                          _summary(outputs), self.log_path)
        return outputs

    def _pump(self, proc: subprocess.Popen, feedback: QgsProcessingFeedback) -> bool:
        lines: queue.Queue = queue.Queue()

        def read() -> None:
            for raw in proc.stdout:
                lines.put(raw)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        eof = False
        while True:
            if feedback.isCanceled():
                self._stop(proc)
                return True
            if eof:
                if proc.poll() is not None:
                    return False
                time.sleep(0.05)
                continue
            try:
                raw = lines.get(timeout=0.05)
            except queue.Empty:
                continue
            if raw is None:
                eof = True
            else:
                self._handle(raw, feedback)

    def _handle(self, raw: bytes, feedback: QgsProcessingFeedback) -> None:
        text = raw.decode("utf-8", "replace").strip()
        try:
            event = json.loads(text)
            kind = event["type"]
            if event.get("v") != PROTOCOL_VERSION:
                raise ValueError("protocol version")
        except (ValueError, KeyError, TypeError):
            feedback.pushConsoleInfo(text)
            return
        if kind == "progress":
            feedback.setProgress(100.0 * float(event.get("value", 0.0)))
            if event.get("msg"):
                feedback.setProgressText(event["msg"])
        elif kind == "log":
            level, msg = event.get("level", "info"), str(event.get("msg", ""))
            if level == "warning":
                feedback.pushWarning(msg)
                get_logger().warning("%s: %s", self.command, msg)
            elif level == "error":
                feedback.reportError(msg, False)
                get_logger().error("%s: %s", self.command, msg)
            elif level == "debug":
                feedback.pushDebugInfo(msg)
            else:
                feedback.pushInfo(msg)
        elif kind == "metric":
            self.metrics.append(event)
            step = "" if event.get("step") is None else f" (step {event['step']})"
            feedback.pushInfo(f"{event.get('name')} = {event.get('value')}{step}")
        elif kind == "result":
            self._outputs = event.get("outputs", {})
        elif kind == "error":
            self._error = str(event.get("message", ""))

    def _signal(self, proc: subprocess.Popen, sig: int) -> None:
        try:
            if sys.platform == "win32":
                proc.kill() if sig == getattr(signal, "SIGKILL", None) else proc.terminate()
            else:
                os.killpg(proc.pid, sig)  # the whole group: data-loader workers go too
        except (ProcessLookupError, PermissionError):
            pass

    def _stop(self, proc: subprocess.Popen) -> None:
        """Ask, then terminate, then kill: the child and its group are gone well within 2 s."""
        (self.job_dir / CANCEL_FILE).touch()
        for sig, grace in ((None, ASK_GRACE_S), (signal.SIGTERM, TERM_GRACE_S), (getattr(signal, "SIGKILL", 9), 5)):
            if sig is not None:
                self._signal(proc, sig)
            try:
                proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def _finish(self, rc: int, cancelled: bool) -> dict[str, Any]:
        log = self.log_path
        if cancelled:
            self.cancelled = True
            raise QgsProcessingException(tr("Cancelled: backend job '{command}' was stopped. Log: {log}").format(
                command=self.command, log=log))
        if rc in (-9, 137):
            raise backend_error(tr(
                "Backend job '{command}' was killed by the operating system (out of memory?). Try a smaller"
                " BATCH_SIZE or area. Log: {log}").format(command=self.command, log=log))
        if rc != 0:
            message = self._error or tr("exited with code {rc} without a message").format(rc=rc)
            raise backend_error(tr("{message} (backend job '{command}', log: {log})").format(
                message=message, command=self.command, log=log))
        if self._outputs is None:
            raise backend_error(tr("Backend job '{command}' finished without a result. Log: {log}").format(
                command=self.command, log=log))
        return self._outputs
