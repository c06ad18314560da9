"""make bench-pix2pix (issue 21): the pix2pix baseline against the embedded pixel diffusion model, side by side on
the demo scene's held-out patches, plus map-free class samples. Run in the backend venv:

    .venv-backend/bin/python scripts/bench_pix2pix.py --dataset DATASET --pix2pix P2P_MODEL --out FOLDER

Stages (each cached as FOLDER/<stage>.json, so a killed run continues): ``heldout-<gen>`` (patches/s, Wasserstein
per band, NDVI per class, map adherence with the experiment's segmenter, variation spread), ``classes`` (class
samples: flat map at several guidance scales and the map-free branch, NDVI against the class's real pixels and the
share the segmenter calls that class), ``oversample`` (the rarest class's samples added to the segmenter's real
training pairs). The augmentation experiment itself runs through ``mapsynth augmentation-experiment`` (see
--experiment). Prints one JSON object with every stage.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from mapsynth_backend.evaluate.metrics import ndvi
from mapsynth_backend.experiment import segmenter
from mapsynth_backend.experiment.data import IGNORE, class_table, contiguous_order, load_dataset, real_subset, targets
from mapsynth_backend.generate.sample_class import flat_map
from mapsynth_backend.generate.sampling import item_noise, map_to_model, stack_noise, to_reflectance
from mapsynth_backend.models import load_model
from mapsynth_backend.models.pixel import NULL_MAP
from mapsynth_backend.prepare.landcover import palette

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "models" / "mapsynth-demo-pixel-small"
BATCH = 8
STAGES = ("heldout-pixel", "heldout-pix2pix", "classes", "oversample", "experiment-pixel", "experiment-pix2pix")


def cached(out: Path, stage: str, compute):
    path = out / f"{stage}.json"
    if path.exists():
        return json.loads(path.read_text())
    began = time.perf_counter()
    result = compute()
    result["stage_seconds"] = round(time.perf_counter() - began, 1)
    path.write_text(json.dumps(result, indent=2))
    print(f"{stage}: {result['stage_seconds']} s", file=sys.stderr, flush=True)
    return result


def generate(model, maps: np.ndarray, keys: list[str], variation: int, steps: int, guidance: float):
    """Reflectance (N, bands, H, W) for uint8 maps (N, 3, H, W); the noise of item i from (0, keys[i], variation)."""
    out = []
    size = maps.shape[-1]
    for start in range(0, len(maps), BATCH):
        batch = torch.stack([map_to_model(m) for m in maps[start : start + BATCH]])
        if guidance < 0:  # the map-free branch: no map at all
            batch, guidance_used = torch.full_like(batch, NULL_MAP), 1.0
        else:
            guidance_used = guidance
        noises = stack_noise([item_noise(model, 0, k, variation, size) for k in keys[start : start + BATCH]], "cpu")
        out.append(to_reflectance(model, model.sample(batch, noises, steps, guidance=guidance_used)))
    return np.concatenate(out).astype(np.float32)


def ndvi_of(images: np.ndarray, bands: list[str]) -> np.ndarray:
    """NDVI of (N, bands, H, W) -> (N, H, W)."""
    return ndvi(images.swapaxes(0, 1), bands)


def wasserstein(real: np.ndarray, fake: np.ndarray, rng) -> float:
    from scipy.stats import wasserstein_distance

    real, fake = real[np.isfinite(real)], fake[np.isfinite(fake)]
    pick = min(len(real), len(fake), 200_000)
    return float(wasserstein_distance(rng.choice(real, pick, replace=False), rng.choice(fake, pick, replace=False)))


def segment(seg, card, images: np.ndarray) -> np.ndarray:
    norm = card["normalisation"]
    return segmenter.predict(seg, segmenter.normalise(images, norm["mean"], norm["std"]))


def heldout(model_dir: Path, pairs, classes, bands, seg_dir: Path, steps: int) -> dict:
    torch.manual_seed(0)
    model = load_model(model_dir, "cpu", torch.float32)
    guidance = model.guidance_scale(0.0)
    maps = np.stack([p.map_rgb for p in pairs])
    keys = [p.patch_id for p in pairs]
    generate(model, maps[:BATCH], keys[:BATCH], 0, steps, guidance)  # warm-up
    began = time.perf_counter()
    fake = generate(model, maps, keys, 0, steps, guidance)
    seconds = time.perf_counter() - began
    second = generate(model, maps, keys, 1, steps, guidance)
    real = np.stack([p.image for p in pairs])
    rng = np.random.default_rng(0)
    result = {
        "model": str(model_dir),
        "family": model.card["family"],
        "patches": len(pairs),
        "steps": steps if model.card["family"] != "pix2pix" else 1,
        "guidance": guidance,
        "patches_per_s": len(pairs) / seconds,
        "threads": torch.get_num_threads(),
        "wasserstein": {b: wasserstein(real[:, i], fake[:, i], rng) for i, b in enumerate(bands)},
        "variation_spread": {
            b: float(np.nanmean(np.abs(fake[:, i] - second[:, i]))) for i, b in enumerate(bands)
        },  # mean |v00 - v01| reflectance
    }
    labels = np.stack([targets(p.map_rgb, classes) for p in pairs])
    ndvi_real, ndvi_fake = ndvi_of(real, bands), ndvi_of(fake, bands)
    per_class = {}
    for index, (name, _) in enumerate(classes):
        mask = labels == index
        real_values = ndvi_real[mask][np.isfinite(ndvi_real[mask])]
        if len(real_values) < 50:
            continue
        per_class[name] = {
            "pixels": int(mask.sum()),
            "real_median": float(np.median(real_values)),
            "synthetic_median": float(np.nanmedian(ndvi_fake[mask])),
        }
    result["ndvi_per_class"] = per_class
    seg, card = segmenter.load(seg_dir)
    names = [c["name"] for c in card["classes"]]
    seg_targets = np.stack([targets(p.map_rgb, [(c["name"], tuple(c["rgb"])) for c in card["classes"]]) for p in pairs])
    for label, images in (("synthetic", fake), ("real_ceiling", real)):
        valid = np.isfinite(images).all(axis=1)
        scored = segmenter.scores(
            segmenter.confusion(segment(seg, card, images), np.where(valid, seg_targets, IGNORE), len(names)), names
        )
        result[f"adherence_{label}"] = {
            "miou": scored["miou"],
            "f1": {k: v["f1"] for k, v in scored["per_class"].items()},
        }
    return result


def class_samples(pix2pix_dir: Path, dataset, classes, bands, seg_dir: Path, count: int, steps: int) -> dict:
    """NDVI of K samples per class and setting against the class's real pixels (training split)."""
    seg, card = segmenter.load(seg_dir)
    seg_names = [c["name"] for c in card["classes"]]
    real = np.stack([p.image for p in dataset.pairs["train"]])
    labels = np.stack([targets(p.map_rgb, classes) for p in dataset.pairs["train"]])
    real_ndvi = ndvi_of(real, bands)
    pixel = load_model(DEMO, "cpu", torch.float32)
    gan = load_model(pix2pix_dir, "cpu", torch.float32)
    rng = np.random.default_rng(0)
    settings = {
        "pixel flat map, guidance 1": (pixel, 1.0),
        "pixel flat map, guidance 2 (card default)": (pixel, 2.0),
        "pixel flat map, guidance 4": (pixel, 4.0),
        "pixel map-free (unconditional)": (pixel, -1.0),
        "pix2pix flat map": (gan, 1.0),
    }
    out = {}
    for name in ("forest", "water", "bare"):
        index = [n for n, _ in classes].index(name)
        reference = real_ndvi[labels == index]
        reference = reference[np.isfinite(reference)]
        rows = {"real_pixels": int(reference.size), "real_median": float(np.median(reference))}
        for label, (model, guidance) in settings.items():
            size = model.card["patch_size"]
            maps = np.stack([flat_map(name, size, model.card.get("map_remap"))] * count)
            images = generate(model, maps, [f"{name}-{i}" for i in range(count)], 0, steps, guidance)
            values = ndvi_of(images, bands)
            predicted = segment(seg, card, images)
            rows[label] = {
                "median": float(np.nanmedian(values)),
                "ndvi_wasserstein": wasserstein(reference, values.ravel(), rng),
                "segmenter_share": float((predicted == seg_names.index(name)).mean()),
            }
        out[name] = rows
    return {"count": count, "steps": steps, "classes": out}


