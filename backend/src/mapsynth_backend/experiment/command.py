"""`augmentation-experiment`: does synthetic imagery help a downstream segmentation model?

With LABELS (independent hand-labelled polygons) it is the experiment of independent.py: segmenters scored on the
polygons only, with spatial folds, a guard between scored pixels and every training patch, a generator per real
block trained on that block alone, extras added on top of the real samples, early stopping, a classical-
augmentation control, paired seeds and pre-registered comparisons. Without LABELS the older derived-label mode
runs (with a warning: its labels are the derived maps, a rule applied to the imagery the segmenter sees): real
fractions as contiguous blocks, synthetic images from MODEL, scored on the dataset's test split. Every finished
run is a file under runs/, so a killed or cancelled experiment continues with the runs it has not finished.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.torch_state import restores_torch_state
from . import segmenter
from .data import Dataset, class_table, contiguous_order, load_dataset, parse_fractions, real_subset, targets
from .links import Command, Param, Reporter, UserError, atomic_write, palette, prepare_output_dir, read_card
from .report import write_report
from .runs import SOURCES, Run, plan, summarise
from .synthesis import generate_missing, read_synthetic

GENERATION_SHARE = 0.3  # of the progress bar, when images are generated
INDEPENDENT_DETAILS = (
    *("model", "labels", "label_field", "real_fractions", "synthetic", "variations", "seeds", "steps"),
    *("batch_size", "folds", "guard", "validate_every", "patience", "generator_from", "generator_preset"),
    *("generator_steps", "generation_steps", "guidance", "generation_seed"),
)


def _sources(text: str) -> list[str]:
    sources = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise UserError(f"SYNTHETIC: {unknown[0]!r} is not one of {', '.join(SOURCES)}")
    return [s for s in SOURCES if s in sources]


def _check_model(model_dir: str, dataset: Dataset) -> dict[str, Any]:
    card = read_card(model_dir)
    if list(card["bands"]) != list(dataset.bands):
        raise UserError(
            f"MODEL: it generates bands {', '.join(card['bands'])} but the dataset has {', '.join(dataset.bands)};"
            " use a model trained on this dataset's bands"
        )
    size = dataset.pairs["train"][0].image.shape[-1]
    if card.get("patch_size") != size:
        raise UserError(f"MODEL: it generates {card.get('patch_size')} px patches, the dataset's are {size} px")
    return card


def _stack(images: list[np.ndarray], maps: list[np.ndarray], classes) -> tuple[np.ndarray, np.ndarray]:
    if not images:
        return np.zeros((0,)), np.zeros((0,))
    return np.stack(images).astype(np.float32), np.stack([targets(m, classes) for m in maps])


DERIVED_WARNING = (
    "No LABELS given: the experiment scores against the derived maps, whose labels come from the imagery itself"
    " (a rule applied to the very pixels the segmenter sees), so it measures how well a segmenter copies that"
    " rule, not land cover; give LABELS (independent polygons) and LABEL_FIELD for a meaningful result"
)


BASE_MODEL_WARNING = (
    "GENERATOR_FROM=model: every block's generator is fine-tuned from MODEL ({model}), which may have been trained"
    " on imagery of the labelled polygons; the guard keeps the polygons away from the block each generator is"
    " fine-tuned on, not from what MODEL saw before, so the synthetic arms may carry scored pixels: use"
    " GENERATOR_FROM=scratch unless MODEL was trained away from the labelled area"
)


def _device(requested: str) -> str:
    """'auto' (the default of the CLI and QGIS alike) = CUDA when this torch sees a GPU, else the CPU."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"DEVICE: {requested} was asked for but this backend's torch sees no CUDA GPU (see doctor)")
    return requested


