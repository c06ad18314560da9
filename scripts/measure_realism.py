"""Realism of pixel models on the demo dataset's held-out patches (validation + test): each model generates every
held-out map once (generate's sampling: item noise per patch id, the card's default steps and guidance unless
given), and the patches, real and synthetic, are cut into 32 px tiles for evaluate's realism measures: C2ST
(folds grouped by patch, with a shuffled-label control), gradient-energy ratio, high-frequency power share, band
correlations, per map-class group. Prints one JSON object; --out also writes realism.json, realism.md (a table)
and spectra.png (radially averaged power spectra, real and every model).

Run in the backend venv (the dataset: DEMO_PREPARE_ONLY=1 scripts/train_demo_model.sh):
  .venv-backend/bin/python scripts/measure_realism.py --model resources/models/mapsynth-demo-pixel-small \
      --model resources/models/mapsynth-demo-pixel-fewstep --out /tmp/realism
"""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from pathlib import Path

import numpy as np
from bench_doc import compact_png
from realism_card import card_steps, class_spectra, write_card

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "resources" / "models"
DEFAULT_MODELS = [MODELS / "mapsynth-demo-pixel-small", MODELS / "mapsynth-demo-pixel-fewstep"]
DATASET = ROOT / ".mapsynth-demo-training" / "dataset"
BATCH = 8


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", action="append", type=Path, help="model folder (repeatable; default: the two demo models)"
    )
    parser.add_argument("--dataset", type=Path, default=DATASET, help="dataset folder (build_training_dataset)")
    parser.add_argument("--splits", default="validation,test", help="held-out splits, comma-separated")
    parser.add_argument(
        "--patches", type=int, default=0, help="measure this many patches, evenly spaced in the split (0 = all)"
    )
    parser.add_argument("--steps", type=int, default=0, help="sampling steps; 0 = each card's default")
    parser.add_argument(
        "--sampler", default="", help="sets the card's 'sampler' key (models/pixel.py _sampler reads it); '' = card's"
    )
    parser.add_argument("--guidance", type=float, default=0.0, help="guidance; 0 = the card's (as generate)")
    parser.add_argument("--class-guidance", default="", help="per-class guidance as generate's, e.g. water=1.75")
    parser.add_argument("--class-guidance-margin", type=int, default=2, help="px around CLASS_GUIDANCE's classes")
    parser.add_argument("--seed", type=int, default=0, help="generation noise and C2ST seed")
    parser.add_argument("--folds", type=int, default=5, help="C2ST folds (grouped by patch)")
    parser.add_argument(
        "--c2st-repeats",
        type=int,
        default=1,
        help="C2ST runs averaged per row (seeds SEED + 1000 k; evaluate's default is 5, make bench-realism's too)",
    )
    parser.add_argument("--no-c2st", action="store_true", help="texture and correlation measures only (seconds)")
    parser.add_argument("--out", type=Path, help="folder for realism.json, realism.md and spectra.png")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="an ablation row MODEL_DIR,STEPS,SAMPLER[,FLAGS[,LABEL]] (STEPS 0 / SAMPLER empty = the card's; "
        "FLAGS: no-refiner (without the card's refiner), no-mtf (without its sensor_mtf), fit-mtf (with a sensor_mtf "
        "fitted here on the training maps, realism_sensor_mtf.py), joined by +; "
        "LABEL: the row's name); repeatable, with --model",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="write the table into docs/BENCHMARKS.md (section 'realism') and the spectra to docs/realism_spectra.png",
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="with --write: the section 'realism-ablation' (scripts/realism_ablation.sh's rows, chosen on validation) "
        "and docs/realism_ablation_spectra.png instead",
    )
    return parser.parse_args()


def card_settings(args: argparse.Namespace) -> argparse.Namespace:
    """generate()'s sampling settings as each model's card gives them (steps, sampler, guidance), no class guidance:
    for scripts whose own arguments do not set them."""
    args.steps, args.sampler, args.guidance, args.class_guidance, args.class_guidance_margin = 0, "", 0.0, "", 2
    return args


