"""What gives the demo models' tiles away: the same C2ST (evaluate's classifier, folds grouped by patch) on views of
the tiles that keep one kind of evidence and remove the others, for the embedded teacher and make demo's student
on the validation patches (a diagnosis: nothing is chosen here, and the test patches stay untouched).

Views, applied alike to real and synthetic tiles:
  as measured      the tiles (the realism section's C2ST);
  texture removed  a Gaussian blur of sigma 2 px: layout, colour and brightness stay, detail below ~8 px goes;
  texture only     the tile minus that blur: only the detail;
  mean spectrum    every pixel set to the tile's per-band mean: the colour of the tile, no spatial pattern;
  B08 only / B02-B04 only   the near-infrared band alone, the three visible bands alone.
A view near 50 % holds no evidence the classifier can use; the view that keeps the as-measured accuracy holds it.

Run in the backend venv (the dataset: DEMO_PREPARE_ONLY=1 scripts/train_demo_model.sh); about 6 minutes on 2 cores:
  .venv-backend/bin/python scripts/realism_cues.py [--write]     (make bench-realism-cues)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_doc import header, publish, write_section  # noqa: E402
from measure_realism import (  # noqa: E402
    DATASET,
    DEFAULT_MODELS,
    c2st_cell,
    card_settings,
    generate,
    held_out,
    tiles_of,
)

from mapsynth_backend.evaluate.c2st import c2st  # noqa: E402
from mapsynth_backend.evaluate.realism import DETAIL_SIGMA, detail  # noqa: E402 - evaluate's 'C2ST on detail' view

NAMES = {"mapsynth-demo-pixel-small": "embedded teacher", "mapsynth-demo-pixel-fewstep": "few-step student (make demo)"}


VIEWS = {
    "as measured": lambda t: t,
    "texture removed": lambda t: t - detail(t),
    "texture only": detail,
    "mean spectrum": lambda t: np.broadcast_to(t.mean(axis=(2, 3), keepdims=True), t.shape).copy(),
    "B08 only": lambda t: t[:, 3:4],
    "B02-B04 only": lambda t: t[:, :3],
}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--splits", default="validation")
    parser.add_argument("--seed", type=int, default=0, help="generation noise and C2ST seed")
    parser.add_argument("--out", type=Path, help="folder for cues.json")
    parser.add_argument("--write", action="store_true", help="write the section 'realism-cues' of docs/BENCHMARKS.md")
    parser.add_argument("--summary", type=Path, help="write the section from a cues.json of an earlier run (no run)")
    return card_settings(parser.parse_args())


def main() -> None:
    args = arguments()
    if args.summary:
        write_section("realism-cues", body(json.loads(args.summary.read_text())), after="realism")
        return
    rows, real, maps = held_out(args.dataset, args.splits.split(","))
    summary: dict = {"splits": args.splits, "patches": len(rows), "seed": args.seed, "sigma_px": DETAIL_SIGMA}
    summary["models"] = {"real vs real": {"c2st": real_halves(real, maps, args.seed)}}
    for model in DEFAULT_MODELS:
        synthetic, settings = generate(model, rows, maps, args)
        synthetic[~np.isfinite(real)] = np.nan
        tiles = tiles_of(real, synthetic, maps)
        results = {}
        for view, apply in VIEWS.items():
            test = c2st_view(
                apply(tiles["real"]),
                apply(tiles["synthetic"]),
                tiles["groups"],
                args.seed,
                control=view == "as measured",
            )
            results[view] = test
            print(f"{model.name} {view}: {100 * test['accuracy']:.1f} %", file=sys.stderr)
        summary["models"][NAMES.get(model.name, model.name)] = {"settings": settings, "c2st": results}
        summary["tiles"] = int(2 * len(tiles["real"]))
    publish(summary, args.out, "cues.json", "realism-cues" if args.write else None, body, after="realism")


def real_halves(real: np.ndarray, maps: np.ndarray, seed: int) -> dict:
    """The reference column: the real tiles of every other patch against those of the rest, in every view."""
    tiles = tiles_of(real, real.copy(), maps)
    groups = tiles["groups"]
    first = np.isin(groups, np.unique(groups)[::2])
    results = {}
    for view, apply in VIEWS.items():
        test = c2st_view(apply(tiles["real"][first]), apply(tiles["real"][~first]), (groups[first], groups[~first]),
                         seed)  # fmt: skip
        results[view] = test
        print(f"real vs real {view}: {100 * test['accuracy']:.1f} %", file=sys.stderr)
    return results


def c2st_view(real: np.ndarray, synthetic: np.ndarray, groups, seed: int, control: bool = False) -> dict:
    test = c2st(real, synthetic, groups, seed=seed, control=control)
    return {k: test.get(k) for k in ("accuracy", "interval_95", "shuffled_control_accuracy")}


def body(summary: dict) -> str:
    models = list(summary["models"])
    lines = [
        "## Realism: what gives the tiles away",
        "",
        header(
            "scripts/realism_cues.py",
            "make bench-realism-cues  (.venv-backend/bin/python scripts/realism_cues.py --write)",
        ),
        "",
        f"{summary['patches']} patches of the split '{summary['splits']}' (a diagnosis: nothing is chosen here), "
        f"each generated once (seed {summary['seed']}) with the card's settings and cut into 32 px tiles "
        f"({summary['tiles']} per model, real and synthetic). The same C2ST as the realism section (a small CNN, "
        "5 folds grouped by patch, 95 % interval over patches) on views of the tiles that keep one kind of evidence: "
        f"texture removed = a Gaussian blur of sigma {summary['sigma_px']:g} px of both sides; texture only = the tile "
        "minus that blur; mean spectrum = every pixel set to the tile's per-band mean (colour, no pattern); one band "
        "group alone. A view near 50 % holds nothing the classifier can use; the first column is the reference: the "
        "real tiles of every other patch against the rest's, as the classifier scores two samples of the same "
        "imagery. One generation and classifier seed. evaluate reports the texture-only view as 'C2ST on detail'.",
        "",
        "| view | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for view in VIEWS:
        cells = [c2st_cell(summary["models"][name]["c2st"][view]) for name in models]
        lines.append(f"| {view} | " + " | ".join(cells) + " |")
    controls = ", ".join(
        f"{name} {100 * summary['models'][name]['c2st']['as measured']['shuffled_control_accuracy']:.1f} %"
        for name in models
        if name != "real vs real"
    )
    lines += ["", f"Shuffled-label control of the as-measured row: {controls}."]
    for name in models[1:]:
        tests = summary["models"][name]["c2st"]
        view = max(tests, key=lambda v: tests[v]["accuracy"])
        lines.append(
            f"{name}: the view that gives it away most is '{view}' ({100 * tests[view]['accuracy']:.1f} %, real vs "
            f"real {100 * summary['models'][models[0]]['c2st'][view]['accuracy']:.1f} %), against "
            f"{100 * tests['as measured']['accuracy']:.1f} % on the tiles as measured."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
