"""Every JSON file the chain writes parses with a strict parser (no NaN / Infinity, which JavaScript's JSON.parse
and jq reject): grid, dataset, model, generated patches, mosaic and the evaluation report of the synthetic chain
(conftest.py), whatever blocks the report holds; the mosaic is too small for a tiling periodicity, so the report
has a value that cannot be measured."""

import json
import os
from pathlib import Path


def refuse(name: str):
    raise ValueError(f"{name} is not JSON")


def json_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".geojson"))


def check_strict(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl" else [text]
    for number, line in enumerate(lines, 1):
        try:
            json.loads(line, parse_constant=refuse)
        except ValueError as error:
            raise AssertionError(f"{path} (line {number}): {error}") from error


def test_every_json_file_of_the_chain_is_strict_json(mosaic, run_alg):
    root = mosaic["root"]
    report = run_alg("evaluate", {"SYNTHETIC": mosaic["mosaic"]["OUTPUT"], "REAL": str(mosaic["scene"]),
                                  "OUTPUT_DIR": str(root / "strict-json-report")})
    metrics = json.loads(Path(report["METRICS"]).read_text(encoding="utf-8"))
    assert any(band.get("periodicity_db") is None for band in metrics["seams"].values() if isinstance(band, dict))
    files = json_files(root) + json_files(Path(os.environ["MAPSYNTH_CACHE_DIR"]))  # job.json of every backend job
    assert len(files) >= 8 and Path(report["METRICS"]) in files
    kinds = {p.name for p in files}
    assert {"metrics.json", "model_card.json", "job.json"} <= kinds, kinds
    for path in files:
        check_strict(path)