def oversample(dataset, classes, rare: str, count: int, steps: int, fractions, seeds: int, seg_steps: int) -> dict:
    """Real blocks (``fractions`` of the training split) with and without ``count`` samples of ``rare`` appended to
    the real pool (segmenter settings of make experiment: 200 steps of 8 patches)."""
    pixel = load_model(DEMO, "cpu", torch.float32)
    names = [n for n, _ in classes]
    maps = np.stack([flat_map(rare, pixel.card["patch_size"], pixel.card.get("map_remap"))] * count)
    samples = generate(pixel, maps, [f"{rare}-{i}" for i in range(count)], 0, steps, 0.0 + pixel.guidance_scale(0))
    sample_targets = np.full(samples.shape[:1] + samples.shape[2:], names.index(rare), np.uint8)
    test = dataset.pairs["test"]
    test_images = np.stack([p.image for p in test]).astype(np.float32)
    test_targets = np.stack([targets(p.map_rgb, classes) for p in test])
    ordered = contiguous_order(dataset.pairs["train"])
    runs = []
    for fraction in fractions:
        real_pairs, _ = real_subset(ordered, fraction)
        images = np.stack([p.image for p in real_pairs]).astype(np.float32)
        labels = np.stack([targets(p.map_rgb, classes) for p in real_pairs])
        stats = segmenter.band_stats(images)
        for arm, (pool_images, pool_labels) in {
            "real": (images, labels),
            f"real + {count} {rare} samples": (
                np.concatenate([images, samples]),
                np.concatenate([labels, sample_targets]),
            ),
        }.items():
            for seed in range(seeds):
                model = segmenter.train(
                    [(segmenter.normalise(pool_images, *stats), pool_labels)], len(names), seg_steps, 8, seed
                )
                predicted = segmenter.predict(model, segmenter.normalise(test_images, *stats))
                scored = segmenter.scores(segmenter.confusion(predicted, test_targets, len(names)), names)
                runs.append(
                    {
                        "fraction": fraction,
                        "arm": arm,
                        "seed": seed,
                        "miou": scored["miou"],
                        f"{rare}_iou": scored["per_class"][rare]["iou"],
                        f"{rare}_test_pixels": scored["per_class"][rare]["pixels"],
                    }
                )
                print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    return {"rare": rare, "count": count, "generation_steps": steps, "segmenter_steps": seg_steps, "runs": runs}


