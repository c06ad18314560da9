"""Put the results of `make experiment` into the documentation: its section of docs/BENCHMARKS.md
(augmentation-experiment, scripts/bench_doc.py), the learning curve as docs/augmentation_experiment.png and
beside the demo model, and the summary in the demo model's card. Usage: python scripts/experiment_docs.py [RESULTS_DIR]
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

MODEL = ROOT / "resources" / "models" / "mapsynth-demo-pixel-small"
HEADING = "## Augmentation experiment: is the synthetic data useful?"
ARMS = ("real", "real+same_maps", "real+unpaired_maps", "synthetic_only")


def _cell(mean, std, seeds) -> str:
    return "n/a" if mean is None else f"{mean:.3f} ± {std:.3f} ({len(seeds)})"


def tables(results: dict, planned: int) -> str:
    summary = results["summary"]
    fractions = sorted({s["real_fraction"] for s in summary})
    found = {(s["arm"], s["real_fraction"]): s for s in summary}
    lines = [
        f"Finished runs: {len(results['runs'])} of {planned}. Test mIoU on the {results['splits']['test']} held-out"
        " real test pairs, mean ± standard deviation over seeds (number of seeds):",
        "",
        "| arm | " + " | ".join(f"real fraction {f:g}" for f in fractions) + " |",
        "|---|" + "---|" * len(fractions),
    ]
    for arm in ARMS:
        cells = [
            _cell(found[(arm, f)]["miou"], found[(arm, f)]["miou_std"], found[(arm, f)]["seeds"])
            if (arm, f) in found
            else "—"
            for f in fractions
        ]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    counts = {f: found[("real", f)]["real_images"] for f in fractions if ("real", f) in found}
    lines += ["", "Real training pairs per fraction: " + ", ".join(f"{f:g}: {n}" for f, n in counts.items()) + "."]
    for fraction in fractions:
        lines += [
            "",
            f"Per-class IoU at real fraction {fraction:g} (mean over seeds):",
            "",
            "| arm | " + " | ".join(results["classes"]) + " |",
            "|---|" + "---|" * len(results["classes"]),
        ]
        for arm in ARMS:
            if (arm, fraction) not in found:
                continue
            per_class = found[(arm, fraction)]["per_class"]
            values = [
                "n/a" if per_class[c]["iou"] is None else f"{per_class[c]['iou']:.3f}" for c in results["classes"]
            ]
            lines.append(f"| {arm} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def section(results: dict, text: str, folder: Path) -> str:
    """The whole section: what ran, the tables, the learning curve. results.json records neither the date nor the
    machine of the runs: the date is the file's, the machine the one writing the section."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime((folder / "results.json").stat().st_mtime))
    minutes = sum(run.get("seconds", 0) for run in results["runs"]) / 60
    return "\n".join([
        HEADING, "",
        header("scripts/experiment_docs.py", "make experiment", when=when)
        + " The date is results.json's; it does not record the machine, so that is the one that wrote this section. "
        f"{minutes:.0f} min of "
        "segmenter training in all (results.json).", "",
        "`make experiment` (scripts/run_experiment.sh) runs `mapsynth augmentation-experiment` on the Aberystwyth "
        "pairs of the embedded demo model (its own grid and split) with the embedded model as the generator. A MONAI "
        "U-Net learns the derived land-cover classes from the four reflectance bands; every run is scored on the "
        f"held-out real test pairs. Settings: `{json.dumps(results.get('settings', {}), sort_keys=True)}`.", "",
        text, "", "![learning curve](augmentation_experiment.png)"])


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".mapsynth-experiment" / "results"
    results = json.loads((folder / "results.json").read_text())
    planned = len(results["runs"]) + len(results["runs_missing"])
    text = tables(results, planned)
    write_section("augmentation-experiment", section(results, text, folder), after="what-if")
    for target in (ROOT / "docs" / "augmentation_experiment.png", MODEL / "augmentation_experiment.png"):
        shutil.copyfile(folder / "learning_curve.png", target)
    card_path = MODEL / "model_card.json"
    card = json.loads(card_path.read_text())
    card["augmentation_experiment"] = {
        "what": "mapsynth augmentation-experiment (make experiment): a MONAI U-Net trained on real, real +"
        " synthetic and synthetic-only Aberystwyth pairs, scored on the held-out real test split",
        "settings": results["settings"],
        "classes": results["classes"],
        "finished_runs": len(results["runs"]),
        "planned_runs": planned,
        "plot": "augmentation_experiment.png",
        "summary": [
            {k: s[k] for k in ("arm", "real_fraction", "real_images", "synthetic_images", "seeds", "miou", "miou_std")}
            | {"iou": {c: v["iou"] for c, v in s["per_class"].items()}}
            for s in results["summary"]
        ],
        "caveat": "the maps are derived from the same imagery (thresholds on NDVI, NDWI and brightness), so the"
        " target classes are largely a function of the pixel values; see docs/BENCHMARKS.md",
    }
    card_path.write_text(json.dumps(card, indent=2), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
