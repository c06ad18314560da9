"""The water spectra that the embedded demo models hold during sampling (card ``class_spectra``,
generate/class_spectra.py), measured on the demo dataset's training split. package_demo_model.py and
package_fewstep_model.py write them; run alone, this writes them into both embedded cards as they are:

    .venv-backend/bin/python scripts/demo_class_spectra.py [DATASET]   (default .mapsynth-demo-training/dataset)

The coverage was chosen on make bench-water's area (the Gänglesee at Steg, inside make demo's area; never on the
held-out area that tests/demo checks): the largest of 0.5 / 0.75 / 0.95 that puts the few-step model's median NDVI
under OSM water below 0 there (docs/BENCHMARKS.md, section water).
"""

import json
import sys
from pathlib import Path

from mapsynth_backend.generate.class_spectra import measure_class_spectra

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "resources" / "models"
CLASSES = ("water",)
COVERAGE = 0.75
CHOICE = {
    "area": "make bench-water's area: 9.560,9.592,47.098,47.120 [EPSG:4326] (Steg, the Gänglesee reservoir)",
    "median_water_ndvi_by_coverage": {"none": 0.191, "0.5": -0.033, "0.75": -0.017, "0.95": 0.013},
    "rule": "the largest coverage with median NDVI under OSM water below 0 (the few-step model, make demo's settings)",
}


def spectra(dataset: Path) -> dict:
    return measure_class_spectra(dataset, CLASSES, COVERAGE)


def main(dataset: Path) -> None:
    table = spectra(dataset)
    for name in ("mapsynth-demo-pixel-small", "mapsynth-demo-pixel-fewstep"):
        path = MODELS / name / "model_card.json"
        card = json.loads(path.read_text())
        card.update({"class_spectra": table, "class_spectra_choice": CHOICE})
        path.write_text(json.dumps(card, indent=2) + ("\n" if path.read_text().endswith("\n") else ""))
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".mapsynth-demo-training" / "dataset")
