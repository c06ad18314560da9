"""Does a fitted sensor transfer function (generate/sensor_mtf.py) make the embedded models harder to tell from real?
For each embedded model: the gains are fitted on its generations of the TRAINING maps (seed 0, the card's
settings without any sensor_mtf) against their real pixels, then the validation maps are generated without and
with the fitted gains through the product's own path (to_reflectance), 3 generation + classifier seeds, and
measured with the realism section's measures. One classifier run moves by about 4 points between classifier seeds
on the very same images (this script measures it), so each generation seed's whole-tile C2ST is the mean of
CLASSIFIER_SEEDS runs. Rule (the one the teacher's sampler, band scaling and the refiner were chosen by, on that
mean): a card gets the gains only if its whole-tile C2ST is lower at every generation seed. The test patches stay
untouched; make bench-realism reports on them with the cards as packaged.

Run in the backend venv (the dataset: DEMO_PREPARE_ONLY=1 scripts/train_demo_model.sh); about 20 minutes on 2 cores:
  .venv-backend/bin/python scripts/realism_sensor_mtf.py --seeds 0,1,2 [--write]   (make bench-realism-sensor-mtf)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure_realism as realism  # noqa: E402
from bench_doc import header, publish, write_section  # noqa: E402
from realism_calibration import picture  # noqa: E402

from mapsynth_backend.evaluate.c2st import c2st  # noqa: E402
from mapsynth_backend.evaluate.realism_section import measure  # noqa: E402
from mapsynth_backend.generate.sensor_mtf import fit_sensor_mtf  # noqa: E402

BANDS = ["B02", "B03", "B04", "B08"]
MODELS = {"embedded teacher": realism.DEFAULT_MODELS[0], "few-step student (make demo)": realism.DEFAULT_MODELS[1]}
SHOWN_FREQUENCIES = (0.125, 0.25, 0.375, 0.5)
CLASSIFIER_SEEDS = 5  # the first is measure()'s own (seed = the generation seed), then 100 + k
PICTURE = Path(__file__).resolve().parents[1] / "docs" / "realism_sensor_mtf.png"


def arguments() -> argparse.Namespace:
    return realism.validation_arguments(__doc__, "sensor_mtf.json", "realism-sensor-mtf")


def with_spec(spec: dict | None):
    """generate()'s configure hook: the card's sensor_mtf replaced by ``spec`` (None: removed)."""

    def configure(model) -> None:
        model.card.pop("sensor_mtf", None)
        if spec:
            model.card["sensor_mtf"] = spec

    return configure


def fit_for(model_dir: Path, dataset: Path, seed: int = 0) -> dict:
    """The card entry for one model: its generations of the training maps (card's settings, no gains) vs real."""
    rows, real, maps = realism.held_out(dataset, ["train"])
    args = realism.card_settings(argparse.Namespace(seed=seed))
    generated, _ = realism.generate(model_dir, rows, maps, args, configure=with_spec(None))
    spec = fit_sensor_mtf(real, generated, BANDS)
    return spec | {"fitted_on": f"the demo dataset's training split ({len(rows)} maps), generation seed {seed}"}


def main() -> None:
    args = arguments()
    if args.summary:
        write_section("realism-sensor-mtf", body(json.loads(args.summary.read_text())), after="realism-calibration")
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, real, maps = realism.held_out(args.dataset, ["validation"])
    summary: dict = {"patches": len(rows), "seeds": seeds, "models": {}}
    shown: dict[str, np.ndarray] = {}
    for label, model_dir in MODELS.items():
        spec = fit_for(model_dir, args.dataset)
        entry = summary["models"][label] = {"spec": spec, "runs": {}}
        for seed in seeds:
            args.seed = seed
            for name, setting in (("card without gains", None), ("with fitted gains", spec)):
                generated, _ = realism.generate(model_dir, rows, maps, args, configure=with_spec(setting))
                generated[~np.isfinite(real)] = np.nan
                if seed == seeds[0]:
                    shown[f"{label}, {name}"] = generated
                tiles = realism.tiles_of(real, generated, maps)
                result = measure(tiles, BANDS, seed=seed, folds=5, with_c2st=True)
                repeats = [c2st(tiles["real"], tiles["synthetic"], tiles["groups"], seed=100 + k, control=False)
                           for k in range(1, CLASSIFIER_SEEDS)]  # fmt: skip
                entry["runs"].setdefault(name, {})[str(seed)] = {
                    "c2st": result["c2st"],
                    "c2st_runs": [result["c2st"]["accuracy"]] + [r["accuracy"] for r in repeats],
                    "c2st_detail": result["c2st_detail"],
                    "gradient_ratio": [result["gradient_energy"][b]["ratio"] for b in BANDS],
                    "hf_ratio": [result["high_frequency_share"][b]["ratio"] for b in BANDS],
                }
                runs = entry["runs"][name][str(seed)]["c2st_runs"]
                print(f"{label} seed {seed} {name}: C2ST {100 * np.mean(runs):.1f} % (mean of {len(runs)})",
                      file=sys.stderr)  # fmt: skip
    if args.write:
        picture(PICTURE, real, maps, shown)
    publish(summary, args.out, "sensor_mtf.json", "realism-sensor-mtf" if args.write else None, body,
            after="realism-calibration")  # fmt: skip


def verdict(runs: dict, seeds: list[int]) -> tuple[int, int, float, float]:
    """Seeds where the gains lower whole-tile C2ST, and where they lower C2ST on detail; both means."""
    base, new = runs["card without gains"], runs["with fitted gains"]

    def acc(side: dict, s: int) -> float:
        return float(np.mean(side[str(s)]["c2st_runs"]))

    def detail_acc(side: dict, s: int) -> float:
        return side[str(s)]["c2st_detail"]["accuracy"]

    lower = sum(acc(new, s) < acc(base, s) for s in seeds)
    detail = sum(detail_acc(new, s) < detail_acc(base, s) for s in seeds)
    return lower, detail, 100 * np.mean([acc(base, s) for s in seeds]), 100 * np.mean([acc(new, s) for s in seeds])


def body(summary: dict) -> str:
    seeds = summary["seeds"]
    lines = [
        "## Realism: the sensor's transfer function",
        "",
        header("scripts/realism_sensor_mtf.py", "make bench-realism-sensor-mtf"),
        "",
        f"{summary['patches']} patches of the split 'validation' (the choice is made here; the realism section "
        f"reports on the test patches with the cards as packaged), {len(seeds)} generation seeds. Why "
        "this run: the student's texture alone gives it away 99 % of the time (realism-cues), and both models "
        "put more power than real's near 0.5 cycle per pixel (the realism section's spectra plot), where real "
        "Sentinel-2 is band-limited by the instrument and its resampling. "
        "Per model, a radial gain per band (sqrt of real / generated power, geometric mean over patches, clipped "
        "to [1/3, 3]; generate/sensor_mtf.py) is fitted on its own generations of the training maps, then "
        "applied to every generated patch (a zero-phase filter; the patch mean is kept). One classifier run "
        "moves by several points between classifier seeds on the very same images (the spread column), so each "
        f"generation seed's C2ST is the mean of {CLASSIFIER_SEEDS} classifier seeds; the interval and the other "
        "columns are the first run's (classifier seed = generation seed). Rule: a card gets the gains only if "
        "that mean is lower at every generation seed. When this section was first run, the rule read one "
        "classifier run per seed: the student was lower at 2 of 3 (a tie at the third) and an exploratory run "
        "(a script not kept in the repository) of nearly the same gains (a symmetric window in the fit, no clip "
        "to the card's range: images within 1e-4 "
        "reflectance on average) was lower at 3 of 3 by up to 11 points. That disagreement is why the rule now "
        "averages classifier seeds; the change was made after seeing those results, and the test patches, "
        "never used for the choice, are the check: make bench-realism's row 'sensor MTF fitted on the training "
        "maps' (the realism section), which decides, with this rule, whether package_fewstep_model.py's "
        "SENSOR_MTF gives the student's card the gains.",
        "",
        "| model | gain of B02 / B03 / B04 / B08 at " + " | ".join(f"{f:g} cycle/px" for f in SHOWN_FREQUENCIES) + " |",
        "|---|" + "---|" * len(SHOWN_FREQUENCIES),
    ]
    for label, entry in summary["models"].items():
        spec = entry["spec"]
        cells = []
        for f in SHOWN_FREQUENCIES:
            cells.append(" / ".join(f"{np.interp(f, spec['frequency'], spec['gain'][b]):.2f}" for b in BANDS))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"| model | seed | output | C2ST, mean of {CLASSIFIER_SEEDS} | spread (sd) | C2ST, first run (95 % interval) "
        "| C2ST on detail | "
        + " | ".join(f"grad. ratio {b}" for b in BANDS) + " | " + " | ".join(f"HF share ratio {b}" for b in BANDS)
        + " |",
        "|---|---|---|---|---|---|---|" + "---|" * (2 * len(BANDS)),
    ]  # fmt: skip
    for label, entry in summary["models"].items():
        for seed in seeds:
            for name, by_seed in entry["runs"].items():
                run = by_seed[str(seed)]
                runs = 100 * np.array(run["c2st_runs"])
                lines.append(
                    f"| {label} | {seed} | {name} | {runs.mean():.1f} % | {runs.std(ddof=1):.1f} | "
                    f"{realism.c2st_cell(run['c2st'])} | "
                    f"{realism.c2st_cell(run['c2st_detail'])} | "
                    + " | ".join(f"{v:.2f}" for v in run["gradient_ratio"] + run["hf_ratio"]) + " |"
                )  # fmt: skip
    lines.append("")
    for label, entry in summary["models"].items():
        lower, detail, before, after = verdict(entry["runs"], seeds)
        decision = "meets the rule" if lower == len(seeds) else "does not meet the rule"
        lines.append(
            f"- {label}: lower mean C2ST at {lower} of {len(seeds)} generation seeds ({before:.1f} % -> {after:.1f} % "
            "over all), lower "
            f"C2ST on detail at {detail} of {len(seeds)}: {decision}."
        )
    lines += [
        "",
        f"Seed {seeds[0]}, validation patches evenly spaced: map, real, then each model without and with the gains "
        "(true colour, one stretch for all, 3x zoom).",
        "",
        "![map, real, each model without and with the fitted gains](realism_sensor_mtf.png)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
