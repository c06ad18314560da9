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

Run in the backend venv (the dataset: DEMO_PREPARE_ONLY=1 scripts/train_demo_model.sh); about 8 minutes on 2 cores:
  .venv-backend/bin/python scripts/realism_cues.py [--write]     (make bench-realism-cues)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_doc import header, write_section  # noqa: E402
from measure_realism import DATASET, DEFAULT_MODELS, generate, held_out, tiles_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIGMA = 2.0
NAMES = {"mapsynth-demo-pixel-small": "embedded teacher", "mapsynth-demo-pixel-fewstep": "few-step student (make demo)"}


def blur(tiles: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(tiles, sigma=(0, 0, SIGMA, SIGMA), mode="reflect")


VIEWS = {
    "as measured": lambda t: t,
    "texture removed": blur,
    "texture only": lambda t: t - blur(t),
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
    args = parser.parse_args()
    args.steps, args.sampler, args.guidance, args.class_guidance, args.class_guidance_margin = 0, "", 0.0, "", 2
    return args


def main() -> None:
    from mapsynth_backend.evaluate.c2st import c2st

    args = arguments()
    rows, real, maps = held_out(args.dataset, args.splits.split(","))
    summary: dict = {"splits": args.splits, "patches": len(rows), "seed": args.seed, "sigma_px": SIGMA, "models": {}}
    for model in DEFAULT_MODELS:
        synthetic, settings = generate(model, rows, maps, args)
        synthetic[~np.isfinite(real)] = np.nan
        tiles = tiles_of(real, synthetic, maps)
        results = {}
        for view, apply in VIEWS.items():
            test = c2st(apply(tiles["real"]), apply(tiles["synthetic"]), tiles["groups"], seed=args.seed,
                        control=view == "as measured")
            results[view] = {k: test.get(k) for k in ("accuracy", "interval_95", "shuffled_control_accuracy")}
            print(f"{model.name} {view}: {100 * test['accuracy']:.1f} %", file=sys.stderr)
        summary["models"][NAMES.get(model.name, model.name)] = {"settings": settings, "c2st": results}
        summary["tiles"] = int(2 * len(tiles["real"]))
    print(json.dumps(summary))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cues.json").write_text(json.dumps(summary, indent=2))
    if args.write:
        write_section("realism-cues", body(summary), after="realism")


def body(summary: dict) -> str:
    models = list(summary["models"])
    lines = [
        "## Realism: what gives the tiles away",
        "",
        header("scripts/realism_cues.py", "make bench-realism-cues  (.venv-backend/bin/python scripts/realism_cues.py "
               "--write)"),
        "",
        f"{summary['patches']} patches of the split '{summary['splits']}' (a diagnosis: nothing is chosen here), "
        f"each generated once (seed {summary['seed']}) with the card's settings and cut into 32 px tiles "
        f"({summary['tiles']} per model, real and synthetic). The same C2ST as the realism section (a small CNN, "
        "5 folds grouped by patch, 95 % interval over patches) on views of the tiles that keep one kind of evidence: "
        f"texture removed = a Gaussian blur of sigma {summary['sigma_px']:g} px of both sides; texture only = the tile "
        "minus that blur; mean spectrum = every pixel set to the tile's per-band mean (colour, no pattern); one band "
        "group alone. A view near 50 % holds nothing the classifier can use. One generation and classifier seed.",
        "",
        "| view | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for view in VIEWS:
        cells = []
        for name in models:
            test = summary["models"][name]["c2st"][view]
            low, high = test["interval_95"]
            cells.append(f"{100 * test['accuracy']:.1f} % ({100 * low:.0f}-{100 * high:.0f})")
        lines.append(f"| {view} | " + " | ".join(cells) + " |")
    controls = ", ".join(
        f"{name} {100 * summary['models'][name]['c2st']['as measured']['shuffled_control_accuracy']:.1f} %"
        for name in models
    )
    lines += ["", f"Shuffled-label control of the as-measured row: {controls}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
