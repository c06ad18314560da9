"""Set up the backend environment: a venv in the cache folder with PyTorch and the plugin's backend, installed
while the output streams into the dialog (the UI stays responsive)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from qgis.PyQt.QtWidgets import QDialog, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QVBoxLayout

from .. import settings
from ..about import PLUGIN_DIR
from ..contract import contract
from ..i18n import tr
from .process_runner import ProcessRunner

DEFAULT_TORCH = "torch"  # pip picks the build for this machine; e.g. torch==2.13.0 for the local CPU wheel


def base_python() -> str:
    """A Python to create the venv with (QGIS's own executable is QGIS itself on Windows and macOS)."""
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found:
            return found
    return sys.executable


def setup_steps(python: str, venv: Path, torch_spec: str, backend: Path = PLUGIN_DIR / "backend") -> list[list[str]]:
    target = settings.venv_python(venv)
    return [[python, "-m", "venv", str(venv)],
            [str(target), "-m", "pip", "install", "--upgrade", "pip"],
            [str(target), "-m", "pip", "install", *torch_spec.split()],
            [str(target), "-m", "pip", "install", str(backend)],
            contract.backend_argv(target, "doctor")]


class SetupDialog(QDialog):
    def __init__(self, parent=None, steps: list[list[str]] | None = None, venv: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Set up the MapSynth backend"))
        self.venv = venv or settings.cache_dir() / "venv"
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(tr("Creates {v} and installs PyTorch and the MapSynth backend into it (a few GB).")
                                .format(v=self.venv)))
        row = QHBoxLayout()
        row.addWidget(QLabel(tr("PyTorch")))
        self.torch = QLineEdit(DEFAULT_TORCH)
        row.addWidget(self.torch)
        layout.addLayout(row)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        layout.addWidget(self.output)
        self.status = QLabel("")
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.start_button = QPushButton(tr("Start"))
        self.cancel_button = QPushButton(tr("Cancel"))
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.fixed_steps = steps
        self.runner: ProcessRunner | None = None
        self.succeeded: bool | None = None

    def start(self) -> None:
        steps = self.fixed_steps or setup_steps(base_python(), self.venv, self.torch.text().strip() or DEFAULT_TORCH)
        self.output.clear()
        self.start_button.setEnabled(False)
        self.status.setText(tr("Installing…"))
        self.runner = ProcessRunner(steps, self)
        self.runner.line.connect(self.output.appendPlainText)
        self.runner.finished.connect(self._finished)
        self.runner.start()

    def cancel(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.cancel()
        else:
            self.reject()

    def _finished(self, ok: bool) -> None:
        self.succeeded = ok
        self.start_button.setEnabled(True)
        if ok and self.fixed_steps is None:
            settings.set_value(settings.KEY_BACKEND_PYTHON, str(settings.venv_python(self.venv)))
        self.status.setText(tr("Done: the backend is ready.") if ok else tr("Failed or cancelled; see the output."))
