"""Run one command and record its wall time and peak memory: what `make demo` writes per step (logs/timings.tsv)
and scripts/bench_area.py compares across areas. The peak is the largest resident set of the command or of any
process it waited for (Linux wait4: the backend subprocess of a qgis_process step included). Standard library only.

Usage: python3 scripts/run_measured.py RECORD_FILE -- COMMAND [ARG ...]
Appends "seconds<TAB>peak_MiB" to RECORD_FILE and exits with the command's own exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main() -> int:
    record, separator, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    if separator != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    start = time.monotonic()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    with open(record, "a", encoding="utf-8") as handle:
        handle.write(f"{seconds:.1f}\t{usage.ru_maxrss / 1024:.0f}\n")  # ru_maxrss is in KiB on Linux
    return process.returncode if process.returncode >= 0 else 128 - process.returncode


if __name__ == "__main__":
    sys.exit(main())
