"""Write the 'realism-training' section of docs/BENCHMARKS.md from scripts/realism_training.sh's measurement
(realism.json of scripts/measure_realism.py): does training on the guarded split, or flipping and turning the
training pairs (--augment d4), make the teacher harder to tell from real? Every sentence is computed from the
numbers; nothing is typed by hand.

Run in the backend venv: .venv-backend/bin/python scripts/realism_training_section.py WORK/measure/realism.json
(the spectra plot beside it, spectra.png, is copied to docs/realism_training_spectra.png).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_doc import header, write_section  # noqa: E402
from measure_realism import markdown  # noqa: E402
from realism_card import met_counts  # noqa: E402

LABELS = {
    "teacher": "embedded teacher",
    "tune": "teacher +1200 steps",
    "tune_d4": "teacher +1200 steps d4",
    "scratch": "guarded split from scratch",
    "scratch_d4": "guarded split from scratch d4",
}


def rows(summary: dict, labels: dict[str, str] = LABELS, optional: tuple[str, ...] = ()) -> dict[str, dict]:
    """The measured rows by role (measure_realism names a row 'LABEL, N steps, sampler'); every role of LABELS but
    the OPTIONAL ones must be there."""
    found = {}
    for name, entry in summary["models"].items():
        label = name.split(",")[0]
        role = next((key for key, text in labels.items() if text == label), None)
        if role:
            found[role] = entry
    missing = sorted(set(labels) - set(found) - set(optional))
    if missing:
        raise SystemExit(f"realism.json lacks the rows {', '.join(labels[m] for m in missing)}")
    return found


def c2st(entry: dict) -> float:
    return 100 * entry["c2st"]["accuracy"]


def trained_on(entry: dict) -> int:
    card = json.loads((Path(entry["settings"]["model"]) / "model_card.json").read_text(encoding="utf-8"))
    return int(card["data"]["train"])


def change(before: dict, after: dict) -> str:
    delta = c2st(after) - c2st(before)
    low_b, high_b = before["c2st"]["interval_95"]
    low_a, high_a = after["c2st"]["interval_95"]
    overlap = low_a <= high_b and low_b <= high_a
    intervals = "intervals overlap" if overlap else "intervals do not overlap"
    return f"{delta:+.1f} points ({c2st(before):.1f} % -> {c2st(after):.1f} %; {intervals})"


def targets_met(entry: dict) -> str:
    """How many bands / band pairs meet the texture targets (the realism section's)."""
    met = met_counts(entry)
    grad, high, pairs = met["gradient_ratio"], met["high_frequency_share"], met["band_correlation"]
    return (
        f"gradient ratio {grad} of {len(entry['gradient_energy'])} bands, HF share {high} of"
        f" {len(entry['high_frequency_share'])}, correlations {pairs} of {len(entry['band_correlation'])} pairs"
    )


def body(summary: dict) -> str:
    found = rows(summary)
    bands = list(next(iter(summary["models"].values()))["gradient_energy"])
    teacher, scratch = found["teacher"], found["scratch"]
    verdict = (
        f"Trained on the guarded split from scratch ({trained_on(scratch)} training patches), the recipe of make"
        f" train-demo-model scores {c2st(scratch):.1f} % against the embedded teacher's {c2st(teacher):.1f} %; the"
        f" embedded teacher was trained on {trained_on(teacher)} patches before the grid had its guard, some of which"
        " overlap these validation patches, and it trained longer (it was fine-tuned from an earlier model), so this"
        " run cannot say how much of the difference is what it saw and how much is more data. Random flips and quarter"
        f" turns (d4) change C2ST by {change(scratch, found['scratch_d4'])} from scratch and by"
        f" {change(found['tune'], found['tune_d4'])} in the fine-tune."
    )
    verdict += (
        " Texture targets met (gradient ratio 0.9-1.15, HF share within 20 % of real, correlation within 0.03):"
        f" fine-tune {targets_met(found['tune'])}; with d4 {targets_met(found['tune_d4'])}; from scratch"
        f" {targets_met(scratch)}; with d4 {targets_met(found['scratch_d4'])}."
    )
    lower = [c2st(found[f"{k}_d4"]) < c2st(found[k]) for k in ("scratch", "tune")]
    if all(lower):
        verdict += " d4 lowered C2ST both times (one training seed each)."
    else:
        verdict += (
            f" d4 lowered C2ST in {sum(lower)} of the 2 comparisons, so it is not the fix for what the classifier"
            " sees and stays off by default (train-model --augment d4 on the command line)."
        )
    return "\n".join(
        [
            "## Realism: the training split and augmentation",
            "",
            header("scripts/realism_training_section.py", "make bench-realism-training  (scripts/realism_training.sh)"),
            "",
            f"{summary['patches']} patches of the split '{summary['splits']}' (choices are made here, never on the"
            " test patches), each generated once (seed 0, 20 steps, guidance 1), measured as in the realism section."
            " Rows: the embedded teacher; the teacher fine-tuned 1,200 more steps on the guarded split (batch 8,"
            " learning rate 1e-4, seed 0) without and with d4 augmentation (train-model --augment d4: each pair"
            " flipped and turned by one of the 8 symmetries of the square); and the teacher's recipe from scratch on"
            " the guarded split (2,500 steps, learning rate 3e-4, as make train-demo-model trains now) without and"
            " with d4. One training seed each: the C2ST interval is over patches, not over training runs.",
            "",
            verdict,
            "",
            markdown(summary, bands).rstrip(),
            "",
            "![radially averaged power spectra, real and each row](realism_training_spectra.png)",
        ]
    )


def merged_by_seed(measured: list[Path]) -> dict[int, dict]:
    """realism.json files merged per seed: files of one seed hold the same real tiles, so their rows compare."""
    merged: dict[int, dict] = {}
    for path in measured:
        summary = json.loads(path.read_text(encoding="utf-8"))
        seed = next(iter(summary["models"].values()))["settings"]["seed"]
        if seed in merged:
            merged[seed]["models"].update(summary["models"])
        else:
            merged[seed] = summary
    return merged


def seed_means(runs: list[tuple[int, dict]], roles) -> dict[str, dict[str, float]]:
    """Per role, over the seeds: mean C2ST and C2ST on detail (%), mean gradient ratio of the visible bands and of
    B08."""
    n = len(runs)
    visible = ("B02", "B03", "B04")
    return {
        role: {
            "c2st": sum(c2st(f[role]) for _, f in runs) / n,
            "detail": sum(100 * f[role]["c2st_detail"]["accuracy"] for _, f in runs) / n,
            "grad": sum(f[role]["gradient_energy"][b]["ratio"] for _, f in runs for b in visible) / (n * len(visible)),
            "nir": sum(f[role]["gradient_energy"]["B08"]["ratio"] for _, f in runs) / n,
        }
        for role in roles
    }


def two_run_verdict(
    runs: list[tuple[int, dict]], subject: str, baseline: str, names: tuple[str, str], conclusion: str
) -> str:
    """The verdict of one change to the recipe (roles 'before' and 'after' in each seed's rows), over the seeds:
    SUBJECT is the changed run with its verb ('4,000 steps score'), BASELINE the run it is compared with, NAMES how the
    two are called in the texture-target sentence and CONCLUSION the change as the last sentence's subject."""
    n = len(runs)
    first = runs[0][1]
    lower = sum(c2st(f["after"]) < c2st(f["before"]) for _, f in runs)
    lower_detail = sum(f["after"]["c2st_detail"]["accuracy"] < f["before"]["c2st_detail"]["accuracy"] for _, f in runs)
    means = seed_means(runs, ("before", "after"))
    mean, mean_detail, grad, nir = ({r: m[key] for r, m in means.items()} for key in ("c2st", "detail", "grad", "nir"))
    text = (
        f"Over {n} seeds (generation noise and classifier), {subject} a lower whole-tile C2ST than {baseline} at"
        f" {lower} of {n} (mean {mean['before']:.1f} % -> {mean['after']:.1f} %) and a lower C2ST on detail at"
        f" {lower_detail} of {n} (mean {mean_detail['before']:.1f} % -> {mean_detail['after']:.1f} %). Mean gradient"
        f" ratio of the visible bands {grad['before']:.2f} -> {grad['after']:.2f}, of B08 {nir['before']:.2f} ->"
        f" {nir['after']:.2f} (target 0.9-1.15). Seed {runs[0][0]}: {change(first['before'], first['after'])}; texture"
        f" targets met at {names[0]} {targets_met(first['before'])}; at {names[1]} {targets_met(first['after'])}."
    )
    if lower == n:
        return text + f" {conclusion} lowered C2ST at every seed."
    if lower == 0:
        return text + f" {conclusion} did not lower C2ST at any seed."
    return text + " The seeds disagree: no conclusion on C2ST from this run."


def seeds_tail(verdict: str, table: str, seed: int, first: dict, bands: list[str], picture: str, alt: str) -> list[str]:
    """The end of a section measured over seeds: the verdict, the per-seed table, the first seed's full table and
    the spectra plot."""
    return [
        verdict,
        "",
        table,
        "",
        f"Seed {seed} in full:",
        "",
        markdown(first, bands).rstrip(),
        "",
        f"![{alt}]({picture})",
    ]


def write_section_over_seeds(
    name: str, after: str, picture: str, body, plot: str = "", files: list[str] | None = None
) -> None:
    """main() of a section measured over seeds: realism.json FILES (default: the command line's), one per seed, the
    first's spectra plot (of the first file whose folder name contains ``plot``) copied to docs/PICTURE."""
    measured = sorted(Path(p) for p in (sys.argv[1:] if files is None else files))
    if not measured:
        raise SystemExit(f"usage: {Path(sys.argv[0]).name} WORK/measure-*/realism.json (one per seed)")
    text = body(measured)
    source = next(p for p in measured if plot in p.parent.name)
    shutil.copyfile(source.with_name("spectra.png"), ROOT / "docs" / picture)
    write_section(name, text, after=after)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: realism_training_section.py WORK/measure/realism.json")
    measured = Path(sys.argv[1])
    summary = json.loads(measured.read_text(encoding="utf-8"))
    shutil.copyfile(measured.with_name("spectra.png"), ROOT / "docs" / "realism_training_spectra.png")
    write_section("realism-training", body(summary), after="realism-ablation")


if __name__ == "__main__":
    main()
