import json
import subprocess

from mapsynth_backend.runtime.protocol import EVENT_TYPES, PROTOCOL_VERSION


def test_every_stdout_line_is_a_versioned_event_and_prints_go_to_the_log(run_job):
    rc, events, log = run_job("protocol-check", {"seconds": 0.4})
    assert rc == 0
    assert events, "no events on stdout"
    assert all(e["v"] == PROTOCOL_VERSION and e["type"] in EVENT_TYPES for e in events)
    types = {e["type"] for e in events}
    assert {"progress", "log", "metric", "result"} <= types
    assert events[-1]["type"] == "result"
    assert events[-1]["outputs"]["steps"] > 0
    progress = [e["value"] for e in events if e["type"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert "stray print from a library" in log


def test_user_error_is_one_line_with_traceback_only_in_the_log(run_job):
    rc, events, log = run_job("protocol-check", {"seconds": 0, "fail": "user-error", "message": "BAD: fix X"})
    assert rc == 1
    assert events[-1] == {"v": 1, "type": "error", "message": "BAD: fix X"}
    assert "Traceback" in log
    assert all("Traceback" not in json.dumps(e) for e in events)


def test_crash_names_the_exception_and_points_to_the_log(run_job):
    rc, events, log = run_job("protocol-check", {"seconds": 0, "fail": "crash", "message": "boom"})
    assert rc == 1
    assert events[-1]["type"] == "error"
    assert "RuntimeError: boom" in events[-1]["message"]
    assert "\n" not in events[-1]["message"]
    assert 'raise RuntimeError(params["message"])' in log


def test_job_file_is_validated(run_job):
    rc, events, _ = run_job("protocol-check", {"seconds": "soon"})
    assert rc == 1 and "SECONDS" in events[-1]["message"]
    rc, events, _ = run_job("protocol-check", {"colour": "red"})
    assert rc == 1 and "colour" in events[-1]["message"]
    rc, events, _ = run_job("protocol-check", {}, job={"v": 99, "command": "protocol-check", "params": {}})
    assert rc == 1 and "protocol version 99" in events[-1]["message"]
    rc, events, _ = run_job("protocol-check", {}, job={"v": 1, "command": "doctor", "params": {}})
    assert rc == 1 and "'doctor'" in events[-1]["message"]


def test_cancel_file_stops_the_job_with_exit_130(tmp_path, backend_cmd):
    """The job would run 600 s; the cancel file ends it with 130 well within a generous 60 s (how fast is a
    benchmark's question, not a test's on shared cores)."""
    (tmp_path / "job.json").write_text(json.dumps({"v": 1, "command": "protocol-check", "params": {"seconds": 600}}))
    with open(tmp_path / "backend.log", "wb") as log:
        proc = subprocess.Popen(
            [*backend_cmd, "protocol-check", "--job", "job.json"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=log
        )
        try:
            first = json.loads(proc.stdout.readline())
            assert first["type"] in ("log", "progress")
            (tmp_path / "cancel").touch()
            rc = proc.wait(timeout=60)
        finally:
            proc.kill()  # only matters when the cancel was ignored
    assert rc == 130
    events = [json.loads(line) for line in proc.stdout.read().decode().splitlines()]
    assert not any(e["type"] == "result" for e in events)


def test_doctor_json_reports_versions_and_torch_build(backend_cmd, tmp_path):
    out = subprocess.run(
        [*backend_cmd, "doctor", "--json", "--log-file", str(tmp_path / "l.log")],
        capture_output=True,
        check=True,
        text=True,
        timeout=120,
    )
    report = json.loads(out.stdout)
    assert report["protocol_version"] == PROTOCOL_VERSION
    torch = report["torch"]
    assert torch["installed"] and torch["version"].startswith("2.")
    assert torch["build"] and torch["build"] in torch["version"] or torch["build"].startswith(("cu", "cpu", "rocm"))
    assert isinstance(torch["devices"], list)
    assert torch["cuda_available"] == bool(torch["devices"])
    for name in ("diffusers", "transformers", "accelerate", "rasterio"):
        assert report["packages"][name], f"{name} version missing"


def test_console_mode_error_is_one_line_on_stderr(backend_cmd, tmp_path):
    proc = subprocess.run(
        [*backend_cmd, "grid-info", "--patch-grid", str(tmp_path / "none.gpkg"), "--log-file", str(tmp_path / "l.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: PATCH_GRID: file not found: {tmp_path / 'none.gpkg'}"]
    assert "Traceback" in (tmp_path / "l.log").read_text()


def test_help_lists_commands_by_algorithm_name_with_old_names_and_hides_protocol_check(backend_cmd):
    out = subprocess.run([*backend_cmd, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("backend-doctor (doctor)", "assemble-mosaic (assemble)", "building-masks (masks)", "grid-info"):
        assert command in out
    assert "protocol-check" not in out
    hidden = subprocess.run([*backend_cmd, "protocol-check", "--help"], capture_output=True, text=True, check=True)
    assert "--ignore-sigterm" in hidden.stdout
