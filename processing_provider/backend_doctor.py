"""mapsynth:backend_doctor — what the backend environment can do, through the real job protocol."""

import json
from pathlib import Path

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterFileDestination,
)

from ..plugin import settings
from ..plugin.backend_client import BackendProcess, resolve_python
from ..plugin.contract import contract
from .base import MapSynthAlgorithm, helped


class BackendDoctor(MapSynthAlgorithm):
    OUTPUT = "OUTPUT"
    REPORT = "REPORT"
    TORCH = "TORCH"
    group_id = "setup"

    def name(self) -> str:
        return "backend_doctor"

    def displayName(self) -> str:  # noqa: N802 - QGIS API name
        return self.tr("Backend doctor")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return self.help_html(self.tr(
            "Runs the MapSynth backend's doctor command through the job protocol and reports the protocol "
            "and backend versions, the Python, the torch build (for example +cpu or +cu124), CUDA availability "
            "and GPUs with their memory, and the versions of diffusers, transformers, accelerate and rasterio.\n\n"
            "The backend is found through the environment variable MAPSYNTH_BACKEND_PYTHON, the plugin "
            "setting mapsynth/backend_python (MapSynth Settings), the plugin folder's .venv-backend, or the "
            "per-user cache environment, in that order."))

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        self.addParameter(helped(QgsProcessingParameterFileDestination(
            self.OUTPUT, self.tr("Doctor report (JSON)"), self.tr("JSON files (*.json)"), optional=True,
            createByDefault=False), "optional copy of the report as a JSON file"))
        self.addOutput(QgsProcessingOutputString(self.REPORT, self.tr("Doctor report")))
        self.addOutput(QgsProcessingOutputString(self.TORCH, self.tr("torch version and build")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 - QGIS API name
        python = resolve_python()
        feedback.pushInfo(self.tr("Backend Python: {python} (from {source})").format(
            python=python, source=settings.backend_python()[1]))
        report = BackendProcess("doctor", {"brief": False}, python=python).run(feedback)
        problem = contract.handshake_problem(report)
        if problem:
            raise QgsProcessingException(self.tr("Backend: {problem}").format(problem=problem))
        torch = report.get("torch", {})
        if torch.get("installed"):
            torch_text = f"{torch['version']} (build {torch['build']})"
            feedback.pushInfo(self.tr("torch {t}; CUDA available: {cuda}").format(
                t=torch_text, cuda=torch["cuda_available"]))
            for device in torch.get("devices", []):
                feedback.pushInfo(f"  GPU {device['index']}: {device['name']}, {device['total_memory_gib']} GiB")
        else:
            torch_text = self.tr("not installed")
        for name, version in report.get("packages", {}).items():
            feedback.pushInfo(f"  {name}: {version or self.tr('missing')}")
        for problem in report.get("problems", []):
            feedback.pushWarning(problem)
        text = json.dumps(report, indent=2)
        outputs = {self.REPORT: text, self.TORCH: torch_text}
        destination = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if destination:
            Path(destination).write_text(text, encoding="utf-8")
            outputs[self.OUTPUT] = destination
        return outputs
