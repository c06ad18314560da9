"""Inside the fields: are the demo models' fields even tones with sharp edges, as real Sentinel-2's are, or mottled?
At full resolution a real field is one even tone and changes sharply at its hedge or at the next field, while a
generated field varies smoothly everywhere (docs/realism_town.png). This measures that, for the embedded teacher
and make demo's student on the validation patches (a diagnosis: nothing is chosen here, the test patches stay
untouched): inside map areas of one class (eroded by 2 px, so map edges do not count), the magnitude of the
brightness gradient after a Gaussian blur of 1 px (field-scale changes, not pixel noise), per band. An even field
with sharp edges has a small median and a long tail (a high 99th percentile / median); mottling has a larger
median and a shorter tail, whatever the mean.

Run in the backend venv (the dataset: DEMO_PREPARE_ONLY=1 scripts/train_demo_model.sh); about 5 minutes on 2 cores:
  .venv-backend/bin/python scripts/realism_fields.py [--seeds 0,1,2] [--write]     (make bench-realism-fields)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_doc import ROOT, compact_png, header, publish, write_section  # noqa: E402
from measure_realism import DATASET, DEFAULT_MODELS, card_settings, generate, held_out  # noqa: E402

from mapsynth_backend.evaluate.spectra import class_masks  # noqa: E402
from mapsynth_backend.prepare.landcover import palette  # noqa: E402

BANDS = ["B02", "B03", "B04", "B08"]
CLASSES = ("grass",)  # forest: about 10 interior pixels in the validation patches
NAMES = {"mapsynth-demo-pixel-small": "embedded teacher", "mapsynth-demo-pixel-fewstep": "few-step student (make demo)"}
ERODE_PX = 2
BLUR_PX = 1.0
PICTURE = ROOT / "docs" / "realism_fields.png"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--splits", default="validation")
    parser.add_argument("--seeds", default="0,1,2", help="generation seeds")
    parser.add_argument("--out", type=Path, help="folder for fields.json")
    parser.add_argument("--write", action="store_true", help="write the section 'realism-fields' of docs/BENCHMARKS.md")
    parser.add_argument("--summary", type=Path, help="write the section from a fields.json of an earlier run (no run)")
    parser.add_argument("--guidance", type=float, default=0.0, help="map guidance; 0 = each card's (as generate)")
    parser.add_argument("--picture", type=Path, help="the picture (default with --write: docs/realism_fields.png)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="MODEL_DIR,DATASET,LABEL instead of the embedded models: MODEL_DIR generates from DATASET's maps of the"
        " same patches (make bench-realism-parcels; {seed} in DATASET: one per seed, make bench-realism-tones); the"
        " pixels measured stay those of --dataset's maps",
    )
    return parser.parse_args()


def interiors(maps: np.ndarray, real: np.ndarray, name: str) -> np.ndarray:
    """(N, H, W): pixels of class ``name`` at least ERODE_PX from another class, with real data in every band."""
    area = class_masks(maps, {name: palette()[name]})[name]
    inner = np.stack([ndimage.binary_erosion(a, iterations=ERODE_PX) for a in area])
    return inner & np.isfinite(real).all(axis=1)


def gradient(images: np.ndarray) -> np.ndarray:
    """(N, bands, H, W) -> the magnitude of the gradient of each band after a Gaussian blur of BLUR_PX (reflectance
    per pixel), nodata as 0 before the blur (interiors stay ERODE_PX from it only where the map says so)."""
    smooth = ndimage.gaussian_filter(np.nan_to_num(images), sigma=(0, 0, BLUR_PX, BLUR_PX))
    gy, gx = np.gradient(smooth, axis=(2, 3))
    return np.hypot(gx, gy)


def tail_stats(magnitude: np.ndarray, inside: np.ndarray) -> dict:
    """Per band: median, 99th percentile and their ratio of the gradient magnitude inside ``inside``."""
    out = {}
    for index, band in enumerate(BANDS):
        values = magnitude[:, index][inside]
        median, p99 = (float(v) for v in np.percentile(values, [50, 99]))
        out[band] = {"median": median, "p99": p99, "tail": p99 / median if median > 0 else None}
    return out


def main() -> None:
    args = arguments()
    if args.summary:
        write_section("realism-fields", body(json.loads(args.summary.read_text())), after="realism-cues")
        return
    rows, real, maps = held_out(args.dataset, args.splits.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    inside = {name: interiors(maps, real, name) for name in CLASSES}
    summary: dict = {"splits": args.splits, "patches": len(rows), "seeds": seeds, "erode_px": ERODE_PX,
                     "blur_px": BLUR_PX, "pixels": {n: int(m.sum()) for n, m in inside.items()}}  # fmt: skip
    real_grad = gradient(real)
    summary["real"] = {name: tail_stats(real_grad, m) for name, m in inside.items()}
    summary["models"] = {}
    pictures = {"real": real}
    variants = [v.split(",", 2) for v in args.variant] or [
        (str(m), str(args.dataset), NAMES.get(m.name, m.name)) for m in DEFAULT_MODELS
    ]
    for model, dataset, label in variants:
        for seed in seeds:
            own_rows, own_maps = rows, maps
            if Path(dataset.format(seed=seed)) != args.dataset:  # {seed}: one dataset per seed (realism_tones.py)
                own_rows, _, own_maps = held_out(Path(dataset.format(seed=seed)), args.splits.split(","))
                if [r["patch_id"] for r in own_rows] != [r["patch_id"] for r in rows]:
                    raise SystemExit(f"{dataset}: not the same {args.splits} patches as {args.dataset}")
            settings = card_settings(argparse.Namespace(seed=seed))
            settings.guidance = args.guidance
            synthetic, _ = generate(Path(model), own_rows, own_maps, settings)
            synthetic[~np.isfinite(real)] = np.nan
            stats = {name: tail_stats(gradient(synthetic), m) for name, m in inside.items()}
            summary["models"].setdefault(label, {})[str(seed)] = stats
            if seed == seeds[0]:
                pictures[label] = synthetic
            print(f"{label} seed {seed}: grass B08 tail {stats['grass']['B08']['tail']:.1f}", file=sys.stderr)
    if args.write or args.picture:
        picture(args.picture or PICTURE, maps, pictures, inside["grass"])
    publish(summary, args.out, "fields.json", "realism-fields" if args.write else None, body, after="realism-cues")


def picture(path: Path, maps: np.ndarray, images: dict[str, np.ndarray], grass: np.ndarray) -> None:
    """The three validation patches with the most field interior: map, then each image in true colour beside the
    gradient magnitude of its B08 (one scale for all), 4 screen pixels per 10 m pixel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = np.argsort(-grass.sum(axis=(1, 2)))[:3]
    gradients = {k: gradient(v)[:, 3] for k, v in images.items()}
    top = max(float(np.nanpercentile(g[picks], 99)) for g in gradients.values())
    columns = 1 + 2 * len(images)
    figure, axes = plt.subplots(len(picks), columns, figsize=(2.6 * columns, 2.8 * len(picks)), squeeze=False)
    for row, index in enumerate(picks):
        axes[row][0].imshow(maps[index].transpose(1, 2, 0), interpolation="nearest")
        axes[row][0].set_title("map" if row == 0 else "", fontsize=8)
        for k, (label, image) in enumerate(images.items()):
            rgb = np.clip(np.nan_to_num(image[index][[2, 1, 0]]).transpose(1, 2, 0) / 0.15, 0, 1)
            axes[row][1 + 2 * k].imshow(rgb, interpolation="nearest")
            axes[row][2 + 2 * k].imshow(gradients[label][index], cmap="magma", vmin=0, vmax=top,
                                        interpolation="nearest")  # fmt: skip
            if row == 0:
                axes[row][1 + 2 * k].set_title(label, fontsize=8)
                axes[row][2 + 2 * k].set_title(f"{label}: B08 gradient", fontsize=8)
    for axis in axes.ravel():
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    compact_png(path)


