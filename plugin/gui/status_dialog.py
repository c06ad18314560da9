"""Backend status: the doctor's report (protocol, versions, torch build tag, GPUs with memory)."""

from __future__ import annotations

import json

from qgis.PyQt.QtWidgets import QDialog, QLabel, QPlainTextEdit, QVBoxLayout

from .. import settings
from ..contract import contract
from ..i18n import tr
from .process_runner import ProcessRunner


def summary(report: dict) -> str:
    torch = report.get("torch", {})
    lines = [tr("Backend {b}, protocol {p}, Python {py}").format(b=report.get("backend_version"),
                                                                 p=report.get("protocol_version"),
                                                                 py=report.get("python", {}).get("version"))]
    if torch.get("installed"):
        lines.append(tr("torch {v} (build {b}), CUDA available: {c}").format(v=torch["version"], b=torch["build"],
                                                                               c=torch["cuda_available"]))
        lines += [tr("GPU {i}: {n}, {m} GiB").format(i=d["index"], n=d["name"], m=d["total_memory_gib"])
                  for d in torch.get("devices", [])] or [tr("No GPU visible to the backend")]
    else:
        lines.append(tr("torch is not installed in the backend environment"))
    lines += [tr("Problem: {p}").format(p=p) for p in report.get("problems", [])]
    return "\n".join(lines)


class StatusDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("MapSynth backend status"))
        layout = QVBoxLayout(self)
        self.summary = QLabel(tr("Asking the backend…"))
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        layout.addWidget(self.raw)
        self.report: dict | None = None
        self.done = False
        python, source = settings.backend_python()
        self.lines: list[str] = []
        self.runner = ProcessRunner([contract.backend_argv(python, "doctor", "--json", "--log-file",
                                                          str(settings.cache_dir() / "logs" / "status.log"))], self,
                                   merge_stderr=False)
        self.runner.line.connect(self.lines.append)
        self.runner.finished.connect(self._finished)
        self.source = source

    def refresh(self) -> None:
        self.lines.clear()
        self.done = False
        self.runner.start()

    def _finished(self, ok: bool) -> None:
        text = "\n".join(line for line in self.lines if not line.startswith("$ "))
        try:
            self.report = json.loads(text)
        except ValueError:
            self.report = None
        if self.report is None:
            self.summary.setText(tr("The backend did not answer ({s}). Use 'Set up backend environment'.").format(
                s=self.source))
        else:
            self.summary.setText(summary(self.report))
        self.raw.setPlainText(text)
        self.done = True
