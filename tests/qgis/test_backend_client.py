"""The backend contract through real subprocesses: progress, result, errors, OOM kills and cancel."""

import json
import os
import stat
import threading
import time

import pytest
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback

from .conftest import RecordingFeedback  # noqa: TID252


def client(command, params, tmp_path):
    from mapsynth.plugin.backend_client import BackendProcess

    return BackendProcess(command, params, job_dir=tmp_path / "job dir ü")


def test_progress_metrics_and_result_reach_feedback(plugin, backend_python, tmp_path):
    feedback = RecordingFeedback()
    proc = client("protocol-check", {"seconds": 0.5}, tmp_path)
    outputs = proc.run(feedback)
    assert outputs["steps"] > 0
    assert outputs["cwd"] == str(proc.job_dir)
    assert feedback.progress and feedback.progress[-1] == pytest.approx(100.0)
    assert "protocol check started" in feedback.infos
    assert proc.metrics and proc.metrics[0]["name"] == "elapsed_s"
    assert json.loads((proc.job_dir / "job.json").read_text())["params"] == {"seconds": 0.5}
    assert "stray print from a library" in proc.log_path.read_text()


def test_backend_error_surfaces_its_message_and_log(plugin, backend_python, tmp_path):
    proc = client("protocol-check", {"seconds": 0, "fail": "user-error", "message": "MODEL: missing unet/"}, tmp_path)
    with pytest.raises(QgsProcessingException) as info:
        proc.run()
    text = str(info.value)
    assert type(info.value) is QgsProcessingException  # a subclass would be printed with a traceback by QGIS
    assert text.startswith("MODEL: missing unet/") and str(proc.log_path) in text
    assert "Traceback" not in text and "Traceback" in proc.log_path.read_text()


def test_oom_kill_is_reported_as_such(plugin, backend_python, tmp_path):
    with pytest.raises(QgsProcessingException, match="killed by the operating system"):
        client("protocol-check", {"seconds": 0, "fail": "oom-kill"}, tmp_path).run()


@pytest.mark.parametrize("stubborn", [False, True], ids=["cooperative", "ignores-cancel-and-sigterm"])
def test_cancel_stops_the_child(plugin, backend_python, tmp_path, stubborn):
    """The child would work for 600 s; cancelled once it has started, it is gone (the stubborn one by SIGKILL)
    within a generous 60 s. The escalation's own timing (0.5 s ask, 0.7 s SIGTERM) is not timed on shared cores."""
    feedback = QgsProcessingFeedback()
    proc = client("protocol-check", {"seconds": 600, "ignore_cancel": stubborn, "ignore_sigterm": stubborn},
                  tmp_path)
    cancelled_at = []

    def cancel():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not (proc.job_dir / "backend.log").exists() or "protocol check"
                                               " started" not in (proc.job_dir / "backend.log").read_text()):
            time.sleep(0.05)
        cancelled_at.append(time.monotonic())
        feedback.cancel()

    threading.Thread(target=cancel, daemon=True).start()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        proc.run(feedback)
    assert proc.cancelled
    assert time.monotonic() - cancelled_at[0] < 60
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)


def test_doctor_algorithm_reports_torch_and_writes_json(run_alg, backend_python, tmp_path):
    feedback = RecordingFeedback()
    result = run_alg("backend_doctor", {"OUTPUT": str(tmp_path / "doctor.json")}, feedback)
    report = json.loads(result["REPORT"])
    assert report["protocol_version"] == 1
    assert report["torch"]["version"] in result["TORCH"]
    assert json.loads((tmp_path / "doctor.json").read_text()) == report
    assert any(line.startswith("torch ") for line in feedback.infos)


def test_missing_backend_keeps_algorithms_and_fails_clearly(run_alg, monkeypatch, tmp_path):
    monkeypatch.setenv("MAPSYNTH_BACKEND_PYTHON", str(tmp_path / "no-such-python"))
    registry = QgsApplication.processingRegistry()
    assert registry.algorithmById("mapsynth:backend_doctor") is not None
    with pytest.raises(QgsProcessingException, match="MapSynth backend not found.*MAPSYNTH_BACKEND_PYTHON"):
        run_alg("backend_doctor", {})


def test_incompatible_backend_is_refused_at_the_handshake(plugin, monkeypatch, tmp_path):
    """A foreign executable that answers doctor with another protocol version (an outdated backend)."""
    fake = tmp_path / "old-python"
    fake.write_text('#!/bin/sh\necho \'{"protocol_version": 0, "backend_version": "0.0.1"}\'\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("MAPSYNTH_BACKEND_PYTHON", str(fake))
    with pytest.raises(QgsProcessingException, match="speaks protocol 0, this plugin needs 1"):
        client("protocol-check", {}, tmp_path).run()


def test_clean_env_drops_qgis_and_python_variables(plugin, monkeypatch):
    from mapsynth.plugin.backend_client import clean_env

    for name in ("PYTHONPATH", "PYTHONHOME", "PROJ_LIB", "GDAL_DATA", "QGIS_PREFIX_PATH", "VIRTUAL_ENV"):
        monkeypatch.setenv(name, "/poison")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    env = clean_env()
    assert not {"PYTHONPATH", "PYTHONHOME", "PROJ_LIB", "GDAL_DATA", "QGIS_PREFIX_PATH", "VIRTUAL_ENV"} & set(env)
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["PATH"] == os.environ["PATH"]
