"""Backend status: the doctor's report as a readable table (where the backend was found, versions, PyTorch build,
GPUs with memory, problems) with Refresh and Close; the doctor runs in a QProcess so the dialog stays responsive."""

from __future__ import annotations

import json

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from .. import settings
from ..contract import contract
from ..i18n import tr
from .process_runner import ProcessRunner


def rows(report: dict, python: str, source: str) -> list[tuple[str, str]]:
    """(item, value) rows of the table for a doctor report."""
    torch = report.get("torch", {})
    table = [(tr("Backend Python"), python), (tr("Found through"), source),
             (tr("Backend version"), str(report.get("backend_version"))),
             (tr("Protocol version"), str(report.get("protocol_version"))),
             (tr("Python version"), str(report.get("python", {}).get("version")))]
    if torch.get("installed"):
        table += [(tr("PyTorch"), tr("{v} (build {b})").format(v=torch.get("version"), b=torch.get("build"))),
                  (tr("CUDA available"), tr("yes") if torch.get("cuda_available") else tr("no"))]
        devices = torch.get("devices", [])
        table += [(tr("GPU {i}").format(i=d["index"]), tr("{n}, {m} GiB").format(n=d["name"], m=d["total_memory_gib"]))
                  for d in devices] or [(tr("GPUs"), tr("none visible to the backend (runs on the CPU)"))]
    else:
        table.append((tr("PyTorch"), tr("not installed in the backend environment")))
    packages = report.get("packages", {})
    for name in ("diffusers", "transformers", "rasterio", "numpy"):
        if packages.get(name):
            table.append((name, str(packages[name])))
    table += [(tr("Problem"), str(p)) for p in report.get("problems", [])]
    return table


def summary(report: dict) -> str:
    """One line for the dialog's headline."""
    torch = report.get("torch", {})
    if not torch.get("installed"):
        return tr("The backend answers, but PyTorch is missing: use 'Set up backend environment'.")
    devices = torch.get("devices", [])
    where = tr("{n} GPU(s)").format(n=len(devices)) if devices else tr("CPU only (no GPU visible)")
    return tr("MapSynth backend {b} is ready: torch {v} (build {t}), {w}.").format(
        b=report.get("backend_version"), v=torch.get("version"), t=torch.get("build"), w=where)


class StatusDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("MapSynth backend status"))
        self.resize(640, 420)
        layout = QVBoxLayout(self)
        self.summary = QLabel(tr("Asking the backend…"))
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels([tr("Item"), tr("Value")])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setWordWrap(True)
        layout.addWidget(self.table)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.refresh_button = self.buttons.addButton(tr("Refresh"), QDialogButtonBox.ActionRole)
        self.refresh_button.clicked.connect(self.refresh)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.report: dict | None = None
        self.done = False
        self.lines: list[str] = []
        self.runner: ProcessRunner | None = None

    def refresh(self) -> None:
        if self.runner is not None and self.runner.running:
            return
        self.lines.clear()
        self.done = False
        self.refresh_button.setEnabled(False)
        self.summary.setText(tr("Asking the backend…"))
        self.python, self.source = settings.backend_python()
        argv = contract.backend_argv(self.python, "doctor", "--json", "--log-file",
                                     str(settings.cache_dir() / "logs" / "status.log"))
        self.runner = ProcessRunner([argv], self, merge_stderr=False)
        self.runner.line.connect(self.lines.append)
        self.runner.finished.connect(self._finished)
        self.runner.start()

    def _finished(self, ok: bool) -> None:
        text = "\n".join(line for line in self.lines if not line.startswith("$ "))
        try:
            self.report = json.loads(text)
        except ValueError:
            self.report = None
        if self.report is None:
            self.summary.setText(tr("The backend at {p} (from {s}) did not answer. Use 'Set up backend environment'"
                                    " or choose another Python in Settings.").format(p=self.python, s=self.source))
            self._fill([(tr("Backend Python"), str(self.python)), (tr("Found through"), self.source),
                        (tr("Answer"), text.strip()[-500:] or tr("none"))])
        else:
            self.summary.setText(summary(self.report))
            self._fill(rows(self.report, str(self.python), self.source))
        self.refresh_button.setEnabled(True)
        self.done = True

    def _fill(self, table: list[tuple[str, str]]) -> None:
        self.table.setRowCount(len(table))
        for row, (item, value) in enumerate(table):
            for column, text in enumerate((item, value)):
                cell = QTableWidgetItem(text)
                cell.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                self.table.setItem(row, column, cell)
        self.table.resizeRowsToContents()
