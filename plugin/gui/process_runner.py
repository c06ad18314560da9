"""Run a sequence of commands with QProcess, streaming their output line by line without blocking the UI."""

from __future__ import annotations

from qgis.PyQt.QtCore import QObject, QProcess, QProcessEnvironment, pyqtSignal

from ..backend_client import clean_env


class ProcessRunner(QObject):
    """Runs ``steps`` (argv lists) one after the other; stops at the first failure or on cancel."""

    line = pyqtSignal(str)
    finished = pyqtSignal(bool)  # True when every step exited 0

    def __init__(self, steps: list[list[str]], parent=None, merge_stderr: bool = True) -> None:
        super().__init__(parent)
        self.steps = list(steps)
        self.merge_stderr = merge_stderr
        self.process: QProcess | None = None
        self.index = -1
        self.running = False

    def start(self) -> None:
        self.running = True
        self.index = -1
        self._next(0, QProcess.NormalExit)

    def cancel(self) -> None:
        if self.process is not None and self.process.state() != QProcess.NotRunning:
            self.steps = []
            self.process.kill()

    def _next(self, code: int, status) -> None:
        if self.index >= 0:
            self._drain()
            if code != 0 or status != QProcess.NormalExit:
                self.line.emit(f"[exit code {code}]")
                self._done(False)
                return
        self.index += 1
        if self.index >= len(self.steps):
            self._done(bool(self.steps))
            return
        argv = self.steps[self.index]
        self.line.emit("$ " + " ".join(argv))
        self.process = QProcess(self)
        environment = QProcessEnvironment()
        for key, value in clean_env().items():
            environment.insert(key, value)
        self.process.setProcessEnvironment(environment)
        self.process.setProcessChannelMode(QProcess.MergedChannels if self.merge_stderr
                                           else QProcess.ForwardedErrorChannel)
        self.process.readyReadStandardOutput.connect(self._drain)
        self.process.finished.connect(self._next)
        self.process.errorOccurred.connect(self._error)
        self.process.start(argv[0], argv[1:])

    def _error(self, error) -> None:
        if error == QProcess.FailedToStart:
            self.line.emit(f"cannot start {self.steps[self.index][0] if self.steps else ''}")
            self._done(False)

    def _drain(self) -> None:
        if self.process is None:
            return
        data = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        for text in data.splitlines():
            self.line.emit(text)

    def _done(self, ok: bool) -> None:
        if self.running:
            self.running = False
            self.finished.emit(ok)
