"""Few-step sampling of the controlnet-sd15 family with a latent-consistency LoRA (LCM-LoRA, TCD-LoRA) given as
a local folder: the LoRA is fused into the frozen SD 1.5 UNet and the scheduler becomes diffusers' LCMScheduler
(or TCDScheduler when the folder's scheduler_config.json names it), 4 steps without classifier-free guidance.

The LoRA file is read by diffusers' LoRA loader (kohya or diffusers layout, safetensors only) and fused by hand,
so no PEFT install is needed. The noise the LCM / TCD steps inject is drawn per item from a generator seeded by
that item's own initial noise: outputs stay independent of batch size and order, like the rest of generation.
"""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path
from typing import Any

from ..runtime.protocol import UserError
from .card import PICKLE_SUFFIXES

SCHEDULERS = ("LCMScheduler", "TCDScheduler")
DEFAULT_STEPS = 4


def lora_file(folder: Path) -> Path:
    """The one LoRA safetensors of ``folder``; pickle weights are refused like everywhere else."""
    if not folder.is_dir():
        raise UserError(f"CONSISTENCY_LORA: not a folder: {folder}")
    weights = sorted(folder.glob("*.safetensors"))
    if len(weights) != 1:
        pickles = [p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
        hint = f" (pickle weights {', '.join(pickles)} are not loaded)" if pickles else ""
        raise UserError(
            f"CONSISTENCY_LORA: {folder} must hold exactly one LoRA .safetensors file, found {len(weights)}{hint}"
        )
    return weights[0]


def scheduler_name(folder: Path) -> str:
    """LCMScheduler unless the folder's scheduler_config.json names TCDScheduler."""
    config = folder / "scheduler_config.json"
    if not config.exists():
        return "LCMScheduler"
    name = json.loads(config.read_text(encoding="utf-8")).get("_class_name", "LCMScheduler")
    if name not in SCHEDULERS:
        raise UserError(f"CONSISTENCY_LORA: {config} names {name}; MapSynth samples with {' or '.join(SCHEDULERS)}")
    return name


def fuse_lora(unet, folder: Path) -> int:
    """Add scale * up @ down into every targeted UNet weight; returns the number of layers changed."""
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_unet_state_dict_to_peft

    path = lora_file(folder)
    state, alphas = StableDiffusionPipeline.lora_state_dict(str(folder), weight_name=path.name)
    state = convert_unet_state_dict_to_peft(
        {k.removeprefix("unet."): v for k, v in state.items() if k.startswith("unet.")}
    )
    alphas = {k.removeprefix("unet."): v for k, v in (alphas or {}).items()}
    modules = dict(unet.named_modules())
    fused = 0
    with torch.no_grad():
        for key in [k for k in state if k.endswith(".lora_A.weight")]:
            name = key.removesuffix(".lora_A.weight")
            if name not in modules or f"{name}.lora_B.weight" not in state:
                raise UserError(f"CONSISTENCY_LORA: {path.name} targets {name}, which this base UNet lacks")
            down, up = state[key].float(), state[f"{name}.lora_B.weight"].float()
            scale = float(alphas.get(f"{name}.alpha", down.shape[0])) / down.shape[0]
            weight = modules[name].weight
            delta = (up.flatten(1) @ down.flatten(1)).reshape(weight.shape)
            weight.add_((scale * delta).to(weight.device, weight.dtype))
            fused += 1
    if not fused:
        raise UserError(f"CONSISTENCY_LORA: {path.name} holds no UNet LoRA layers")
    return fused


def item_generators(noise, device) -> Any:
    """One generator per item (or one for a canvas), seeded by the item's initial noise."""
    import torch

    def generator(tensor):
        digest = hashlib.sha256(tensor.detach().float().cpu().numpy().tobytes()).digest()
        return torch.Generator(device).manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))

    return [generator(item) for item in noise] if noise.ndim == 4 else generator(noise)


def consistency_sampler(name: str, scheduler_config: dict[str, Any], steps: int, noise):
    """The LCM / TCD scheduler on the base model's noise schedule, its injected noise tied to ``noise``."""
    import diffusers

    scheduler = getattr(diffusers, name).from_config(scheduler_config)
    scheduler.set_timesteps(steps)
    scheduler.step = partial(scheduler.step, generator=item_generators(noise, noise.device.type))
    return scheduler
