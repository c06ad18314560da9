"""What a generated folder holds besides its images: the index of finished files, and the batch layout that a
resumed run must reuse to write the files an uninterrupted run would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..grid import record_status
from ..runtime.outputs import MANIFEST, atomic_write
from ..runtime.protocol import Reporter


def recorded_setting(out: Path, key: str, requested: int, reporter: Reporter) -> int | None:
    """The value of ``key`` (batch size, CPU threads) that a resumed folder was begun with, from its manifest:
    the same batch layout and thread count give bitwise the same files. None for a folder begun before the
    setting was recorded (it then resumes with ``requested``, as before)."""
    try:
        details = json.loads((out / MANIFEST).read_text())["details"]
    except (OSError, ValueError, KeyError, TypeError):
        return requested
    recorded = details.get(key) if isinstance(details, dict) else requested
    if recorded is None:
        return None
    if recorded != requested:
        reporter.log(
            f"{key.upper()}: resuming {out} with the value it was begun with ({recorded}, not {requested}),"
            " so that the resumed files equal an uninterrupted run's"
        )
    return int(recorded)


def write_index(out: Path, grid, variations: int) -> dict[str, Any]:
    """index.jsonl from the files present (whatever process or run wrote them) and the grid's status."""
    lines, records, complete = [], [], 0
    for patch in grid.patches:
        files = [out / f"{patch.patch_id}_v{v:02d}.tif" for v in range(variations)]
        present = [f for f in files if f.exists()]
        lines += [
            json.dumps({"patch_id": patch.patch_id, "variation": v, "path": f.name})
            for v, f in enumerate(files)
            if f.exists()
        ]
        if present:
            complete += len(present) == variations
            records.append(
                {
                    "patch_id": patch.patch_id,
                    "status": "ok" if len(present) == variations else "partial",
                    "detail": f"{len(present)}/{variations} variations",
                    "output": str(out),
                }
            )
    atomic_write(out / "index.jsonl", lambda tmp: tmp.write_text("\n".join(lines) + ("\n" if lines else "")))
    record_status(grid.path, "generate", records)
    return {"patch_count": complete, "files": len(lines)}
