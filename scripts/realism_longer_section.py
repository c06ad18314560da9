"""Write the 'realism-longer' section of docs/BENCHMARKS.md from scripts/realism_longer.sh's measurements and make
bench-realism-guard-mask's (which hold the 2,500-step rows for the same seeds): does the teacher's recipe trained to
4,000 steps instead of 2,500 score closer to real? Every sentence is computed from the numbers.

Run in the backend venv:
  .venv-backend/bin/python scripts/realism_longer_section.py WORK/measure-{guardmask,longer}-*/realism.json
(the first 4,000-step file's spectra plot, real and that model, is copied to docs/realism_longer_spectra.png).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_doc import header  # noqa: E402
from realism_guard_mask_section import seed_table  # noqa: E402
from realism_training_section import (  # noqa: E402
    merged_by_seed,
    rows,
    seeds_tail,
    two_run_verdict,
    write_section_over_seeds,
)

LABELS = {"before": "guarded split EMA", "after": "guarded split EMA 4000 steps"}


def body(measured: list[Path]) -> str:
    merged = merged_by_seed(measured)
    runs = sorted((seed, rows(summary, LABELS)) for seed, summary in merged.items())
    first = merged[runs[0][0]]
    keep = {name: entry for name, entry in first["models"].items() if name.split(",")[0] in LABELS.values()}
    first = {**first, "models": keep}
    bands = list(next(iter(keep.values()))["gradient_energy"])
    return "\n".join(
        [
            "## Realism: training the teacher longer",
            "",
            header("scripts/realism_longer_section.py", "make bench-realism-longer  (scripts/realism_longer.sh)"),
            "",
            f"{first['patches']} patches of the split '{first['splits']}' (choices are made here, never on the test "
            "patches), each generated once per seed (20 steps, guidance 1), measured as in the realism section. Rows: "
            "the recipe of make train-demo-model (2,500 steps from scratch, batch 8, learning rate 3e-4, EMA 0.999, "
            "seed 0; the embedded teacher is this run) and the same run continued from its last checkpoint to 4,000 "
            "steps with the same arguments. One training seed: the intervals are over patches, the seeds over "
            "generation noise and classifier, not over training runs.",
            "",
            *seeds_tail(
                two_run_verdict(runs, "4,000 steps score", "2,500", ("2,500 steps", "4,000"), "Longer training"),
                seed_table(runs, bands, LABELS),
                runs[0][0],
                first,
                bands,
                "realism_longer_spectra.png",
                "radially averaged power spectra, real and the 4,000-step model",
            ),
        ]
    )


def main() -> None:
    write_section_over_seeds("realism-longer", "realism-sampler", "realism_longer_spectra.png", body, plot="longer")


if __name__ == "__main__":
    main()
