"""Ablation: does a low-noise teacher pass remove the few-step student's white-noise floor?

The student's last step predicts x0 from t = 249 (4 DDIM-trailing steps), where a v-prediction error reaches x0
scaled by sqrt(1 - alpha_bar) = 0.39; the 20-step teacher's last prediction is from t ~ 50 (scale ~0.07). Each
variant here: the student's 4 steps, then the result re-noised to T and denoised by the teacher in K DDIM steps
(v-prediction, eta 0), through the student's own generation path with its card's refiner set to (T, K)
(models/refine.py). Measured with evaluate's realism measures on the
split given (choose on validation, report on test). Prints JSON; --out writes realism.md.

  .venv-backend/bin/python scripts/realism_polish.py --splits validation --polish 0,0 --polish 24,1 \
      --polish 49,1 --no-c2st
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "resources" / "models"
spec = importlib.util.spec_from_file_location("measure_realism", ROOT / "scripts" / "measure_realism.py")
measure_realism = importlib.util.module_from_spec(spec)
spec.loader.exec_module(measure_realism)


def polished(student_dir: Path, teacher_dir: Path, rows, maps, start: int, steps: int, seed: int) -> np.ndarray:
    """The student's own generation path (measure_realism.generate, as generate_patches runs it) with its card's
    refiner set to (teacher, start, steps) (models/refine.py); 0 steps = the student alone."""
    import os

    from mapsynth_backend.models import load_model

    def set_refiner(student) -> None:
        if steps:
            student.card["refiner"] = {"model": os.path.relpath(teacher_dir, student_dir), "start": start,
                                       "steps": steps}
            student.refiner = load_model(teacher_dir)
        else:
            student.refiner = None

    settings = argparse.Namespace(steps=0, sampler="", guidance=0.0, class_guidance="", class_guidance_margin=2,
                                  seed=seed)
    return measure_realism.generate(student_dir, rows, maps, settings, configure=set_refiner)[0]


def main() -> None:
    from mapsynth_backend.evaluate.realism import finite
    from mapsynth_backend.evaluate.realism_section import measure

    parser = argparse.ArgumentParser()
    parser.add_argument("--splits", default="validation")
    parser.add_argument("--polish", action="append", default=[], help="START,STEPS (0,0 = the student alone)")
    parser.add_argument("--no-c2st", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--write", action="store_true", help="docs/BENCHMARKS.md, section 'realism-refiner'")
    args = parser.parse_args()
    rows, real, maps = measure_realism.held_out(measure_realism.DATASET, args.splits.split(","))
    bands = ["B02", "B03", "B04", "B08"]
    summary: dict = {"splits": args.splits, "patches": len(rows), "models": {}}
    for text in args.polish or ["0,0"]:
        start, steps = (int(v) for v in text.split(","))
        began = time.perf_counter()
        synthetic = polished(MODELS / "mapsynth-demo-pixel-fewstep", MODELS / "mapsynth-demo-pixel-small", rows, maps,
                             start, steps, args.seed)
        seconds = time.perf_counter() - began
        synthetic[~np.isfinite(real)] = np.nan
        entry = measure(measure_realism.tiles_of(real, synthetic, maps), bands, seed=args.seed, folds=5,
                        with_c2st=not args.no_c2st)
        entry.pop("meaning", None)
        label = f"4 + {steps} from t={start}" if steps else 4
        entry["settings"] = {"steps": label, "sampler": "ddim-trailing", "generate_s": seconds}
        summary["models"][f"student + teacher refiner t={start} x{steps}" if steps else "student alone"] = entry
        summary["real"] = {k: entry[k] for k in ("high_frequency_share", "band_correlation", "gradient_energy")}
    summary = finite(summary)
    print(json.dumps(summary, allow_nan=False))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "realism.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
        (args.out / "realism.md").write_text(measure_realism.markdown(summary, bands))
    if args.write:
        write(summary, bands)


def write(summary: dict, bands: list[str]) -> None:
    import shlex
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_doc import header, write_section

    command = "make bench-realism  (.venv-backend/bin/python scripts/realism_polish.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:]) + ")"
    body = "\n".join([
        "## Realism: the refining step",
        "",
        header("scripts/realism_polish.py", command),
        "",
        f"{summary['patches']} patches of the split '{summary['splits']}' (the choice is made here; the realism"
        " section above reports on the test patches only, with the chosen setting: t=24, one step, in the student's"
        " model card). Each row: the 4-step student,"
        " then its result re-noised to t and denoised by the teacher in the given DDIM steps (eta 0), through the"
        " product's own path (models/refine.py) with only the refiner's setting changed. Columns as in the realism"
        " section.",
        "",
        measure_realism.markdown(summary, bands).rstrip(),
    ])
    write_section("realism-refiner", body, after="realism")


if __name__ == "__main__":
    main()
