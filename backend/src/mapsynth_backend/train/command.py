"""`train`: fit either model family on a dataset folder with accelerate (the diffusers examples' recipe).

Mixed precision, gradient accumulation, gradient checkpointing (SD), multi-GPU/multi-node through
``accelerate launch``, 8-bit Adam when bitsandbytes is present, optional EMA. Batches and noise are drawn from
generators seeded by (seed, step), so a resumed run continues the exact loss curve of an uninterrupted one.
"""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..data_sources import dataset_sources
from ..models import FAMILIES, family_class, load_card
from ..models.band_scaling import DATA_SCALINGS, measure_band_scaling
from ..models.sd_base import SD15_REVISION
from ..radiometry import ClipRange
from ..runtime.jobs import Command, Param
from ..runtime.protocol import Reporter, UserError
from ..runtime.torch_state import restores_torch_state
from .band_weights import band_weights
from .checkpoints import verify_checkpoint, write_manifest
from .data import AUGMENTATIONS, augmentation, batch_indices, collate, dihedral, load_pair, read_dataset
from .validation import plot_losses, validation_grid

LR_SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine")
KNOBS = (
    "lr_scheduler",
    "lr_warmup_steps",
    "weight_decay",
    "max_grad_norm",
    "ema_decay",
    "snr_gamma",
    "augment",
    "band_weights",
    "data_scaling",
)
MAP_GUIDANCE = 2.0  # recommended map-guidance scale written into cards of models trained with map dropout


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


def _set_modules(model, modules: dict[str, Any]) -> None:
    for name, module in modules.items():
        setattr(model, name, module)