def validation_arguments(doc: str, summary_file: str, section: str) -> argparse.Namespace:
    """The arguments of a validation-patch section script (realism_calibration.py, realism_sensor_mtf.py): the
    dataset, the seeds, a folder for its summary file, --write (its section) and --summary (the section from an
    earlier run's summary file), with the cards' sampling settings."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--seeds", default="0,1,2", help="generation noise and C2ST seeds (validation)")
    parser.add_argument("--out", type=Path, help=f"folder for {summary_file}")
    parser.add_argument("--write", action="store_true", help=f"write the section '{section}'")
    parser.add_argument("--summary", type=Path, help=f"write the section from an earlier run's {summary_file}")
    return card_settings(parser.parse_args())


def held_out(dataset: Path, splits: list[str]) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Rows, real reflectance (N, 4, H, W; NaN = nodata) and map RGB (N, 3, H, W) uint8 of the held-out patches."""
    import cv2
    import rasterio

    from mapsynth_backend.radiometry import decode_reflectance
    from mapsynth_backend.train.data import read_dataset

    rows = [row for split in splits for row in read_dataset(dataset)[0][split]]
    if not rows:
        raise SystemExit(f"{dataset}: no patches in the splits {splits}")
    real, maps = [], []
    for row in rows:
        with rasterio.open(Path(row["root"]) / row["multispectral"]) as src:
            real.append(decode_reflectance(src.read()))
        image = cv2.imread(str(Path(row["root"]) / row["conditioning_image"]), cv2.IMREAD_UNCHANGED)
        maps.append(image[:, :, ::-1].transpose(2, 0, 1))
    return rows, np.stack(real).astype(np.float32), np.stack(maps)


def tone_layout(row: dict) -> np.ndarray:
    """The row's tone layout (bands, H, W) uint8, as train/data.py's load_pair reads it."""
    from mapsynth_backend.prepare.tone_layout import read_png

    if not row.get("tone_image"):
        raise SystemExit(f"{row['patch_id']}: the model takes tone layouts; --dataset has none (realism_tones.py)")
    return read_png(Path(row["root"]) / row["tone_image"])


def generate(
    model_dir: Path, rows: list[dict], maps: np.ndarray, args: argparse.Namespace, configure=None
) -> tuple[np.ndarray, dict]:
    """generate's sampling of every held-out map (variation 0): reflectance (N, bands, H, W) and the settings.
    ``configure(model)``, when given, changes the loaded model first (realism_polish.py: the refiner's setting)."""
    import torch

    from mapsynth_backend.generate.class_guidance import generation_weights, parse_class_guidance
    from mapsynth_backend.generate.command import default_steps
    from mapsynth_backend.generate.sampling import item_noise, map_to_model, remap_map, stack_noise, to_reflectance
    from mapsynth_backend.models import load_model

    model_dir, steps, sampler, flags = (
        model_dir if isinstance(model_dir, tuple) else (model_dir, args.steps, args.sampler, "")
    )
    model = load_model(model_dir)
    if "no-refiner" in flags:  # the student alone, without its card's refiner (models/refine.py)
        model.refiner = None
    if "no-mtf" in flags:  # without the card's sensor transfer function (generate/sensor_mtf.py)
        model.card.pop("sensor_mtf", None)
    if "fit-mtf" in flags:  # with one fitted on the model's generations of the training maps
        from realism_sensor_mtf import fit_for

        model.card["sensor_mtf"] = fit_for(model_dir, DATASET)
    if configure is not None:
        configure(model)
    if sampler:
        model.card["sampler"] = sampler
    steps = default_steps({"steps": steps}, model.card)
    guidance = model.guidance_scale(args.guidance)
    table = parse_class_guidance(args.class_guidance)
    tensors = torch.stack([map_to_model(remap_map(m, model.card.get("map_remap"))) for m in maps])
    if int(model.card.get("map_channels") or 3) > 3:  # a model trained with tone layouts (realism_tones.py)
        tensors = torch.cat([tensors, torch.stack([map_to_model(tone_layout(row)) for row in rows])], dim=1)
    out, start = [], time.perf_counter()
    for i in range(0, len(rows), BATCH):
        batch = tensors[i : i + BATCH]
        noise = stack_noise(
            [item_noise(model, args.seed, r["patch_id"], 0, maps.shape[-1]) for r in rows[i : i + BATCH]], "cpu"
        )
        weights = generation_weights(model, table, args.class_guidance_margin, guidance, batch)
        extra = {} if weights is None else {"guidance_map": weights}
        out.append(to_reflectance(model, model.sample(batch, noise, steps, guidance=guidance, **extra)))
    settings = {
        "model": str(model_dir),
        "steps": steps,
        "sampler": model.card.get("sampler") or "card default",
        "guidance": guidance,
        "class_guidance": table or None,
        "seed": args.seed,
        "refiner": model.card.get("refiner") if getattr(model, "refiner", None) is not None else None,
        "sensor_mtf": bool(model.card.get("sensor_mtf")),
        "s_per_patch": (time.perf_counter() - start) / len(rows),
    }
    return np.concatenate(out).astype(np.float32), settings


