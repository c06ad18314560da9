"""The end of a per-patch preparation step (crop-sentinel2, map-from-land-cover): one place that records each
patch's status in the grid, logs the counts and reports done, so the steps say the same thing the same way."""

from __future__ import annotations

from typing import Any

from ..grid import PatchGrid, record_status
from ..runtime.protocol import Reporter


def finish_patches(
    grid: PatchGrid,
    kind: str,
    records: list[dict[str, Any]],
    counts: tuple[int, int],
    reporter: Reporter,
    command: str,
    outside: str,
) -> dict[str, int]:
    """``records``: the patches this run looked at, with their status; ``counts``: (written, skipped as already
    there); ``outside``: what the log calls patches with no data. Returns the counts every such step reports."""
    record_status(grid.path, kind, records)
    written, skipped = counts
    none = sum(1 for r in records if r["status"] == "outside")
    reporter.log(f"{written} patches written, {skipped} already there, {none} {outside}")
    reporter.progress(1.0, "done", command)
    return {"patch_count": written + skipped, "written": written, "outside": none}
