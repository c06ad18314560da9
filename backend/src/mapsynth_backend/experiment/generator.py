"""The generator of a real block: trained only on that block's real pairs (a sub-dataset of the block's records),
then used to make synthetic images for the block's maps and for held-back maps whose imagery neither it nor the
segmenter sees. One folder per block (named by a hash of its patch ids), so a resumed experiment trains and
generates nothing twice, and folds that share a block share its generator."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from .data import SPLIT_FOLDERS, Pair
from .links import Reporter, UserError
from .synthesis import generate_missing, read_synthetic


def block_key(pairs: list[Pair]) -> str:
    return hashlib.sha256(",".join(sorted(p.patch_id for p in pairs)).encode()).hexdigest()[:12]


def _records(dataset: Path) -> dict[str, dict[str, Any]]:
    """patch_id -> metadata record with absolute file paths, over every split."""
    out = {}
    for split in SPLIT_FOLDERS.values():
        path = dataset / split / "metadata.jsonl"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                for key in ("file_name", "conditioning_image", "nir_image", "multispectral"):
                    if key in record:
                        record[key] = str((dataset / split / record[key]).resolve())
                out[record["patch_id"]] = record
    return out


def block_dataset(dataset: Path, block: list[Pair], folder: Path) -> Path:
    """A dataset folder whose training split is the block alone (files referenced, not copied)."""
    records = _records(dataset)
    (folder / "train").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dataset / "radiometry.json", folder / "radiometry.json")
    lines = [json.dumps({**records[p.patch_id], "split": "train"}) for p in block]
    (folder / "train" / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def train_generator(dataset: Path, block: list[Pair], folder: Path, params: dict[str, Any], reporter: Reporter) -> Path:
    """The model folder of the block's generator, trained (or resumed) if it is not there yet."""
    from ..train.command import COMMANDS as TRAIN

    model = folder / "training" / "model"
    if (model / "model_card.json").is_file():
        return model
    data = block_dataset(dataset, block, folder / "dataset")
    steps = params["generator_steps"]
    base = params["model"] if params["generator_from"] == "model" else ""
    reporter.log(
        f"generator of block {folder.name}: {len(block)} real pairs, {steps} steps"
        + (f", fine-tuning {base}" if base else f", preset {params['generator_preset']} from scratch")
    )
    job = {
        "dataset": str(data),
        "family": "pixel",
        "preset": params["generator_preset"],
        "base_model": base,
        "max_steps": steps,
        "batch_size": 8,
        "learning_rate": 2e-4 if base else 3e-4,
        "lr_scheduler": "cosine",
        "checkpoint_every": max(25, steps // 4),
        "validation_every": 0,
        "validation_samples": 2,
        "validation_steps": 4,
        "seed": 0,
        "device": "cpu",
        "output_dir": str(folder / "training"),
    }
    if (folder / "training" / "checkpoints").is_dir():
        job["resume"] = "latest"
    TRAIN[0].run(TRAIN[0].resolve(job), reporter)
    if not (model / "model_card.json").is_file():
        raise UserError(f"the generator of block {folder.name} was not written to {model}")
    return model


def synthetic_images(
    model: Path,
    pairs: list[Pair],
    folder: Path,
    params: dict[str, Any],
    reporter: Reporter,
    progress: tuple[float, float],
) -> dict[str, list]:
    """VARIATIONS images per map of ``pairs``, generated once into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "device": params["device"],
        "seed": params["generation_seed"],
        "steps": params["generation_steps"],
        "guidance": params["guidance"],
        "batch_size": 8,
    }
    generate_missing(str(model), pairs, params["variations"], folder, settings, reporter, progress)
    bands = json.loads((model / "model_card.json").read_text(encoding="utf-8"))["bands"]
    return read_synthetic(folder, pairs, params["variations"], bands)