@restores_torch_state  # it sets the thread count (THREADS) and seeds torch's default generator
def augmentation_experiment(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    """Scored on independent polygons when LABELS is given, else the derived-label mode (with a warning)."""
    params = {**params, "device": _device(params["device"])}
    if params["labels"].strip():
        if not params["label_field"].strip():
            raise UserError("LABEL_FIELD: name the field of LABELS that holds each polygon's class")
        return _independent_experiment(params, reporter)
    reporter.log(f"WARNING: {DERIVED_WARNING}")
    return _derived_experiment(params, reporter)


def _independent_experiment(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import torch

    from .independent import Experiment, finish, run_all

    fractions = parse_fractions(params["real_fractions"])
    sources = _sources(params["synthetic"])
    out = Path(params["output_dir"])
    reporter.progress(0.0, "reading the dataset and the labels", "augmentation-experiment")
    dataset = load_dataset(params["dataset"], read_card(params["model"]).get("map_remap"), need_test=False)
    card = _check_model(params["model"], dataset)
    experiment = Experiment(dataset, params, sources, fractions)
    details = {key: params[key] for key in INDEPENDENT_DETAILS}
    prepare_output_dir(out, "augmentation-experiment", dataset.fingerprint(), details)
    warnings = []
    generators = any(a in ("real+same_maps", "real+unpaired_maps") for u in experiment.units for a in u.arms)
    if params["generator_from"] == "model" and generators:
        warnings.append(BASE_MODEL_WARNING.format(model=params["model"]))
        reporter.log(f"WARNING: {warnings[-1]}")
    header = {
        "dataset": str(dataset.folder),
        "model": params["model"],
        "generator": card.get("name", card.get("family")) if params["generator_from"] == "model" else "scratch",
        "labels": params["labels"],
        "settings": details,
        "warnings": warnings,
    }
    if not params["report_only"]:
        torch.set_num_threads(max(1, params["threads"] or torch.get_num_threads()))
        run_all(experiment, out, reporter)
    return finish(experiment, out, header)


def _derived_experiment(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import torch

    fractions = parse_fractions(params["real_fractions"])
    sources = _sources(params["synthetic"])
    out = Path(params["output_dir"])
    remap = read_card(params["model"]).get("map_remap")
    reporter.progress(0.0, "reading the dataset", "augmentation-experiment")
    dataset = load_dataset(params["dataset"], remap)
    card = _check_model(params["model"], dataset)
    classes = class_table(dataset, palette())
    names = [name for name, _ in classes]
    ordered = contiguous_order(dataset.pairs["train"])
    blocks = {f: real_subset(ordered, f) for f in fractions}
    runs = plan(fractions, sources, params["seeds"], {f: len(rest) for f, (_, rest) in blocks.items()})
    details = {
        key: params[key]
        for key in (
            *("model", "real_fractions", "synthetic", "synthetic_dir", "variations", "seeds", "steps"),
            *("batch_size", "generation_steps", "guidance", "generation_seed"),
        )
    }
    prepare_output_dir(out, "augmentation-experiment", dataset.fingerprint(), details)
    (out / "runs").mkdir(exist_ok=True)
    if params["report_only"]:
        return _finish(out, runs, names, dataset, params, card)
    torch.set_num_threads(max(1, params["threads"] or torch.get_num_threads()))

    synthetic_dir = Path(params["synthetic_dir"]) if params["synthetic_dir"] else out / "synthetic"
    if sources and not params["synthetic_dir"]:
        synthetic_dir.mkdir(exist_ok=True)
        written = generate_missing(
            params["model"],
            ordered,
            params["variations"],
            synthetic_dir,
            {
                "device": params["device"],
                "seed": params["generation_seed"],
                "steps": params["generation_steps"],
                "guidance": params["guidance"],
                "batch_size": 8,
            },
            reporter,
            (0.0, GENERATION_SHARE),
        )
        reporter.log(f"synthetic images: {written} generated, the others were already in {synthetic_dir}")
    synthetic = read_synthetic(synthetic_dir, ordered, params["variations"], dataset.bands) if sources else {}
    test_images, test_targets = _stack(
        [p.image for p in dataset.pairs["test"]], [p.map_rgb for p in dataset.pairs["test"]], classes
    )

    start = GENERATION_SHARE if sources and not params["synthetic_dir"] else 0.0
    done = [r for r in runs if (out / "runs" / f"{r.key}.json").exists()]
    if done:
        reporter.log(f"resuming: {len(done)} of {len(runs)} runs already finished")
    for number, run in enumerate(runs):
        path = out / "runs" / f"{run.key}.json"
        if path.exists():
            continue
        reporter.check_cancel()
        base = start + (1 - start) * number / len(runs)
        reporter.progress(base, f"run {number + 1}/{len(runs)}: {run.key}", "augmentation-experiment")
        began = time.monotonic()
        result, model, stats = _one_run(run, blocks[run.fraction], synthetic, classes, params, reporter)
        result["test"] = segmenter.scores(
            segmenter.confusion(
                segmenter.predict(model, segmenter.normalise(test_images, *stats)), test_targets, len(names)
            ),
            names,
        )
        result.update(miou=result["test"]["miou"], per_class=result["test"]["per_class"])
        result["seconds"] = round(time.monotonic() - began, 1)
        if run.arm == "real" and run.fraction == max(fractions) and run.seed == 0:
            seg_card = {
                "bands": dataset.bands,
                "classes": [{"name": n, "rgb": list(rgb)} for n, rgb in classes],
                "map_remap": remap,
                "normalisation": {"mean": stats[0], "std": stats[1]},
                "trained_on": f"{result['real_images']} real training pairs of {dataset.folder}",
                "test_miou": result["miou"],
            }
            segmenter.save(out / "segmenter", model, seg_card)
        atomic_write(path, lambda tmp, r=result: tmp.write_text(json.dumps(r, indent=2), encoding="utf-8"))
        reporter.metric(f"miou/{run.key}", result["miou"] if result["miou"] is not None else float("nan"))
    return _finish(out, runs, names, dataset, params, card)


def _one_run(run: Run, block, synthetic, classes, params, reporter):
    real_pairs, withheld = block
    real = [] if run.arm == "synthetic_only" else real_pairs
    fake_pairs = {"real": [], "real+unpaired_maps": withheld}.get(run.arm, real_pairs)
    real_images, real_targets = _stack([p.image for p in real], [p.map_rgb for p in real], classes)
    fake = [(image, p.map_rgb) for p in fake_pairs for image in synthetic[p.patch_id]]
    fake_images, fake_targets = _stack([i for i, _ in fake], [m for _, m in fake], classes)
    train_pool = real_images if len(real_images) else fake_images
    stats = segmenter.band_stats(train_pool)
    pools = [(segmenter.normalise(real_images, *stats), real_targets)] if len(real_images) else []
    if len(fake_images):
        pools.append((segmenter.normalise(fake_images, *stats), fake_targets))

    def check(step: int) -> None:
        if step % 10 == 0:
            reporter.check_cancel()

    model = segmenter.train(pools, len(classes), params["steps"], params["batch_size"], run.seed, check=check)
    result = {
        "key": run.key,
        "arm": run.arm,
        "real_fraction": run.fraction,
        "synthetic": run.synthetic,
        "seed": run.seed,
        "real_images": len(real),
        "synthetic_images": len(fake),
        "train_patches": sorted(p.patch_id for p in real),
        "synthetic_map_patches": sorted(p.patch_id for p in fake_pairs) if fake else [],
    }
    return result, model, stats


def _finish(out: Path, runs: list[Run], names: list[str], dataset: Dataset, params, card) -> dict[str, Any]:
    paths = [out / "runs" / f"{r.key}.json" for r in runs]
    finished = [json.loads(p.read_text()) for p in paths if p.exists()]
    if not finished:
        raise UserError(f"OUTPUT_DIR: no run of this experiment has finished yet in {out}")
    results = {
        "dataset": str(dataset.folder),
        "model": params["model"],
        "classes": names,
        "splits": {split: len(pairs) for split, pairs in dataset.pairs.items()},
        "settings": {
            k: params[k] for k in ("real_fractions", "synthetic", "variations", "seeds", "steps", "batch_size")
        },
        "runs": [
            {
                k: r[k]
                for k in (
                    "real_fraction",
                    "arm",
                    "synthetic",
                    "seed",
                    "miou",
                    "per_class",
                    "real_images",
                    "synthetic_images",
                    "train_patches",
                    "synthetic_map_patches",
                    "seconds",
                )
            }
            for r in finished
        ],
        "summary": summarise(finished, names),
        "runs_missing": [r.key for r, p in zip(runs, paths, strict=True) if not p.exists()],
    }
    notes = [
        f"Dataset {dataset.folder}: {results['splits']} pairs; scored on the {results['splits']['test']} held-out"
        f" real test pairs only. Generator {params['model']} ({card.get('name', card.get('family'))}),"
        f" {params['variations']} variation(s) per map.",
        f"Segmenter: MONAI U-Net {segmenter.ARCHITECTURE['channels']}, random init, {params['steps']} steps of"
        f" {params['batch_size']} patches (equal shares of real and synthetic in mixed arms), flips/rotations,"
        f" seeds 0-{params['seeds'] - 1}; classes {', '.join(names)}.",
        "Real fractions are contiguous blocks of the training split (Hilbert order of the grid cells, nested);"
        " unpaired maps are the rest of the training split, whose imagery the arm does not see.",
        f"Warning: {DERIVED_WARNING}.",
    ]
    atomic_write(out / "results.json", lambda tmp: tmp.write_text(json.dumps(results, indent=2), encoding="utf-8"))
    report = write_report(out, results, names, notes)
    return {
        "results": str(out / "results.json"),
        "report": str(report),
        "learning_curve": str(out / "learning_curve.png"),
        "segmenter": str(out / "segmenter") if (out / "segmenter" / segmenter.CARD).exists() else "",
        "runs": len(finished),
    }


COMMANDS = (
    Command(
        "augmentation-experiment",
        "Train a small segmenter on real, real + synthetic and synthetic-only data at several real fractions and"
        " seeds; score on the held-out real test split (results.json, report.html).",
        augmentation_experiment,
        (
            Param(
                "dataset", "path", help="training dataset folder (build-dataset); without LABELS it needs a test split"
            ),
            Param("model", "path", help="generator model directory (model_card.json)"),
            Param("real_fractions", "str", "0.1,0.25,1.0", "fractions of the training split, in (0, 1]"),
            Param("synthetic", "str", "same_maps,unpaired_maps", "synthetic sources: same_maps, unpaired_maps"),
            Param("synthetic_dir", "str", "", "already generated <patch_id>_vNN.tif for the training maps"),
            Param("variations", "int", 2, "synthetic images per map", minimum=1, maximum=20),
            Param(
                "seeds", "int", 10, "segmenter seeds per arm and fraction (paired across arms)", minimum=1, maximum=50
            ),
            Param("steps", "int", 300, "segmenter training steps per run (at most, with LABELS)", minimum=1),
            Param("batch_size", "int", 16, "segmenter batch size", minimum=2),
            Param("generation_steps", "int", 20, "DPM-Solver++ steps of the generator", minimum=1, maximum=1000),
            Param("guidance", "float", 0.0, "generator guidance; 0 = the model's default", minimum=0),
            Param("generation_seed", "int", 0, "generator seed", minimum=0),
            Param("device", "str", "auto", "generator device: auto (CUDA if available), cpu, cuda or cuda:N"),
            Param("threads", "int", 0, "torch CPU threads (0 = torch's default)", minimum=0),
            Param("labels", "str", "", "independent polygon labels (vector file); empty = derived-label mode"),
            Param("label_field", "str", "", "field of LABELS with each polygon's class (a palette class or group)"),
            Param("folds", "int", 3, "spatial folds of the polygon clusters", minimum=1, maximum=20),
            Param("guard", "int", 16, "px between a scored polygon and any training patch", minimum=0),
            Param("validate_every", "int", 25, "steps between early-stopping checks", minimum=1),
            Param("patience", "int", 4, "checks without improvement before stopping", minimum=1),
            Param(
                "generator_from",
                "str",
                "scratch",
                "each block's generator: scratch or model (fine-tune MODEL)",
                choices=("scratch", "model"),
            ),
            Param(
                "generator_preset",
                "str",
                "small",
                "pixel preset of generators trained from scratch",
                choices=("tiny", "small"),
            ),
            Param("generator_steps", "int", 400, "training steps of each block's generator", minimum=1),
            Param("report_only", "bool", False, "write results.json and report.html from the finished runs only"),
            Param("output_dir", "path", help="folder for results.json, report.html, runs/, synthetic/, segmenter/"),
        ),
    ),
)