def body(summary: dict) -> str:
    seeds = summary["seeds"]
    lines = [
        "## Realism: inside the fields",
        "",
        header("scripts/realism_fields.py", "make bench-realism-fields  (.venv-backend/bin/python "
               f"scripts/realism_fields.py --seeds {','.join(map(str, seeds))} --write)"),  # fmt: skip
        "",
        f"{summary['patches']} patches of the split '{summary['splits']}' (a diagnosis: nothing is chosen here), each"
        f" model generating them at seeds {', '.join(map(str, seeds))} with its card's settings. Inside the map's"
        f" grass, the fields (eroded by {summary['erode_px']} px so that map edges do not count:"
        f" {summary['pixels']['grass']:,} px; forest has too few such pixels here), the magnitude of each band's"
        f" gradient after a Gaussian blur of {summary['blur_px']:g} px (changes at the scale of fields, not pixel"
        " noise), in reflectance per pixel: its median, and its tail, the 99th percentile / median. A field of one even"
        " tone with sharp edges to the next field has a small median and a long tail; a mottled one a larger median"
        " and a short tail. The synthetic columns are the mean over the seeds (the range in brackets).",
        "",
    ]
    models = list(summary["models"])
    for name in CLASSES:
        head = ["band", "real median", "real tail"]
        for model in models:
            head += [f"{model} median", f"{model} tail"]
        lines += [f"Map class {name}:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for band in BANDS:
            real = summary["real"][name][band]
            cells = [band, f"{real['median']:.4f}", f"{real['tail']:.1f}"]
            for model in models:
                runs = [summary["models"][model][str(s)][name][band] for s in seeds]
                for key, spec in (("median", ".4f"), ("tail", ".1f")):
                    values = [r[key] for r in runs]
                    cells.append(f"{np.mean(values):{spec}} ({min(values):{spec}}-{max(values):{spec}})")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    grass = summary["real"]["grass"]
    shorter = {
        model: sum(
            max(summary["models"][model][str(s)]["grass"][b]["tail"] for s in seeds) < grass[b]["tail"] for b in BANDS
        )
        for model in models
    }
    lines.append(
        "In the grass, the real fields' tail is "
        + ", ".join(f"{grass[b]['tail']:.1f} ({b})" for b in BANDS)
        + "; "
        + "; ".join(f"the {model}'s is shorter at every seed in {n} of {len(BANDS)} bands" for model, n in
                    shorter.items())  # fmt: skip
        + ". Seed "
        + str(seeds[0])
        + ", the three validation patches with the most field interior: map, then real and each model in true colour"
        " (one stretch) beside the gradient magnitude of its B08 (one scale for all; bright = a sharp change)."
    )
    lines += ["", "![map, real and each model with its B08 gradient](realism_fields.png)"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
