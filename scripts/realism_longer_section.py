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
from realism_band_weights_section import detail  # noqa: E402
from realism_guard_mask_section import seed_table  # noqa: E402
from realism_training_section import (  # noqa: E402
    c2st,
    change,
    merged_by_seed,
    rows,
    seed_means,
    seeds_tail,
    targets_met,
    write_section_over_seeds,
)

LABELS = {"short": "guarded split EMA", "long": "guarded split EMA 4000 steps"}


def verdict(runs: list[tuple[int, dict]]) -> str:
    n = len(runs)
    first = runs[0][1]
    lower = sum(c2st(f["long"]) < c2st(f["short"]) for _, f in runs)
    lower_detail = sum(detail(f["long"]) < detail(f["short"]) for _, f in runs)
    means = seed_means(runs, LABELS)
    mean, mean_detail = ({r: m[key] for r, m in means.items()} for key in ("c2st", "detail"))
    grad, nir = ({r: m[key] for r, m in means.items()} for key in ("grad", "nir"))
    text = (
        f"Over {n} seeds (generation noise and classifier), 4,000 steps score a lower whole-tile C2ST than 2,500 at"
        f" {lower} of {n} (mean {mean['short']:.1f} % -> {mean['long']:.1f} %) and a lower C2ST on detail at"
        f" {lower_detail} of {n} (mean {mean_detail['short']:.1f} % -> {mean_detail['long']:.1f} %). Mean gradient"
        f" ratio of the visible bands {grad['short']:.2f} -> {grad['long']:.2f}, of B08 {nir['short']:.2f} ->"
        f" {nir['long']:.2f} (target 0.9-1.15). Seed {runs[0][0]}: {change(first['short'], first['long'])}; texture"
        f" targets met at 2,500 steps {targets_met(first['short'])}; at 4,000 {targets_met(first['long'])}."
    )
    if lower == n:
        text += " Longer training lowered C2ST at every seed."
    elif lower == 0:
        text += " Longer training did not lower C2ST at any seed."
    else:
        text += " The seeds disagree: no conclusion on C2ST from this run."
    return text


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
                verdict(runs),
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