def tiles_of(real: np.ndarray, synthetic: np.ndarray, maps: np.ndarray) -> dict:
    """32 px tiles of every patch where neither side has nodata, grouped by patch, with their class group."""
    from mapsynth_backend.evaluate.realism import TILE, tile_groups
    from mapsynth_backend.evaluate.realism_section import patch_tiles
    from mapsynth_backend.prepare.landcover import palette

    bands = real.shape[1]
    tiles, groups, origins = patch_tiles(np.concatenate([real, synthetic], axis=1))
    codes = (maps[:, 0].astype(np.int64) << 16) | (maps[:, 1].astype(np.int64) << 8) | maps[:, 2]
    code_tiles = np.stack([codes[g, y : y + TILE, x : x + TILE] for g, (y, x) in zip(groups, origins, strict=True)])
    names = {(r << 16) | (g << 8) | b: key for key, (r, g, b) in palette().items()}
    classes = tile_groups(code_tiles, names)
    return {
        "real": tiles[:, :bands],
        "synthetic": tiles[:, bands:],
        "groups": groups,
        "real_classes": classes,
        "synthetic_classes": classes,
    }


def c2st_cell(test: dict | None) -> str:
    """A C2ST result as a table cell: accuracy with its 95 % interval, or n/a."""
    if not test or test.get("accuracy") is None:
        return "n/a"
    low, high = test["interval_95"]
    runs = f"; {test['repeats']} runs, SD {100 * test['spread_sd']:.1f}" if (test.get("repeats") or 1) > 1 else ""
    return f"{100 * test['accuracy']:.1f} % ({100 * low:.0f}-{100 * high:.0f}{runs})"


