"""scripts/run_measured.py, which make demo's steps run under: the recorded peak memory includes processes the
command starts (the backend subprocess of a qgis_process step), and the command's exit status passes through."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_measured.py"
ALLOCATE = "x = bytearray({mib} * 2**20); x[::4096] = b'1' * len(x[::4096])"  # touch every page: resident


def record(tmp_path: Path, *command: str) -> tuple[int, float, int]:
    path = tmp_path / "record.tsv"
    path.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, str(SCRIPT), str(path), "--", *command])
    seconds, peak = path.read_text(encoding="utf-8").strip().split("\t")
    return done.returncode, float(seconds), int(peak)


def test_peak_memory_includes_a_grandchild(tmp_path):
    code, _, small = record(tmp_path, sys.executable, "-c", ALLOCATE.format(mib=10))
    assert code == 0
    # the 300 MiB are allocated by a process that the measured command starts, not by the command itself
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {ALLOCATE.format(mib=300)!r}])"
    code, _, large = record(tmp_path, sys.executable, "-c", child)
    assert code == 0
    assert large >= 300 > small


def test_exit_status_and_time_pass_through(tmp_path):
    code, seconds, _ = record(tmp_path, sys.executable, "-c", "import time, sys; time.sleep(0.3); sys.exit(3)")
    assert code == 3
    assert seconds >= 0.3