@restores_torch_state  # set_seed seeds the global generators
def train(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import torch
    from accelerate import Accelerator

    family = family_class(params["family"])
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
    sources = dataset_sources(dataset_dir, manifest)  # data_sources, data_licenses: as the dataset card says
    card = {
        "mapsynth_version": __version__,
        "radiometry": radiometry,
        "pixel_size": None,
        "patch_size": size,
        "map_style": (manifest.get("details") or {}).get("map"),
        "prompt": splits["train"][0].get("text", ""),
        "data": {split: len(rows) for split, rows in splits.items()},
        "dataset": str(dataset_dir.resolve()),
        **sources,
        "crs": splits["train"][0].get("crs"),
    }
    if first["map"].shape[0] > 3:  # the dataset's rows carry tone layouts (prepare/tone_layout.py; an experiment)
        if params["family"] != "pixel" or params["distill_from"]:
            raise UserError(f"DATASET: {dataset_dir} has tone layouts, which only a pixel model trains on")
        card["map_channels"] = int(first["map"].shape[0])
    if params["map_dropout"]:
        if not family.supports_map_dropout:
            raise UserError(f"MAP_DROPOUT: the {family.family} family trains no map-free branch; leave it at 0")
        card.update(map_dropout=params["map_dropout"], guidance=MAP_GUIDANCE)
    bounds = splits["train"][0].get("bounds")
    if bounds:
        card["pixel_size"] = (bounds[2] - bounds[0]) / size
    from accelerate.utils import set_seed

    set_seed(params["seed"])  # the initial weights
    if params["distill_from"]:  # a few-step student of a teacher model (train/distill.py)
        from .distill import prepare_distillation

        model, _teacher, loss_fn = prepare_distillation(params, family, radiometry, size, accelerator.device)
        params = {**params, "validation_steps": params["distill_steps"]}
    else:
        options = {k: params[k] for k in ("base_model", "allow_download", "revision")}
        model = family.create(params["preset"], bands, size, card, **options)
        loss_fn = model.loss
    if params["snr_gamma"]:
        if params["family"] != "pixel" or params["distill_from"]:
            raise UserError("SNR_GAMMA: min-SNR weighting is for training a pixel model; leave it at 0")
        model.snr_gamma = params["snr_gamma"]

    def targets():  # the training split's (target, valid) pairs in model units
        pairs = (load_pair(row, "pixel", clip) for row in splits["train"])
        return ((pair["target"].numpy(), pair["valid"].numpy()[0]) for pair in pairs)

    if (params["band_weights"] or "none") != "none":
        if params["family"] != "pixel" or params["distill_from"]:
            raise UserError("BAND_WEIGHTS: per-band loss weights are for training a pixel model; leave it at none")
        model.card["band_loss_weights"] = band_weights(params["band_weights"], bands, targets())
        reporter.log(f"per-band loss weights: {model.card['band_loss_weights']}")
    if params["data_scaling"] != "none":
        if params["family"] != "pixel" or params["distill_from"] or params["base_model"]:
            raise UserError(
                "DATA_SCALING: per-band scaling is for a pixel model trained from scratch (a base model keeps its"
                " own); leave it at none"
            )
        model.card["band_scaling"] = measure_band_scaling(targets(), bands, params["data_scaling"])
        reporter.log(f"per-band data scaling: {model.card['band_scaling']}")
    model.prepare_training(accelerator.device, mixed)
    trainable = [p for module in model.trainable() for p in module.parameters()]
    optimizer_cls = torch.optim.AdamW
    if params["adam8bit"]:
        try:
            import bitsandbytes

            optimizer_cls = bitsandbytes.optim.AdamW8bit
        except ImportError:
            reporter.log("bitsandbytes is not installed: using torch AdamW", "warning")
    betas = getattr(family, "optimizer_betas", (0.9, 0.999))  # pix2pix: Isola et al.'s (0.5, 0.999)
    optimizer = optimizer_cls(trainable, lr=params["learning_rate"], weight_decay=params["weight_decay"], betas=betas)
    from diffusers.optimization import get_scheduler

    # as in diffusers' train_controlnet.py: the prepared scheduler steps once per process at every update
    lr_scheduler = get_scheduler(
        params["lr_scheduler"],
        optimizer=optimizer,
        num_warmup_steps=params["lr_warmup_steps"] * accelerator.num_processes,
        num_training_steps=params["max_steps"] * accelerator.num_processes,
    )
    names = list(model.modules())
    prepared = accelerator.prepare(*model.modules().values(), optimizer, lr_scheduler)
    _set_modules(model, dict(zip(names, prepared[:-2], strict=True)))
    optimizer, lr_scheduler = prepared[-2:]
    ema = None
    if params["ema"]:
        from diffusers.training_utils import EMAModel

        ema = EMAModel(trainable, decay=params["ema_decay"])
        accelerator.register_for_checkpointing(ema)
    scheduler = model.train_scheduler()
    checkpoints = out / "checkpoints"
    step = 0
    if params["resume"]:
        resume = latest_checkpoint(checkpoints) if params["resume"] == "latest" else Path(params["resume"])
        if resume is None or not resume.is_dir():
            raise UserError(f"RESUME: no checkpoint found ({params['resume']}) in {checkpoints}")
        if not re.fullmatch(r"checkpoint-\d+", resume.name):
            raise UserError(f"RESUME: {resume} is not a checkpoint folder (checkpoint-N, written by train-model)")
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
    # the last step's loss; a run resumed at MAX_STEPS trains nothing and reports the last loss of its loss.csv
    value = float(kept[-1]["loss"]) if kept else None
    while step < params["max_steps"]:
        reporter.check_cancel()
        for micro in range(params["gradient_accumulation"]):
            indices = batch_indices(
                len(rows), params["batch_size"] * world, step * params["gradient_accumulation"] + micro, params["seed"]
            )[rank::world]
            micro_step = step * params["gradient_accumulation"] + micro
            pairs = [load_pair(rows[i], params["family"], clip) for i in indices]
            pairs = [
                dihedral(pair, augmentation(params["augment"], params["seed"], micro_step, rank + n * world))
                for n, pair in enumerate(pairs)
            ]
            batch = collate(pairs, accelerator.device)
            generator = torch.Generator().manual_seed(params["seed"] * 1_000_003 + step * 101 + micro * 7 + rank)
            with accelerator.accumulate(*model.trainable()):
                with accelerator.autocast():
                    loss = loss_fn(batch, scheduler, generator)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(trainable, params["max_grad_norm"])
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)
        step += 1
        if ema is not None:
            ema.step(trainable)
        value = float(accelerator.gather(loss.detach()[None]).mean())
        lr = lr_scheduler.get_last_lr()[0]
        if not math.isfinite(value):
            raise UserError(f"training diverged at step {step} (loss {value}); lower LEARNING_RATE")
        if accelerator.is_main_process:
            with open(loss_csv, "a", newline="") as handle:
                csv.writer(handle).writerow([step, f"{value:.6g}", lr])
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
            **sources,  # also a distilled student's: the data it was trained on, not its teacher's
            steps=step,
            family=params["family"],
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            training={
                k: params[k]
                for k in ("batch_size", "learning_rate", "seed", "gradient_accumulation", "mixed_precision", "ema")
                + KNOBS
            },
        )
        staging = out / ".model.partial"
        shutil.rmtree(staging, ignore_errors=True)
        model.save(staging)
        shutil.rmtree(out / "model", ignore_errors=True)
        os.replace(staging, out / "model")  # a killed run never leaves a model/ that looks complete
        _validate(model, accelerator, validation_rows, clip, params, out / "validation" / "final.png")
        plot_losses(loss_csv, out / "loss.png")
        load_card(out / "model")
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
        "train-model",
        "Train a model family on a dataset folder (checkpoints, resume, validation grids, loss CSV and plot).",
        train,
        (
            Param("dataset", "path", help="dataset folder from build_training_dataset"),
            Param("family", "str", "pixel", "model family", choices=tuple(FAMILIES)),
            Param(
                "preset",
                "str",
                "small",
                "architecture preset (pixel: tiny, small, medium; pix2pix: tiny, small; controlnet-sd15: tiny, sd15)",
                choices=("tiny", "small", "sd15", "medium"),
            ),
            Param("base_model", "str", "", "controlnet-sd15: SD 1.5 folder or hub id; pixel: a model to fine-tune"),
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
            Param("max_steps", "int", 2000, "optimizer steps", minimum=1),
            Param("batch_size", "int", 8, "samples per process and step", minimum=1),
            Param("learning_rate", "float", 1e-4, "AdamW learning rate", minimum=0),
            Param("gradient_accumulation", "int", 1, "micro-batches per step", minimum=1),
            Param("mixed_precision", "str", "auto", "auto = fp16 on CUDA", choices=("auto", "no", "fp16", "bf16")),
            Param("adam8bit", "bool", False, "8-bit AdamW when bitsandbytes is installed"),
            Param("lr_scheduler", "str", "constant", "learning-rate schedule (after the warmup)", choices=LR_SCHEDULES),
            Param("lr_warmup_steps", "int", 0, "steps of linear learning-rate warmup", minimum=0),
            Param("weight_decay", "float", 1e-2, "AdamW weight decay", minimum=0),
            Param("max_grad_norm", "float", 1.0, "gradient clipping norm", minimum=0),
            Param("ema", "bool", False, "keep an exponential moving average of the weights"),
            Param("ema_decay", "float", 0.999, "decay of the moving average", minimum=0, maximum=1),
            Param("snr_gamma", "float", 0.0, "pixel: min-SNR loss weighting gamma (5 is usual; 0 = off)", minimum=0),
            Param(
                "band_weights",
                "str",
                "none",
                "pixel: per-band loss weights: none, gradient (inverse of each band's pixel-to-pixel variation in the"
                " training split, so dark bands' detail counts as much as NIR's) or explicit B02:1.5,B08:0.5",
            ),
            Param(
                "data_scaling",
                "str",
                "none",
                "pixel, from scratch: diffuse each band scaled to a spread of 0.5 around its training-split mean (std)"
                " instead of its clip range's [-1, 1] (none); whiten: the bands together, decorrelated to a spread of"
                " 0.5 each (an experiment: make bench-realism-whiten)",
                choices=DATA_SCALINGS,
            ),
            Param(
                "augment",
                "str",
                "none",
                "random flips and quarter turns of each pair (d4) or none",
                choices=AUGMENTATIONS,
            ),
            Param("seed", "int", 0, "seed of batches and noise", minimum=0),
            Param("checkpoint_every", "int", 500, "steps between checkpoints", minimum=1),
            Param("checkpoints_total_limit", "int", 3, "checkpoints kept", minimum=1),
            Param("validation_every", "int", 500, "steps between validation grids (0 = only at the end)", minimum=0),
            Param("validation_samples", "int", 4, "samples in a validation grid", minimum=1),
            Param("validation_steps", "int", 20, "sampling steps for validation", minimum=1),
            Param("resume", "str", "", "'latest' or a checkpoint folder"),
            Param("device", "str", "auto", "auto or cpu", choices=("auto", "cpu")),
            Param("distill_from", "str", "", "teacher model folder: train a few-step student of it (pixel)"),
            Param("distill_steps", "int", 5, "distillation: the student's sampling steps", minimum=1, maximum=100),
            Param("distill_substeps", "int", 2, "distillation: teacher DDIM steps per student step", minimum=1),
            Param("distill_guidance", "float", 0.0, "distillation: guidance folded in (0 = the teacher's)", minimum=0),
            Param("distill_class_guidance", "str", "", "distillation: per-class guidance folded in ('water=1.75')"),
            Param("distill_class_guidance_margin", "int", 2, "distillation: its margin in px", minimum=0, maximum=64),
            Param("output_dir", "path", help="training folder (checkpoints, validation, loss, model)"),
        ),
    ),
)