def markdown(summary: dict, bands: list[str]) -> str:
    """One row per model: C2ST, gradient ratio and high-frequency share per band, band-pair correlations."""
    pairs = list(summary["real"]["band_correlation"])
    head = ["model", "steps", "sampler", "C2ST (95 % interval)", "control"]
    head += [f"grad. ratio {b}" for b in bands] + [f"HF share {b}" for b in bands] + [f"r {p}" for p in pairs]
    head += ["C2ST on detail (95 % interval)"]
    real = summary["real"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    real_row = ["real", "", "", "50 % (chance)", ""] + ["1"] * len(bands)
    real_row += [f"{real['high_frequency_share'][b]['real']:.3f}" for b in bands]
    real_row += [f"{real['band_correlation'][p]['real']:.3f}" for p in pairs] + ["50 % (chance)"]
    lines.append("| " + " | ".join(real_row) + " |")

    def fmt(value, spec=".3f"):
        return "n/a" if value is None else format(value, spec)

    for name, entry in summary["models"].items():
        test = entry.get("c2st") or {}
        control = "n/a" if test.get("accuracy") is None else f"{100 * test['shuffled_control_accuracy']:.1f} %"
        row = [name, str(entry["settings"]["steps"]), entry["settings"]["sampler"], c2st_cell(test), control]
        row += [fmt(entry["gradient_energy"][b]["ratio"], ".2f") for b in bands]
        row += [fmt(entry["high_frequency_share"][b]["synthetic"]) for b in bands]
        row += [fmt(entry["band_correlation"][p]["synthetic"]) for p in pairs]
        row.append(c2st_cell(entry.get("c2st_detail")))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def spectra_plot(path: Path, real: np.ndarray, generated: dict[str, np.ndarray], bands: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mapsynth_backend.evaluate.realism import HIGH_FREQUENCY, radial_spectrum

    freq, p_real = radial_spectrum(real)
    figure, axes = plt.subplots(1, len(bands), figsize=(3.4 * len(bands), 3.2))
    for i, (axis, band) in enumerate(zip(axes, bands, strict=True)):
        axis.semilogy(freq, p_real[i], "k", lw=2, label="real")
        for name, tiles in generated.items():
            axis.semilogy(freq, radial_spectrum(tiles)[1][i], label=name)
        axis.axvline(HIGH_FREQUENCY, color="grey", lw=0.8, ls="--")
        axis.set_title(band)
        axis.set_xlabel("cycles per pixel")
    axes[0].set_ylabel("power (reflectance², Hann window)")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    compact_png(path)  # the docs copy it; the plugin zip must stay under 25 MB


def main() -> None:
    from mapsynth_backend.evaluate.realism import finite
    from mapsynth_backend.evaluate.realism_section import measure

    args = arguments()
    rows, real, maps = held_out(args.dataset, args.splits.split(","))
    if 0 < args.patches < len(rows):  # C2ST grows with the tiles it learns from: compare sets of equal size
        keep = np.linspace(0, len(rows) - 1, args.patches).round().astype(int)
        rows, real, maps = [rows[i] for i in keep], real[keep], maps[keep]
    bands = ["B02", "B03", "B04", "B08"]
    summary: dict = {"dataset": str(args.dataset), "splits": args.splits, "patches": len(rows), "models": {}}
    generated, patches = {}, {}
    runs: list = list(args.model or ([] if args.variant else DEFAULT_MODELS))
    labels: dict[int, str] = {}
    for text in args.variant:
        folder, steps, sampler, refine, label = (text.split(",") + ["", "", "", ""])[:5]
        runs.append((Path(folder), int(steps or 0), sampler, refine))
        labels[len(runs) - 1] = label
    card_runs: dict[str, Path] = {}  # summary row -> model folder, for the rows sampled with the card's settings
    for number, run in enumerate(runs):
        synthetic, settings = generate(run, rows, maps, args)
        as_card = not isinstance(run, tuple) or (not run[2] and not run[3] and run[1] in (0, card_steps(run[0])))
        model_dir = run[0] if isinstance(run, tuple) else run
        if isinstance(run, tuple):
            plain = ", no refiner" if "no-refiner" in run[3] else (", refined" if settings["refiner"] else "")
            if settings["sensor_mtf"]:
                plain += ", sensor MTF fitted on the training maps" if "fit-mtf" in run[3] else ", sensor MTF"
            name = labels.get(number) or model_dir.name
            model_dir = Path(f"{name}, {settings['steps']} steps, {settings['sampler']}{plain}")
        synthetic[~np.isfinite(real)] = np.nan  # nodata where the real patch has none: the same tiles on both sides
        tiles = tiles_of(real, synthetic, maps)
        start = time.perf_counter()
        entry = measure(
            tiles, bands, seed=args.seed, folds=args.folds, with_c2st=not args.no_c2st, repeats=args.c2st_repeats
        )
        entry.pop("meaning", None)
        entry["settings"] = {**settings, "measure_s": time.perf_counter() - start}
        name = (
            model_dir.name
            if model_dir.name not in summary["models"]
            else f"{model_dir.name} #{len(summary['models']) + 1}"
        )
        summary["models"][name] = entry
        if as_card and not args.guidance and not args.class_guidance and not args.sampler and not args.steps:
            card_runs[name] = run[0] if isinstance(run, tuple) else run
        summary["real"] = {k: entry[k] for k in ("high_frequency_share", "band_correlation", "gradient_energy")}
        summary["tiles"] = entry["tiles"]
        generated[name] = tiles["synthetic"]
        patches[name] = synthetic
        real_tiles = tiles["real"]
    summary = finite(summary)
    print(json.dumps(summary, allow_nan=False))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "realism.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
        (args.out / "realism.md").write_text(markdown(summary, bands))
        spectra_plot(args.out / "spectra.png", real_tiles, generated, bands)
        side_by_side(args.out / "town.png", real, maps, patches)
    if args.write and args.ablation:
        write_ablation(summary, bands, real_tiles, generated)
    elif args.write:
        write_benchmark(summary, bands, real_tiles, generated)
        side_by_side(ROOT / "docs" / "realism_town.png", real, maps, patches)
        for name, folder in card_runs.items():
            write_card(folder, summary, name, class_spectra(real, patches[name], maps))


def side_by_side(path: Path, real: np.ndarray, maps: np.ndarray, patches: dict[str, np.ndarray]) -> None:
    """The held-out patches with the most built-up map pixels, at full resolution (each 10 m pixel 4 x 4 screen
    pixels, nearest neighbour): the map, the real image and every model's, true colour with one fixed stretch."""
    from mapsynth_backend.evaluate.realism import CLASS_GROUPS
    from mapsynth_backend.prepare.landcover import palette

    colours = [rgb for key, rgb in palette().items() if key in CLASS_GROUPS["built_up"]]
    built = np.zeros(len(maps))
    for rgb in colours:
        built += (maps == np.array(rgb, dtype=maps.dtype)[None, :, None, None]).all(axis=1).mean(axis=(1, 2))
    order = np.argsort(-built, kind="stable")[:3]
    columns = [("map", maps, True), ("real Sentinel-2", real, False)]
    columns += [(textwrap.fill(title.replace("mapsynth-demo-pixel-", ""), 26), images, False) for title, images in
                patches.items()]  # fmt: skip
    patch_table(path, order, columns)


def patch_table(path: Path, order: np.ndarray, columns: list[tuple[str, np.ndarray, bool]]) -> None:
    """A row per patch index of ``order``, a column per (title, stack, is a map): maps as they are, reflectance
    (N, bands, H, W) in true colour with one fixed stretch; each 10 m pixel 4 x 4 screen pixels, nearest
    neighbour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(order), len(columns), figsize=(2.9 * len(columns), 2.9 * len(order)))
    axes = np.atleast_2d(axes)
    for r, index in enumerate(order):
        for c, (title, stack, is_map) in enumerate(columns):
            axis = axes[r, c]
            if is_map:
                axis.imshow(stack[index].transpose(1, 2, 0), interpolation="nearest")
            else:
                rgb = np.nan_to_num(stack[index][[2, 1, 0]].transpose(1, 2, 0), nan=0.0)
                axis.imshow(np.clip(rgb / 0.16, 0, 1) ** 0.8, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(title, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_benchmark(summary: dict, bands: list[str], real_tiles, generated) -> None:
    """The 'realism' section of docs/BENCHMARKS.md and its spectra plot, from this run."""
    import shlex
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_doc import header, write_section

    spectra_plot(ROOT / "docs" / "realism_spectra.png", real_tiles, generated, bands)
    repeats = max((e.get("c2st") or {}).get("repeats") or 1 for e in summary["models"].values())
    runs = (
        f" Each C2ST is the mean of {repeats} runs of the classifier on the same tiles (seeds 0, 1000, ...: other"
        " folds, weights and batches; evaluate's default, its C2ST_REPEATS), since one run moves by 3-5 points with"
        " the classifier's seed alone (section realism-sensor-mtf); SD is the runs' standard deviation and the"
        " interval resamples patches with all runs' predictions; the control is run 0's."
        if repeats > 1
        else ""
    )
    command = (
        "make bench-realism  (.venv-backend/bin/python scripts/measure_realism.py "
        + " ".join(shlex.quote(a) for a in sys.argv[1:])
        + ")"
    )
    body = "\n".join(
        [
            "## Realism: what a discriminator sees",
            "",
            header("scripts/measure_realism.py", command),
            "",
            f"{summary['patches']} held-out patches ({summary['splits']}) of the demo dataset, each generated once"
            f" (seed 0) and cut with its real patch into 32 px tiles ({summary['tiles']['real']} per side)."
            " C2ST: a small CNN told to separate real from synthetic tiles, 5 folds grouped by patch, 95 % interval"
            " by bootstrap over patches, and the same classifier on shuffled labels as control (50 % = cannot"
            f" tell).{runs} Gradient ratio: synthetic / real mean squared pixel-to-pixel difference (1 = real)."
            " HF share:"
            " share of a tile's spectral power above 1/4 cycle per pixel (real's in the first row). r: mean"
            " within-tile correlation of two bands. C2ST on detail (last column): the same classifier on each tile"
            " minus its Gaussian blur of 2 px, both sides (texture and pixel noise only; evaluate's detail view,"
            " where two sets of real tiles score about 50 %; section realism-cues). The classifier's training is"
            " not bitwise the same on every CPU, so a rerun on another machine moves C2ST by a few points for the"
            " same images: read the interval. Targets: C2ST <= 65 %, gradient ratio 0.9-1.15, HF share within"
            " 20 % of real, every r within 0.03 of real. The embedded models were trained on the guarded split: no"
            " training pixel lies in these patches (the dataset card's shared_pixels is 0). The teacher's sampler"
            " (first row) was chosen on the validation patches by C2ST over 3 seeds (sampler_choice in its card);"
            " the other teacher rows show the alternatives. Every row holds water to real water's spectra"
            " as both cards say (class_spectra, section water). Each model's own row is also in its card"
            " (held_out_evaluation.realism).",
            "",
            markdown(summary, bands).rstrip(),
            "",
            "![radially averaged power spectra, real and each row](realism_spectra.png)",
        ]
    )
    write_section("realism", body)


def write_ablation(summary: dict, bands: list[str], real_tiles, generated) -> None:
    """The 'realism-ablation' section: samplers and training changes of the teacher, measured on validation."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_doc import header, write_section

    spectra_plot(ROOT / "docs" / "realism_ablation_spectra.png", real_tiles, generated, bands)
    body = "\n".join(
        [
            "## Realism: sampler and training ablation of the teacher",
            "",
            header("scripts/measure_realism.py", "make bench-realism-ablation"),
            "",
            f"{summary['patches']} patches of the split '{summary['splits']}' (choices are made here, never on the"
            " test patches), each generated once (seed 0), measured as in the realism section. Sampler rows: the"
            " embedded teacher with the deterministic DPM-Solver++ (its card's), the stochastic SDE-DPM-Solver++ and"
            " DDIM with eta 1 (both inject fresh noise at every step, drawn per item). Training rows: the embedded"
            " teacher fine-tuned 1,200 more steps (batch 8, learning rate 1e-4 constant, seed 0) as it was trained"
            " (plain), with an exponential moving average of the weights (EMA, decay 0.999; the saved model is the"
            " average), and with EMA plus min-SNR loss weighting (gamma 5, Hang et al. 2023). One seed each: the"
            " C2ST interval is over patches, not over training runs. Every row samples with guidance 1"
            " (the teacher's card; a fine-tune's new card would say 2).",
            "",
            markdown(summary, bands).rstrip(),
            "",
            "![radially averaged power spectra, real and each row](realism_ablation_spectra.png)",
        ]
    )
    write_section("realism-ablation", body, after="realism-refiner")


if __name__ == "__main__":
    main()
