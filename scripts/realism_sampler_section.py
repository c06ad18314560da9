"""Write the 'realism-sampler' section of docs/BENCHMARKS.md from scripts/realism_sampler.sh's measurements (one
realism.json of scripts/measure_realism.py per seed, both samplers in each): do the teacher's 20 steps, spaced
evenly in log-SNR instead of in timesteps, make its tiles harder to tell from real? The choice rule is the one the
card's sampler was chosen by (lower whole-tile C2ST at every seed); every sentence is computed from the numbers.

Run in the backend venv:
  .venv-backend/bin/python scripts/realism_sampler_section.py WORK/measure-logsnr-*/realism.json
(the first file's spectra plot, spectra.png, is copied to docs/realism_sampler_spectra.png).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_doc import header  # noqa: E402
from realism_band_weights_section import detail  # noqa: E402
from realism_guard_mask_section import VISIBLE, seed_table  # noqa: E402
from realism_training_section import c2st, seed_means, seeds_tail, targets_met, write_section_over_seeds  # noqa: E402

SAMPLERS = {"card": "sde-dpmsolver++", "logsnr": "sde-dpmsolver++-logsnr"}
TEACHER = ROOT / "resources" / "models" / "mapsynth-demo-pixel-small" / "model_card.json"


def by_sampler(summary: dict) -> dict[str, dict]:
    """The rows of one seed by role, found by the sampler each was generated with."""
    found = {}
    for entry in summary["models"].values():
        role = next((key for key, name in SAMPLERS.items() if entry["settings"]["sampler"] == name), None)
        if role:
            found[role] = entry
    if set(found) != set(SAMPLERS):
        raise SystemExit(f"realism.json lacks a row for {sorted(set(SAMPLERS) - set(found))}")
    return found


def verdict(runs: list[tuple[int, dict]], card_sampler: str) -> str:
    n = len(runs)
    lower = sum(c2st(f["logsnr"]) < c2st(f["card"]) for _, f in runs)
    lower_detail = sum(detail(f["logsnr"]) < detail(f["card"]) for _, f in runs)
    means = seed_means(runs, SAMPLERS)
    mean, mean_detail = ({r: m[key] for r, m in means.items()} for key in ("c2st", "detail"))
    grad, nir = ({r: m[key] for r, m in means.items()} for key in ("grad", "nir"))
    first = runs[0][1]
    text = (
        f"Over {n} seeds (generation noise and classifier), steps even in log-SNR score a lower whole-tile C2ST at"
        f" {lower} of {n} (mean {mean['card']:.1f} % -> {mean['logsnr']:.1f} %) and a lower C2ST on detail (texture"
        f" only) at {lower_detail} of {n} (mean {mean_detail['card']:.1f} % -> {mean_detail['logsnr']:.1f} %). Mean"
        f" gradient ratio of the visible bands {grad['card']:.2f} -> {grad['logsnr']:.2f}, of B08 {nir['card']:.2f} ->"
        f" {nir['logsnr']:.2f} (target 0.9-1.15). Seed {runs[0][0]}: texture targets met {targets_met(first['card'])}"
        f" with the card's spacing, {targets_met(first['logsnr'])} with log-SNR spacing."
    )
    if lower == n:
        text += f" Lower at every seed: the rule picks sde-dpmsolver++-logsnr (the card says {card_sampler})."
    else:
        text += (
            f" The rule the card's sampler was chosen by (lower whole-tile C2ST at every seed) is not met, so the"
            f" teacher keeps {card_sampler}; sde-dpmsolver++-logsnr stays available as a card 'sampler'."
        )
    return text


def share_ratio(runs: list[tuple[int, dict]], role: str) -> str:
    """The visible bands' HF share over real's, as a range over bands and seeds."""
    ratios = [
        f[role]["high_frequency_share"][b]["synthetic"] / f[role]["high_frequency_share"][b]["real"]
        for _, f in runs
        for b in VISIBLE
    ]
    return f"{min(ratios):.1f}-{max(ratios):.1f}"


def body(measured: list[Path]) -> str:
    summaries = [json.loads(p.read_text(encoding="utf-8")) for p in measured]
    seeds = [next(iter(s["models"].values()))["settings"]["seed"] for s in summaries]
    runs = sorted((seed, by_sampler(s)) for seed, s in zip(seeds, summaries, strict=True))
    first = summaries[seeds.index(runs[0][0])]
    bands = list(next(iter(first["models"].values()))["gradient_energy"])
    card_sampler = json.loads(TEACHER.read_text(encoding="utf-8")).get("sampler")
    return "\n".join(
        [
            "## Realism: the teacher's steps in log-SNR",
            "",
            header("scripts/realism_sampler_section.py", "make bench-realism-sampler  (scripts/realism_sampler.sh)"),
            "",
            f"{first['patches']} patches of the split '{first['splits']}' (choices are made here, never on the test "
            "patches), each generated once per seed with the embedded teacher (20 steps, the card's guidance and "
            "water hold), measured as in the realism section. Why this run: with the card's sampler the teacher's "
            f"visible bands carry {share_ratio(runs, 'card')} times real's share of power above 1/4 cycle per pixel "
            "(HF share; the realism section's table shows more with the deterministic solvers), which looks like "
            "noise that the last steps do not remove. Rows: SDE-DPM-Solver++ with its steps even in timesteps (the "
            "card's), and the same solver with its steps even in log-SNR (diffusers' use_lu_lambdas; the pixel "
            "models' sampler sde-dpmsolver++-logsnr), which puts more of the 20 steps at low noise at the same cost. "
            "One model: the intervals are over patches, the seeds over generation noise and classifier.",
            "",
            *seeds_tail(
                verdict(runs, card_sampler),
                seed_table(runs, bands, {"card": SAMPLERS["card"], "logsnr": SAMPLERS["logsnr"]}),
                runs[0][0],
                first,
                bands,
                "realism_sampler_spectra.png",
                "radially averaged power spectra, real and both samplers",
            ),
        ]
    )


def main() -> None:
    write_section_over_seeds("realism-sampler", "realism-guard-mask", "realism_sampler_spectra.png", body)


if __name__ == "__main__":
    main()
