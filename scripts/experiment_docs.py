"""Put the results of `make experiment` into the documentation: its section of docs/BENCHMARKS.md
(augmentation-experiment, scripts/bench_doc.py), the learning curve as docs/augmentation_experiment.png and
(its generators are trained from scratch: no property of the demo model's card).
Usage: python scripts/experiment_docs.py [RESULTS_DIR]
(default .mapsynth-experiment/results). Runs that have not finished are counted as missing, never invented
(for a partial experiment, write its results.json first: rerun the experiment with --report-only)."""

import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from bench_doc import header, write_section  # noqa: E402

HEADING = "## Augmentation experiment: is the synthetic data useful?"


def _ci(values) -> str:
    return f"[{values[0]:.3f}, {values[1]:.3f}]"


def tables(results: dict, planned: int) -> str:
    """Rows (macro recall on the independent polygons, interval by cluster bootstrap) and the pre-registered
    comparisons (paired over seeds; the primary uncorrected, the rest Holm-corrected)."""
    classes = results["label_classes"]
    lines = [
        f"Finished runs: {len(results['runs'])} of {planned}. Macro recall on the {len(results['polygons'])}"
        " hand-digitised polygons that have pixels (mean over seeds, 95 % interval):",
        "",
        "| arm | real fraction | seeds | macro recall | interval | "
        + " | ".join(f"{c} recall" for c in classes)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(classes),
    ]
    for row in results["rows"]:
        fraction = "—" if row["real_fraction"] is None else f"{row['real_fraction']:g}"
        recall = " | ".join(f"{row['per_class_recall'][c]:.2f}" for c in classes)
        lines.append(f"| {row['arm']} | {fraction} | {len(row['seeds'])} | {row['macro_recall']:.3f} |"
                     f" {_ci(row['interval'])} | {recall} |")
    lines += ["", "Comparisons named before the run (plan.json); difference of macro recall, paired by seed:", "",
              "| comparison | role | difference | interval | p | Holm p | seeds where the first is better |",
              "|---|---|---|---|---|---|---|"]
    for c in results["comparisons"]:
        holm = "—" if c.get("p_holm") is None else f"{c['p_holm']:.3f}"
        lines.append(f"| {c['comparison']} | {c['role']} | {c['difference']:+.3f} | {_ci(c['interval'])} |"
                     f" {c['p']:.3f} | {holm} | {c['seeds_a_better']} of {c['seeds']} |")
    if results.get("design_notes"):
        lines += ["", "Cuts: " + "; ".join(results["design_notes"]) + "."]
    return "\n".join(lines)


def wall_time(folder: Path) -> str:
    """The wall time scripts/run_experiment.sh wrote next to RESULTS_DIR (wall_time.json in its work dir), as a
    sentence; it counts as end to end only when that invocation prepared the data and ran every run itself."""
    path = folder.parent / "wall_time.json"
    if not path.is_file():
        return "The end-to-end wall time was not recorded (no wall_time.json from scripts/run_experiment.sh)."
    recorded = json.loads(path.read_text())
    minutes = round(recorded["seconds"] / 60)
    if recorded.get("end_to_end"):
        return f"{minutes} min end to end (scripts/run_experiment.sh: preparation and generator training included)."
    return (f"The end-to-end wall time was not recorded: the last invocation of scripts/run_experiment.sh took "
            f"{minutes} min but reused earlier work (prepared data or finished runs).")


def section(results: dict, text: str, folder: Path) -> str:
    """The whole section. results.json records neither the date nor the machine of the runs: the date is the
    file's, the machine the one writing the section."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime((folder / "results.json").stat().st_mtime))
    minutes = sum(run.get("seconds", 0) for run in results["runs"]) / 60
    return "\n".join([
        HEADING, "",
        header("scripts/experiment_docs.py", "make experiment", when=when)
        + " The date is results.json's; it does not record the machine, so that is the one that wrote this section. "
        f"{minutes:.0f} min of segmenter training in all (results.json). {wall_time(folder)}", "",
        "`make experiment` (scripts/run_experiment.sh) runs `mapsynth augmentation-experiment` on the Aberystwyth "
        "pairs of the demo grid (guarded split). The segmenter learns the derived land-cover maps (weak labels: a "
        "threshold rule on the imagery) and is scored only on the independent hand-digitised rsgislib polygons, out "
        "of fold, with a guard between scored pixels and training patches. Each fraction's generator is a small "
        "pixel model trained from scratch on that fraction's real block only (at fraction 1, one per fold); "
        "synthetic samples are added on top of the real ones per step. The derived-map rule itself is the baseline "
        "row. "
        f"Settings: `{json.dumps(results.get('settings', {}), sort_keys=True)}`.", "",
        text, "", "![macro recall by real fraction](augmentation_experiment.png)"])


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".mapsynth-experiment" / "results"
    results = json.loads((folder / "results.json").read_text())
    planned = len(results["runs"]) + len(results["runs_missing"])
    text = tables(results, planned)
    write_section("augmentation-experiment", section(results, text, folder), after="what-if")
    shutil.copyfile(folder / "learning_curve.png", ROOT / "docs" / "augmentation_experiment.png")
    print(text)


if __name__ == "__main__":
    main()
