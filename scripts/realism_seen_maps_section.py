"""Write the 'realism-seen-maps' section of docs/BENCHMARKS.md from scripts/realism_seen_maps.sh's measurements:
the embedded teacher measured on the maps it was trained on and on held-out (validation) maps. Every sentence is
computed from the numbers; nothing is typed by hand.

Run in the backend venv:
  .venv-backend/bin/python scripts/realism_seen_maps_section.py WORK/measure-seen-train/realism.json \
      WORK/measure-seen-validation/realism.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_doc import header, write_section  # noqa: E402
from measure_realism import markdown  # noqa: E402
from realism_band_weights_section import detail  # noqa: E402
from realism_training_section import c2st, targets_met  # noqa: E402


def overlap(a: dict, b: dict) -> bool:
    (low_a, high_a), (low_b, high_b) = a["c2st"]["interval_95"], b["c2st"]["interval_95"]
    return low_a <= high_b and low_b <= high_a


def body(seen: dict, held: dict) -> str:
    bands = list(next(iter(seen["models"].values()))["gradient_energy"])
    trained, unseen = next(iter(seen["models"].values())), next(iter(held["models"].values()))
    same = overlap(trained, unseen) or c2st(trained) >= c2st(unseen)
    verdict = (
        f"On {seen['patches']} training patches the classifier tells the teacher's tiles from real"
        f" {c2st(trained):.1f} % of the time ({detail(trained):.1f} % on detail); on {held['patches']} validation"
        f" patches {c2st(unseen):.1f} % ({detail(unseen):.1f} % on detail); the intervals"
        f" {'overlap' if overlap(trained, unseen) else 'do not overlap'}. Texture targets met on the training"
        f" patches: {targets_met(trained)}; on the validation patches: {targets_met(unseen)}."
    )
    if same:
        verdict += (
            " The teacher is no closer to real on the maps it was trained on, so what the classifier sees is not"
            " overfitting to the training patches: the model does not reproduce real texture even where it has seen"
            " the answer, so more training data alone is unlikely to fix it (as training on the guard patches"
            " found); what is left is the model itself and its sampling (training the same recipe longer did not"
            " help either: section realism-longer)."
        )
    else:
        verdict += " The teacher is closer to real on the maps it was trained on: part of the gap is generalisation."
    return "\n".join(
        [
            "## Realism: on the maps the teacher was trained on",
            "",
            header(
                "scripts/realism_seen_maps_section.py",
                "make bench-realism-seen-maps  (scripts/realism_seen_maps.sh)",
            ),
            "",
            "The embedded teacher (its card's sampler, guidance and water hold, seed 0) measured as in the realism"
            " section on the demo dataset's training patches (maps and images it was trained on; as many, evenly"
            " spaced, as there are validation patches, since C2ST grows with the tiles it learns from) and on its"
            " validation patches. A diagnosis: nothing is chosen here. One generation and classifier seed; intervals"
            " over patches.",
            "",
            verdict,
            "",
            "Training patches:",
            "",
            markdown(seen, bands).rstrip(),
            "",
            "Validation patches:",
            "",
            markdown(held, bands).rstrip(),
        ]
    )


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: realism_seen_maps_section.py TRAIN/realism.json VALIDATION/realism.json")
    seen, held = (json.loads(Path(p).read_text(encoding="utf-8")) for p in sys.argv[1:])
    write_section("realism-seen-maps", body(seen, held), after="realism-sampler")


if __name__ == "__main__":
    main()
