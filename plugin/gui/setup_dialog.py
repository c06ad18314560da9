"""Set up the backend environment: a venv in the cache folder with PyTorch and the plugin's backend, installed
while the output streams into the dialog (the UI stays responsive)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QDialog, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QVBoxLayout

from .. import settings
from ..about import PLUGIN_DIR
from ..contract import contract
from ..i18n import tr
from .process_runner import ProcessRunner
from .settings_dialog import describe, doctor_argv

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


TORCH_HELP = (
    "What pip installs for PyTorch (any pip arguments). 'torch' lets pip choose: on Linux that is the CUDA "
    "build (about 2.5 GB, for NVIDIA GPUs); on Windows and macOS the CPU build. For the small CPU-only wheel "
    "(about 200 MB) enter:<br><code>torch --index-url https://download.pytorch.org/whl/cpu</code><br>For a given "
    "CUDA build, e.g. CUDA 12.1:<br><code>torch --index-url https://download.pytorch.org/whl/cu121</code>")


class SetupDialog(QDialog):
    def __init__(self, parent=None, steps: list[list[str]] | None = None, venv: Path | None = None,
                 check_existing: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Set up the MapSynth backend"))
        self.resize(720, 480)
        self.venv = venv or settings.cache_dir() / "venv"
        layout = QVBoxLayout(self)
        self.found = QLabel("")
        self.found.setWordWrap(True)
        layout.addWidget(self.found)
        intro = QLabel(tr("Start creates {v} and installs PyTorch and the MapSynth backend into it (a few GB, "
                          "several minutes); the output appears below.").format(v=self.venv))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(QLabel(tr("PyTorch")))
        self.torch = QLineEdit(DEFAULT_TORCH)
        row.addWidget(self.torch)
        layout.addLayout(row)
        help_label = QLabel(tr(TORCH_HELP))
        help_label.setWordWrap(True)
        help_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(help_label)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        layout.addWidget(self.output)
        self.status = QLabel("")
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        buttons.addStretch()
        self.start_button = QPushButton(tr("Start"))
        self.cancel_button = QPushButton(tr("Close"))
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.fixed_steps = steps
        self.runner: ProcessRunner | None = None
        self.checker: ProcessRunner | None = None
        self.succeeded: bool | None = None
        self.existing: bool | None = None  # a working backend was found (None: not known yet)
        self._set_default(self.start_button)
        if check_existing:
            self.check_existing()

    def _set_default(self, button: QPushButton) -> None:
        for candidate in (self.start_button, self.cancel_button):
            candidate.setAutoDefault(candidate is button)
            candidate.setDefault(candidate is button)

    def check_existing(self) -> None:
        """Ask the configured backend (without blocking the UI) whether it already works."""
        self.check_python, self.check_source = settings.backend_python()
        self.check_lines: list[str] = []
        self.found.setText(tr("Looking for an existing backend ({p})…").format(p=self.check_python))
        if not self.check_python.is_file():
            self._checked(False)
            return
        self.checker = ProcessRunner([doctor_argv(str(self.check_python), "setup-check.log")], self,
                                     merge_stderr=False)
        self.checker.line.connect(self.check_lines.append)
        self.checker.finished.connect(self._checked)
        self.checker.start()

    def _checked(self, _ok: bool) -> None:
        python, source = self.check_python, self.check_source
        try:
            report = json.loads("\n".join(line for line in self.check_lines if not line.startswith("$ ")))
        except ValueError:
            report = None
        ok, message = describe(report, str(python))
        self.existing = ok
        if ok:
            self.found.setText(tr("<b>A working backend is already set up:</b> {m} at {p} (from {s}). You only need "
                                  "this to reinstall it or to switch the PyTorch build.").format(
                m=message, p=python, s=source))
            self._set_default(self.cancel_button)
        else:
            self.found.setText(tr("No working backend found at {p} (from {s}). Start sets one up.").format(
                p=python, s=source))
            self._set_default(self.start_button)

    def start(self) -> None:
        steps = self.fixed_steps or setup_steps(base_python(), self.venv, self.torch.text().strip() or DEFAULT_TORCH)
        self.output.clear()
        self.start_button.setEnabled(False)
        self.cancel_button.setText(tr("Cancel"))
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
        self.cancel_button.setText(tr("Close"))
        if ok and self.fixed_steps is None:
            settings.set_value(settings.KEY_BACKEND_PYTHON, str(settings.venv_python(self.venv)))
        self.status.setText(tr("Done: the backend is ready.") if ok else tr("Failed or cancelled; see the output."))
