"""Write the 'realism-preset' section of docs/BENCHMARKS.md from scripts/realism_preset.sh's measurements and make
bench-realism-guard-mask's (which hold the small preset's rows for the same seeds): does a larger pixel model, trained
with the same recipe, score closer to real? Every sentence is computed from the numbers.

Run in the backend venv:
  .venv-backend/bin/python scripts/realism_preset_section.py WORK/measure-{guardmask,medium}-*/realism.json
(the first medium file's spectra plot, real and that model, is copied to docs/realism_preset_spectra.png).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "backend" / "src"))

from bench_doc import header  # noqa: E402
from realism_guard_mask_section import seed_table  # noqa: E402
from realism_training_section import (  # noqa: E402
    c2st,
    merged_by_seed,
    rows,
    seeds_tail,
    two_run_verdict,
    write_section_over_seeds,
)

from mapsynth_backend.models.pixel import PIXEL_PRESETS  # noqa: E402

LABELS = {"before": "guarded split EMA", "after": "guarded split EMA medium"}


def rule(runs: list[tuple[int, dict]]) -> str:
    """The rule scripts/realism_preset.sh states before any measurement, applied."""
    if all(c2st(f["after"]) < c2st(f["before"]) for _, f in runs):
        return (
            " By the rule fixed before measuring (lower whole-tile C2ST at every seed), medium qualifies to replace"
            " small."
        )
    return (
        " By the rule fixed before measuring (lower whole-tile C2ST at every seed), the teacher keeps preset small;"
        " medium stays a train-model option."
    )


def architecture(name: str) -> str:
    preset = PIXEL_PRESETS[name]
    channels = ", ".join(map(str, preset["block_out_channels"]))
    return f"channels {channels}, {preset['layers_per_block']} layer(s) per block"


def body(measured: list[Path]) -> str:
    merged = merged_by_seed(measured)
    runs = sorted((seed, rows(summary, LABELS)) for seed, summary in merged.items())
    first = merged[runs[0][0]]
    keep = {name: entry for name, entry in first["models"].items() if name.split(",")[0] in LABELS.values()}
    first = {**first, "models": keep}
    bands = list(next(iter(keep.values()))["gradient_energy"])
    verdict = two_run_verdict(runs, "preset medium scores", "small", ("small", "medium"), "The larger preset")
    return "\n".join(
        [
            "## Realism: a larger teacher",
            "",
            header("scripts/realism_preset_section.py", "make bench-realism-preset  (scripts/realism_preset.sh)"),
            "",
            f"{first['patches']} patches of the split '{first['splits']}' (choices are made here, never on the test "
            "patches), each generated once per seed (20 steps, guidance 1), measured as in the realism section. Rows: "
            "the recipe of make train-demo-model (2,500 steps from scratch, batch 8, learning rate 3e-4, EMA 0.999, "
            f"seed 0; the embedded teacher is this run) with pixel preset small ({architecture('small')}, 3.6 M "
            f"parameters) and the same recipe with preset medium ({architecture('medium')}, 9.1 M parameters; the "
            "same steps and batch size). One training seed: the intervals are over patches, "
            "the seeds over generation noise and classifier, not over training runs.",
            "",
            *seeds_tail(
                verdict + rule(runs),
                seed_table(runs, bands, LABELS),
                runs[0][0],
                first,
                bands,
                "realism_preset_spectra.png",
                "radially averaged power spectra, real and the medium-preset model",
            ),
        ]
    )


def main() -> None:
    write_section_over_seeds("realism-preset", "realism-longer", "realism_preset_spectra.png", body, plot="medium")


if __name__ == "__main__":
    main()
