"""`doctor` (what this environment can do) and `protocol-check` (exercise the job protocol end to end).

doctor is also the protocol handshake: the plugin refuses a backend whose ``protocol_version`` differs.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import time
from importlib import metadata
from typing import Any

from .. import __version__
from .jobs import Command, Param
from .protocol import PROTOCOL_VERSION, Reporter, UserError

PACKAGES = (
    "numpy",
    "diffusers",
    "transformers",
    "accelerate",
    "safetensors",
    "rasterio",
    "xarray",
    "rioxarray",
    "netCDF4",
    "scikit-fuzzy",
    "opencv-python-headless",
    "tqdm",
)


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def torch_report() -> dict[str, Any]:
    """torch version, build tag (+cpu, +cu124, ...) and the accelerators it can see."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure is a finding, not a crash
        return {"installed": False, "error": f"{type(exc).__name__}: {exc}"}
    version = torch.__version__
    if "+" in version:
        build = version.split("+", 1)[1]
    elif torch.version.cuda:
        build = "cu" + torch.version.cuda.replace(".", "")
    elif getattr(torch.version, "hip", None):
        build = "rocm" + str(torch.version.hip)
    else:
        build = "cpu"
    devices = []
    cuda = bool(torch.cuda.is_available())
    if cuda:
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append(
                {
                    "index": index,
                    "name": props.name,
                    "total_memory_gib": round(props.total_memory / 2**30, 2),
                    "capability": f"{props.major}.{props.minor}",
                }
            )
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return {
        "installed": True,
        "version": version,
        "build": build,
        "cuda_version": torch.version.cuda,
        "cuda_available": cuda,
        "devices": devices,
        "mps_available": mps,
        "threads": torch.get_num_threads(),
    }


def doctor(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    report: dict[str, Any] = {
        "protocol_version": PROTOCOL_VERSION,
        "backend_version": __version__,
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": platform.platform(),
    }
    if params["brief"]:
        return report
    reporter.progress(0.0, "importing torch", "doctor")
    report["torch"] = torch_report()
    reporter.progress(0.8, "reading package versions", "doctor")
    report["packages"] = {name: _package_version(name) for name in PACKAGES}
    problems = []
    if not report["torch"]["installed"]:
        problems.append("torch cannot be imported: " + report["torch"]["error"])
    problems += [f"{name} is not installed" for name, version in report["packages"].items() if version is None]
    report["problems"] = problems
    for problem in problems:
        reporter.log(problem, "warning")
    reporter.progress(1.0, "done", "doctor")
    return report


def protocol_check(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    """Emit every event type for ``seconds``, then finish or fail the way the client asked for."""
    if params["ignore_sigterm"]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("stray print from a library: must land in backend.log, not in the protocol stream")
    reporter.log("protocol check started", "info")
    seconds = params["seconds"]
    start = time.monotonic()
    step = 0
    while (elapsed := time.monotonic() - start) < seconds:
        if not params["ignore_cancel"]:
            reporter.check_cancel()
        reporter.progress(elapsed / seconds if seconds else 1.0, f"working ({elapsed:.1f} s)", "protocol-check")
        if step % 10 == 0:
            reporter.metric("elapsed_s", elapsed, step)
        step += 1
        time.sleep(0.05)
    fail = params["fail"]
    if fail == "user-error":
        raise UserError(params["message"])
    if fail == "crash":
        raise RuntimeError(params["message"])
    if fail == "oom-kill":
        os.kill(os.getpid(), signal.SIGKILL)
    reporter.progress(1.0, "done", "protocol-check")
    return {"steps": step, "pid": os.getpid(), "cwd": os.getcwd()}


COMMANDS = (
    Command(
        "backend-doctor",
        "Report protocol and backend versions, Python, torch build (+cpu/+cuXXX), GPUs and library versions.",
        doctor,
        (Param("brief", "bool", False, "only protocol/backend/python versions (fast handshake)"),),
    ),
    Command(
        "protocol-check",
        "Exercise the job protocol: progress, logs, metrics, cancel, and a chosen way to fail.",
        protocol_check,
        (
            Param("seconds", "float", 1.0, "how long to work", minimum=0.0, maximum=3600.0),
            Param("fail", "str", "none", "how to end", choices=("none", "user-error", "crash", "oom-kill")),
            Param("message", "str", "protocol check failed as requested", "message of the failure"),
            Param("ignore_cancel", "bool", False, "do not look at cancel requests (a stuck job)"),
            Param("ignore_sigterm", "bool", False, "ignore SIGTERM too, so only SIGKILL ends the job"),
        ),
    ),
)