def experiment(backend: Path, dataset: Path, model: Path, out: Path, synthetic_dir: str, args) -> dict:
    """The augmentation experiment with the settings of make experiment, reduced (fractions, seeds)."""
    command = [str(backend), "augmentation-experiment", "--dataset", str(dataset), "--model", str(model)]
    command += ["--real-fractions", args.exp_fractions, "--seeds", str(args.exp_seeds), "--variations", "1"]
    command += ["--synthetic", "same_maps", "--generation-steps", "10", "--steps", "200", "--batch-size", "8"]
    command += ["--threads", "1", "--output-dir", str(out), "--json"]
    if synthetic_dir:
        command += ["--synthetic-dir", synthetic_dir]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    results = json.loads((out / "results.json").read_text())
    return {"settings": results["settings"], "summary": results["summary"], "missing": results["runs_missing"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=ROOT / ".mapsynth-experiment" / "data" / "dataset")
    parser.add_argument("--pix2pix", type=Path, required=True, help="a trained pix2pix model directory")
    parser.add_argument("--segmenter", type=Path, default=ROOT / ".mapsynth-experiment" / "results" / "segmenter")
    parser.add_argument("--out", type=Path, default=ROOT / ".mapsynth-bench-pix2pix")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--steps", type=int, default=20, help="pixel sampling steps on the held-out patches")
    parser.add_argument("--class-count", type=int, default=6)
    parser.add_argument("--class-steps", type=int, default=10)
    parser.add_argument("--fractions", default="0.1,1.0", help="real fractions of the oversampling stage")
    parser.add_argument("--seeds", type=int, default=2, help="segmenter seeds of the oversampling stage")
    parser.add_argument("--exp-fractions", default="0.1", help="real fractions of the augmentation experiment")
    parser.add_argument("--exp-seeds", type=int, default=3, help="segmenter seeds of the augmentation experiment")
    parser.add_argument("--limit", type=int, default=0, help="smoke test: only the first N held-out patches")
    parser.add_argument("--pixel-synthetic-dir", default="", help="already generated pixel images of the train maps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(args.dataset, json.loads((DEMO / "model_card.json").read_text()).get("map_remap"))
    classes = class_table(dataset, palette())
    bands = dataset.bands
    held = (dataset.pairs["test"] + dataset.pairs["validation"])[: args.limit or None]
    stages = args.stages.split(",")
    fractions = [float(f) for f in args.fractions.split(",")]
    report = {"dataset": str(args.dataset), "held_out": len(held), "torch": torch.__version__}
    for label, model in (("pixel", DEMO), ("pix2pix", args.pix2pix)):
        if f"heldout-{label}" in stages:
            report[f"heldout-{label}"] = cached(
                args.out,
                f"heldout-{label}",
                lambda m=model: heldout(m, held, classes, bands, args.segmenter, args.steps),
            )
    if "classes" in stages:
        report["classes"] = cached(
            args.out,
            "classes",
            lambda: class_samples(
                args.pix2pix, dataset, classes, bands, args.segmenter, args.class_count, args.class_steps
            ),
        )
    if "oversample" in stages:
        report["oversample"] = cached(
            args.out,
            "oversample",
            lambda: oversample(dataset, classes, "forest", 16, args.class_steps, fractions, args.seeds, 200),
        )
    backend = Path(sys.executable).parent / "mapsynth"
    for label, model, synthetic in (("pixel", DEMO, args.pixel_synthetic_dir), ("pix2pix", args.pix2pix, "")):
        if f"experiment-{label}" in stages:
            report[f"experiment-{label}"] = cached(
                args.out,
                f"experiment-{label}",
                lambda m=model, s=synthetic, lab=label: experiment(
                    backend, args.dataset, m, args.out / f"exp-{lab}", s, args
                ),
            )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
