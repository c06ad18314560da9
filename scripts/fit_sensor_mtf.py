"""Fit a model's sensor transfer function on the demo dataset's training maps and write it into its model card
(``sensor_mtf``, generate/sensor_mtf.py): the model's generations of the training maps (generation seed 0, the
card's settings without gains) against their real pixels. package_fewstep_model.py calls it for the few-step
student, the model whose card the realism-sensor-mtf section (make bench-realism-sensor-mtf) found it lowers C2ST
for at every validation seed; after it, make bench-realism refreshes the card's held-out evaluation.

    .venv-backend/bin/python scripts/fit_sensor_mtf.py MODEL_DIR [DATASET_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure_realism as realism  # noqa: E402
from realism_sensor_mtf import fit_for  # noqa: E402

CHOICE = (
    "chosen on the validation patches (docs/BENCHMARKS.md, 'Realism: the sensor's transfer function', make "
    "bench-realism-sensor-mtf): lower whole-tile C2ST than the card without gains at every seed (0, 1, 2)"
)


def write_card(model_dir: Path, dataset: Path = realism.DATASET) -> dict:
    spec = fit_for(model_dir, dataset) | {"choice": CHOICE}
    path = model_dir / "model_card.json"
    card = json.loads(path.read_text())
    card["sensor_mtf"] = spec
    path.write_text(json.dumps(card, indent=2) + "\n")
    return spec


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__.strip().splitlines()[-1])
    folder = Path(sys.argv[1])
    spec = write_card(folder, Path(sys.argv[2]) if len(sys.argv) == 3 else realism.DATASET)
    print(json.dumps({"model": str(folder), "sensor_mtf_patches": spec["patches"]}))
