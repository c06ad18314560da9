"""Write the 'realism-guard-mask' section of docs/BENCHMARKS.md from scripts/realism_guard_mask.sh's measurements
(one realism.json of scripts/measure_realism.py per seed, both rows in each): does training on the guard patches,
with the pixels they share with a held-out patch hidden, make the teacher's recipe harder to tell from real? Every
sentence is computed from the numbers; nothing is typed by hand.

Run in the backend venv:
  .venv-backend/bin/python scripts/realism_guard_mask_section.py WORK/measure-guardmask-*/realism.json
(the first file's spectra plot, spectra.png, is copied to docs/realism_guard_mask_spectra.png).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_doc import header  # noqa: E402
from realism_band_weights_section import detail  # noqa: E402
from realism_training_section import c2st, change, rows, seed_means, seeds_tail, targets_met, write_section_over_seeds  # noqa: E402

LABELS = {
    "guarded": "guarded split EMA",
    "masked": "guard patches trained (shared pixels hidden) EMA",
}
VISIBLE = ("B02", "B03", "B04")


def card(entry: dict) -> dict:
    return json.loads((Path(entry["settings"]["model"]) / "model_card.json").read_text(encoding="utf-8"))


def overlap(entry: dict) -> dict:
    """The split check of the dataset the model trained on (its dataset_card.json, as build-training-dataset wrote
    it)."""
    folder = Path(card(entry)["dataset"])
    return json.loads((folder / "dataset_card.json").read_text(encoding="utf-8"))["split_overlap"]


def seed_table(runs: list[tuple[int, dict]], bands: list[str], labels: dict[str, str] = LABELS) -> str:
    head = ["seed", "model", "C2ST (95 % interval)", "C2ST on detail"] + [f"grad. ratio {b}" for b in bands]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for seed, found in runs:
        for role, label in labels.items():
            if role not in found:  # a row measured at fewer seeds (realism_recipe_section.py's extras)
                continue
            entry = found[role]
            low, high = entry["c2st"]["interval_95"]
            cells = [str(seed), label, f"{c2st(entry):.1f} % ({100 * low:.0f}-{100 * high:.0f})",
                     f"{detail(entry):.1f} %"]  # fmt: skip
            cells += [f"{entry['gradient_energy'][b]['ratio']:.2f}" for b in bands]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(runs: list[tuple[int, dict]]) -> str:
    n = len(runs)
    first = runs[0][1]
    pixels = {role: overlap(first[role])["per_split"]["train"]["pixels"] for role in LABELS}
    shared = {role: overlap(first[role])["shared_pixels"] for role in LABELS}
    windows = {role: card(first[role])["data"]["train"] for role in LABELS}
    lower = sum(c2st(f["masked"]) < c2st(f["guarded"]) for _, f in runs)
    lower_detail = sum(detail(f["masked"]) < detail(f["guarded"]) for _, f in runs)
    means = seed_means(runs, LABELS)
    mean, grad, nir = ({r: m[key] for r, m in means.items()} for key in ("c2st", "grad", "nir"))
    text = (
        f"Training data: {windows['guarded']} windows, {pixels['guarded']:,} pixels (guarded split) against"
        f" {windows['masked']} windows, {pixels['masked']:,} visible pixels (guard patches trained); pixels shared"
        f" with a validation or test patch, from the dataset cards: {shared['guarded']} and {shared['masked']}. Over"
        f" {n} seeds (generation noise and classifier), training on the guard patches scores a lower whole-tile C2ST"
        f" at {lower} of {n} and a lower C2ST on detail at {lower_detail} of {n}; mean C2ST {mean['guarded']:.1f} %"
        f" -> {mean['masked']:.1f} %. Mean gradient ratio of the visible bands {grad['guarded']:.2f} ->"
        f" {grad['masked']:.2f}, of B08 {nir['guarded']:.2f} -> {nir['masked']:.2f} (target 0.9-1.15). Seed"
        f" {runs[0][0]}: {change(first['guarded'], first['masked'])}; texture targets met with the guarded split"
        f" {targets_met(first['guarded'])}; with the guard patches {targets_met(first['masked'])}."
    )
    if lower == n and mean["masked"] < mean["guarded"]:
        text += " More of the scene lowered C2ST at every seed."
    elif lower == 0:
        text += " More of the scene did not lower C2ST at any seed."
    else:
        text += " The seeds disagree: no conclusion on C2ST from this run."
    details = {role: [detail(f[role]) for _, f in runs] for role in LABELS}
    text += (
        f" C2ST on detail (texture only) {min(details['masked']):.1f}-{max(details['masked']):.1f} % with the guard"
        f" patches against {min(details['guarded']):.1f}-{max(details['guarded']):.1f} % without"
    )
    if lower < n:
        text += (
            f": {windows['masked'] / windows['guarded']:.1f} times the training windows do not give the texture the"
            " classifier misses, and make train-demo-model keeps the guarded split (Train on guard patches stays an"
            " option, off by default)."
        )
    else:
        text += "."
    return text


def by_seed(measured: list[Path], labels: dict[str, str]) -> tuple[list[tuple[int, dict]], dict]:
    """Each seed's rows by role, sorted by seed, and the first seed's whole summary."""
    summaries = [json.loads(p.read_text(encoding="utf-8")) for p in measured]
    seeds = [next(iter(s["models"].values()))["settings"]["seed"] for s in summaries]
    runs = sorted((seed, rows(s, labels)) for seed, s in zip(seeds, summaries, strict=True))
    return runs, summaries[seeds.index(runs[0][0])]


def body(measured: list[Path]) -> str:
    runs, first = by_seed(measured, LABELS)
    bands = list(next(iter(first["models"].values()))["gradient_energy"])
    return "\n".join(
        [
            "## Realism: training on the guard patches",
            "",
            header(
                "scripts/realism_guard_mask_section.py",
                "make bench-realism-guard-mask  (scripts/realism_guard_mask.sh)",
            ),
            "",
            f"{first['patches']} patches of the split '{first['splits']}' (choices are made here, never on the test "
            "patches), each generated once per seed (20 steps, guidance 1), measured as in the realism section. Why "
            "this run: the guarded split leaves out every grid window that shares a pixel with a validation or test "
            "patch (the guard patches), more than half of the demo scene's usable training windows; the previous "
            "teacher, trained on twice the windows without the guard, scored lower C2ST but was partly scored on its "
            "own training pixels. Rows: the recipe of make train-demo-model (2,500 steps from scratch, batch 8, "
            "learning rate 3e-4, EMA 0.999, seed 0; the embedded teacher is this run) on the guarded split, and the "
            "same recipe on a dataset built with build_training_dataset's Train on guard patches: the guard patches "
            "join the training split with every pixel they share with a held-out patch written as nodata (the loss "
            "skips it) and the map's outside-data colour there, so no held-out pixel enters training as target or "
            "input. One training seed per model: the intervals are over patches, the seeds over generation noise and "
            "classifier, not over training runs.",
            "",
            *seeds_tail(
                verdict(runs),
                seed_table(runs, bands),
                runs[0][0],
                first,
                bands,
                "realism_guard_mask_spectra.png",
                "radially averaged power spectra, real and both rows",
            ),
        ]
    )


def main() -> None:
    write_section_over_seeds("realism-guard-mask", "realism-band-weights", "realism_guard_mask_spectra.png", body)


if __name__ == "__main__":
    main()
