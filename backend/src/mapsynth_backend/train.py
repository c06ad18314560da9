"""`train`: fit either model family on a dataset folder with accelerate (the diffusers examples' recipe).

Mixed precision, gradient accumulation, gradient checkpointing (SD), multi-GPU/multi-node through
``accelerate launch``, 8-bit Adam when bitsandbytes is present, optional EMA. Batches and noise are drawn from
generators seeded by (seed, step), so a resumed run continues the exact loss curve of an uninterrupted one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .checkpoints import verify_checkpoint, write_manifest
from .controlnet import SD15_REVISION
from .jobs import Command, Param
from .models import DATA_LICENSES, FAMILIES, PixelModel, read_card
from .protocol import Reporter, UserError
from .radiometry import ClipRange, decode_reflectance
from .sampling import item_noise, map_to_model, stack_noise, to_reflectance

SPLIT_FOLDERS = ("train", "validation", "test")
MAP_GUIDANCE = 2.0  # recommended map-guidance scale written into cards of models trained with map dropout


def read_dataset(folder: Path) -> tuple[dict[str, list[dict]], dict[str, Any], dict[str, Any]]:
    try:
        radiometry = json.loads((folder / "radiometry.json").read_text())
    except (OSError, ValueError) as exc:
        raise UserError(
            f"DATASET: {folder} has no readable radiometry.json; build it with build_training_dataset"
        ) from exc
    splits = {}
    for split in SPLIT_FOLDERS:
        path = folder / split / "metadata.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
        splits[split] = [{**row, "root": str(folder / split)} for row in rows]
    if not splits["train"]:
        raise UserError(f"DATASET: {folder}/train/metadata.jsonl lists no training pairs")
    manifest_path = folder / "mapsynth_output.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return splits, radiometry, manifest


def load_pair(row: dict, family: str, clip: ClipRange) -> dict[str, Any]:
    import cv2
    import rasterio
    import torch

    root = Path(row["root"])

    def png(name: str) -> np.ndarray:
        image = cv2.imread(str(root / row[name]), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise UserError(f"DATASET: cannot read {root / row[name]}")
        return image[None] if image.ndim == 2 else image[:, :, ::-1].transpose(2, 0, 1)

    item = {"map": map_to_model(png("conditioning_image")), "text": row.get("text", "")}
    if family == "pixel":
        with rasterio.open(root / row["multispectral"]) as src:
            reflectance = decode_reflectance(src.read())
        unit, _ = clip.forward(reflectance)
        valid = np.isfinite(unit).all(axis=0)
        item["target"] = torch.from_numpy((np.nan_to_num(unit) * 2 - 1).astype(np.float32))
        item["valid"] = torch.from_numpy(valid[None].astype(np.float32))
    else:
        item["rgb"] = torch.from_numpy(png("file_name").astype(np.float32) / 127.5 - 1)
        item["nir"] = torch.from_numpy(png("nir_image").astype(np.float32) / 127.5 - 1)
    return item


def collate(items: list[dict], device) -> dict[str, Any]:
    import torch

    return {
        key: [i[key] for i in items] if key == "text" else torch.stack([i[key] for i in items]).to(device)
        for key in items[0]
    }


def batch_indices(n: int, batch: int, step: int, seed: int) -> list[int]:
    """The samples of global step ``step``: epochs are seeded permutations, so steps are reproducible."""
    start = step * batch
    out = []
    while len(out) < batch:
        epoch, offset = divmod(start + len(out), n)
        order = np.random.default_rng([seed, epoch]).permutation(n)
        out.extend(order[offset : offset + batch - len(out)].tolist())
    return out


def latest_checkpoint(folder: Path) -> Path | None:
    found = sorted(
        (int(m.group(1)), p) for p in folder.glob("checkpoint-*") if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))
    )
    return found[-1][1] if found else None


def save_checkpoint(accelerator, checkpoints: Path, step: int) -> None:
    """Every process saves into one staging folder; it becomes checkpoint-N only when all are done."""
    staging, final = checkpoints / f".checkpoint-{step}.partial", checkpoints / f"checkpoint-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_manifest(staging)  # every process has saved: hash and sign the whole folder, then publish it
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
    accelerator.wait_for_everyone()


def build_model(params: dict, bands: list[str], size: int, card: dict):
    if params["family"] == "pixel":
        return PixelModel.create(params["preset"], bands, size, card)
    from .controlnet import ControlNetPair

    return ControlNetPair.create(
        params["preset"], bands, size, card, params["base_model"], params["allow_download"], params["revision"]
    )


def validation_grid(model, rows: list[dict], clip: ClipRange, steps: int, path: Path, device) -> None:
    """One row per sample: map | real RGB | generated RGB | real NIR false colour | generated false colour."""
    import cv2
    import rasterio

    items = [load_pair(row, "pixel" if model.family == "pixel" else "controlnet-sd15", clip) for row in rows]
    size = items[0]["map"].shape[-1]
    maps = collate(items, device)["map"]
    noises = stack_noise([item_noise(model, 0, row["patch_id"], 0, size) for row in rows], device)
    generated = to_reflectance(model, model.sample(maps, noises, steps))
    index = {b: i for i, b in enumerate(model.card["bands"])}

    def view(reflectance: np.ndarray, bands: tuple[str, ...]) -> np.ndarray:
        channels = np.stack([reflectance[index[b]] for b in bands])
        sub = ClipRange(clip.low[[index[b] for b in bands]], clip.high[[index[b] for b in bands]])
        return sub.to_uint8(channels)[0].transpose(1, 2, 0)

    tiles = []
    for row, item, fake in zip(rows, items, generated, strict=True):
        with rasterio.open(Path(row["root"]) / row["multispectral"]) as src:
            real = decode_reflectance(src.read())
        map_rgb = ((item["map"].numpy() + 1) * 127.5).round().astype(np.uint8).transpose(1, 2, 0)
        tiles.append(
            np.concatenate(
                [
                    map_rgb,
                    view(real, ("B04", "B03", "B02")),
                    view(fake, ("B04", "B03", "B02")),
                    view(real, ("B08", "B04", "B03")),
                    view(fake, ("B08", "B04", "B03")),
                ],
                axis=1,
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(tiles, axis=0)[:, :, ::-1])


def _set_modules(model, modules: dict[str, Any]) -> None:
    for name, module in modules.items():
        setattr(model, name, module)


def _plot_losses(csv_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    axes.plot([int(r["step"]) for r in rows], [float(r["loss"]) for r in rows], linewidth=0.8)
    axes.set(xlabel="step", ylabel="loss", yscale="log", title="MapSynth training loss")
    figure.tight_layout()
    figure.savefig(png_path)
    plt.close(figure)


def train(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import torch
    from accelerate import Accelerator

    if params["family"] not in FAMILIES:
        raise UserError(f"FAMILY: {params['family']!r} is not one of {', '.join(FAMILIES)}")
    dataset_dir, out = Path(params["dataset"]), Path(params["output_dir"])
    splits, radiometry, manifest = read_dataset(dataset_dir)
    bands = radiometry["bands"]
    clip = ClipRange(
        np.array([radiometry["clip"][b][0] for b in bands]), np.array([radiometry["clip"][b][1] for b in bands])
    )
    first = load_pair(splits["train"][0], params["family"], clip)
    size = first["map"].shape[-1]
    mixed = params["mixed_precision"]
    if mixed == "auto":
        mixed = "fp16" if torch.cuda.is_available() else "no"
    accelerator = Accelerator(
        mixed_precision=mixed,
        gradient_accumulation_steps=params["gradient_accumulation"],
        cpu=params["device"] == "cpu",
    )
    card = {
        "mapsynth_version": __version__,
        "radiometry": radiometry,
        "pixel_size": None,
        "patch_size": size,
        "map_style": (manifest.get("details") or {}).get("map"),
        "prompt": splits["train"][0].get("text", ""),
        "data": {split: len(rows) for split, rows in splits.items()},
        "dataset": str(dataset_dir.resolve()),
        "data_licenses": DATA_LICENSES,
        "crs": splits["train"][0].get("crs"),
    }
    if params["map_dropout"]:
        if params["family"] != "pixel":
            raise UserError("MAP_DROPOUT: only the pixel family trains a map-free branch (controlnet-sd15 uses text)")
        card.update(map_dropout=params["map_dropout"], guidance=MAP_GUIDANCE)
    bounds = splits["train"][0].get("bounds")
    if bounds:
        card["pixel_size"] = (bounds[2] - bounds[0]) / size
    from accelerate.utils import set_seed

    set_seed(params["seed"])  # the initial weights
    model = build_model(params, bands, size, card)
    if params["family"] != "pixel":
        for module in model.trainable():
            module.enable_gradient_checkpointing()
        model.base["unet"].to(
            accelerator.device,
            dtype=torch.float16 if mixed == "fp16" else torch.bfloat16 if mixed == "bf16" else torch.float32,
        )
        for name in ("vae", "text_encoder"):
            model.base[name].to(accelerator.device)
    trainable = [p for module in model.trainable() for p in module.parameters()]
    optimizer_cls = torch.optim.AdamW
    if params["adam8bit"]:
        try:
            import bitsandbytes

            optimizer_cls = bitsandbytes.optim.AdamW8bit
        except ImportError:
            reporter.log("bitsandbytes is not installed: using torch AdamW", "warning")
    optimizer = optimizer_cls(trainable, lr=params["learning_rate"], weight_decay=1e-2)
    names = list(model.modules())
    prepared = accelerator.prepare(*model.modules().values(), optimizer)
    _set_modules(model, dict(zip(names, prepared[:-1], strict=True)))
    optimizer = prepared[-1]
    ema = None
    if params["ema"]:
        from diffusers.training_utils import EMAModel

        ema = EMAModel(trainable, decay=0.999)
        accelerator.register_for_checkpointing(ema)
    scheduler = model.train_scheduler()
    checkpoints = out / "checkpoints"
    step = 0
    if params["resume"]:
        resume = latest_checkpoint(checkpoints) if params["resume"] == "latest" else Path(params["resume"])
        if resume is None or not resume.is_dir():
            raise UserError(f"RESUME: no checkpoint found ({params['resume']}) in {checkpoints}")
        verify_checkpoint(resume)
        accelerator.load_state(str(resume))
        step = int(resume.name.split("-")[1])
        reporter.log(f"resumed from {resume} at step {step}")
    out.mkdir(parents=True, exist_ok=True)
    loss_csv = out / "loss.csv"
    kept = []
    if step and loss_csv.exists():
        with open(loss_csv) as handle:
            # a run killed mid-line leaves a torn last row: only complete rows up to the checkpoint stay
            kept = [r for r in csv.DictReader(handle) if r.get("lr") and r["step"].isdigit() and int(r["step"]) <= step]
    with open(loss_csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["step", "loss", "lr"])
        writer.writeheader()
        writer.writerows(kept)
    rows, world, rank = splits["train"], accelerator.num_processes, accelerator.process_index
    validation_rows = (splits["validation"] or splits["train"])[: params["validation_samples"]]
    for module in model.trainable():
        module.train()
    while step < params["max_steps"]:
        reporter.check_cancel()
        for micro in range(params["gradient_accumulation"]):
            indices = batch_indices(
                len(rows), params["batch_size"] * world, step * params["gradient_accumulation"] + micro, params["seed"]
            )[rank::world]
            batch = collate([load_pair(rows[i], params["family"], clip) for i in indices], accelerator.device)
            generator = torch.Generator().manual_seed(params["seed"] * 1_000_003 + step * 101 + micro * 7 + rank)
            with accelerator.accumulate(*model.trainable()):
                with accelerator.autocast():
                    loss = model.loss(batch, scheduler, generator)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        step += 1
        if ema is not None:
            ema.step(trainable)
        value = float(accelerator.gather(loss.detach()[None]).mean())
        if not math.isfinite(value):
            raise UserError(f"training diverged at step {step} (loss {value}); lower LEARNING_RATE")
        if accelerator.is_main_process:
            with open(loss_csv, "a", newline="") as handle:
                csv.writer(handle).writerow([step, f"{value:.6g}", params["learning_rate"]])
            reporter.metric("loss", value, step)
            reporter.progress(step / params["max_steps"], f"step {step}/{params['max_steps']}", "train")
        if step % params["checkpoint_every"] == 0 or step == params["max_steps"]:
            save_checkpoint(accelerator, checkpoints, step)
            if accelerator.is_main_process:
                for old in sorted(checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[
                    : -params["checkpoints_total_limit"]
                ]:
                    shutil.rmtree(old, ignore_errors=True)
        if accelerator.is_main_process and params["validation_every"] and step % params["validation_every"] == 0:
            _validate(model, accelerator, validation_rows, clip, params, out / "validation" / f"step-{step:06d}.png")
    accelerator.wait_for_everyone()
    result = {"output_dir": str(out), "steps": step}
    if accelerator.is_main_process:
        _set_modules(model, {n: accelerator.unwrap_model(m) for n, m in model.modules().items()})
        if ema is not None:
            ema.copy_to(trainable)
        model.card.update(
            steps=step,
            family=params["family"],
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            training={
                k: params[k]
                for k in ("batch_size", "learning_rate", "seed", "gradient_accumulation", "mixed_precision", "ema")
            },
        )
        staging = out / ".model.partial"
        shutil.rmtree(staging, ignore_errors=True)
        model.save(staging)
        shutil.rmtree(out / "model", ignore_errors=True)
        os.replace(staging, out / "model")  # a killed run never leaves a model/ that looks complete
        _validate(model, accelerator, validation_rows, clip, params, out / "validation" / "final.png")
        _plot_losses(loss_csv, out / "loss.png")
        read_card(out / "model")
        result.update(model_dir=str(out / "model"), final_loss=value)
    reporter.progress(1.0, "done", "train")
    return result


def _validate(model, accelerator, rows, clip, params, path: Path) -> None:
    if not rows:
        return
    modules = model.modules()
    _set_modules(model, {n: accelerator.unwrap_model(m).eval() for n, m in modules.items()})
    try:
        validation_grid(model, rows, clip, params["validation_steps"], path, accelerator.device)
    finally:
        _set_modules(model, {n: m.train() for n, m in modules.items()})


COMMANDS = (
    Command(
        "train",
        "Train a model family on a dataset folder (checkpoints, resume, validation grids, loss CSV and plot).",
        train,
        (
            Param("dataset", "path", help="dataset folder from build_training_dataset"),
            Param("family", "str", "pixel", "model family", choices=FAMILIES),
            Param(
                "preset",
                "str",
                "tiny",
                "architecture preset (pixel: tiny, small; controlnet-sd15: tiny, sd15)",
                choices=("tiny", "small", "sd15"),
            ),
            Param("base_model", "str", "", "controlnet-sd15: local diffusers folder or hub id of SD 1.5"),
            Param("allow_download", "bool", False, "allow downloading BASE_MODEL from the Hugging Face hub"),
            Param("revision", "str", SD15_REVISION, "hub commit (hex) a downloaded BASE_MODEL is pinned to"),
            Param(
                "map_dropout",
                "float",
                0.0,
                "pixel: share of samples trained without their map, enabling map guidance at generation",
                minimum=0,
                maximum=0.5,
            ),
            Param("max_steps", "int", 1000, "optimizer steps", minimum=1),
            Param("batch_size", "int", 8, "samples per process and step", minimum=1),
            Param("learning_rate", "float", 1e-4, "AdamW learning rate", minimum=0),
            Param("gradient_accumulation", "int", 1, "micro-batches per step", minimum=1),
            Param("mixed_precision", "str", "auto", "auto = fp16 on CUDA", choices=("auto", "no", "fp16", "bf16")),
            Param("adam8bit", "bool", False, "8-bit AdamW when bitsandbytes is installed"),
            Param("ema", "bool", False, "keep an exponential moving average of the weights"),
            Param("seed", "int", 0, "seed of batches and noise", minimum=0),
            Param("checkpoint_every", "int", 500, "steps between checkpoints", minimum=1),
            Param("checkpoints_total_limit", "int", 3, "checkpoints kept", minimum=1),
            Param("validation_every", "int", 500, "steps between validation grids (0 = only at the end)", minimum=0),
            Param("validation_samples", "int", 4, "samples in a validation grid", minimum=1),
            Param("validation_steps", "int", 20, "sampling steps for validation", minimum=1),
            Param("resume", "str", "", "'latest' or a checkpoint folder"),
            Param("device", "str", "auto", "auto or cpu", choices=("auto", "cpu")),
            Param("output_dir", "path", help="training folder (checkpoints, validation, loss, model)"),
        ),
    ),
)
