"""Settings: backend Python, device and cache folder, with a check that the backend really answers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import settings
from ..backend_client import clean_env
from ..contract import contract
from ..i18n import tr


def doctor_argv(python: str, log_name: str) -> list[str]:
    return contract.handshake_argv(python, settings.cache_dir() / "logs" / log_name)


def describe(report: dict | None, python: str) -> tuple[bool, str]:
    """(ok, one-line message) for the answer of ``doctor --brief --json`` (None: no answer)."""
    if report is None:
        return False, tr("{p} does not run the MapSynth backend (is it installed in that environment?)").format(
            p=python)
    problem = contract.handshake_problem(report)
    if problem:
        return False, problem
    return True, tr("MapSynth backend {v} (Python {py})").format(v=report.get("backend_version"),
                                                                 py=report.get("python", {}).get("version"))


def check_backend(python: str) -> tuple[bool, str]:
    """(ok, one-line message) for a candidate backend interpreter."""
    if not python or not Path(python).is_file():
        return False, tr("No such file: {p}").format(p=python)
    try:
        # B603 accepted: no shell; running the interpreter the user typed is this check's purpose
        done = subprocess.run(doctor_argv(python, "settings-check.log"), capture_output=True,  # nosec B603
                              text=True, timeout=60, env=clean_env(), check=False)
        report = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        report = None
    return describe(report, python)


def _with_note(field: QWidget, text: str) -> QWidget:
    """The field with a short explanation in smaller type right below it."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 6)
    column.setSpacing(2)
    column.addWidget(field)
    note = QLabel(text)
    note.setWordWrap(True)
    font = note.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    note.setFont(font)
    column.addWidget(note)
    return box


class SettingsDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("MapSynth settings"))
        self.setMinimumWidth(680)  # paths such as ~/.cache/mapsynth/venv/bin/python stay readable
        outer = QVBoxLayout(self)
        layout = QFormLayout()
        outer.addLayout(layout)
        self.python = QLineEdit(settings.value(settings.KEY_BACKEND_PYTHON) or str(settings.backend_python()[0]))
        self.cache = QLineEdit(settings.value(settings.KEY_CACHE_DIR) or str(settings.cache_dir()))
        self.device = QComboBox()
        self.device.addItems(settings.DEVICES)
        self.device.setCurrentText(settings.value(settings.KEY_DEVICE, "auto") or "auto")
        layout.addRow(tr("Backend Python"), _with_note(self._with_browse(self.python, folder=False), tr(
            "The Python of the environment where the MapSynth backend and PyTorch are installed ('Set up backend "
            "environment' creates one). The environment variable {env} overrides it.").format(
            env=settings.ENV_BACKEND_PYTHON)))
        layout.addRow(tr("Device"), _with_note(self.device, tr(
            "Where training and generation run: auto takes a CUDA GPU when the backend sees one, else the CPU.")))
        layout.addRow(tr("Cache folder"), _with_note(self._with_browse(self.cache, folder=True), tr(
            "Backend environment, job folders and logs; outside the plugin folder so that plugin updates keep it.")))
        self.check_button = QPushButton(tr("Check backend"))
        self.check_button.clicked.connect(self.check)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addRow(self.check_button, self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)

    def _with_browse(self, edit: QLineEdit, folder: bool) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit)
        button = QPushButton("…")
        button.setFixedWidth(32)
        button.setToolTip(tr("Choose a folder") if folder else tr("Choose the backend Python"))

        def browse() -> None:
            chosen = (QFileDialog.getExistingDirectory(self, tr("Choose a folder"), edit.text()) if folder else
                      QFileDialog.getOpenFileName(self, tr("Choose the backend Python"), edit.text())[0])
            if chosen:
                edit.setText(chosen)

        button.clicked.connect(browse)
        row.addWidget(button)
        return box

    def check(self) -> bool:
        ok, message = check_backend(self.python.text().strip())
        self.status.setText(("✔ " if ok else "✘ ") + message)
        return ok

    def accept(self) -> None:
        cache = self.cache.text().strip()
        if cache and not Path(cache).parent.exists():
            self.status.setText("✘ " + tr("The cache folder's parent does not exist: {p}").format(p=cache))
            return
        if self.python.text().strip() and not self.check():
            return
        settings.set_value(settings.KEY_BACKEND_PYTHON, self.python.text().strip())
        settings.set_value(settings.KEY_DEVICE, self.device.currentText())
        settings.set_value(settings.KEY_CACHE_DIR, cache)
        super().accept()
